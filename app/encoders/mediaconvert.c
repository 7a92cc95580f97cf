/* AWS Elemental MediaConvert as an encoder: CreateJob, GetJob (the
 * reconciler), CancelJob and ListJobs (a retry's look before it resends) on
 * the account's endpoint (MEDIAGATE_MEDIACONVERT_ENDPOINT), signed SigV4
 * for service "mediaconvert". The API is rest-json with camelCase names, as
 * AWS's model of it (botocore's data/mediaconvert/2017-08-29) defines. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "encoders/encoder.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "notify/notify.h"
#include "providers/aws.h"
#include "providers/sigv4.h"
#include "request.h"

#define MC_API "/2017-08-29/jobs"
#define ANSWER_MAX (1 << 20) /* ListJobs echoes 20 jobs' settings */
#define LIST_PAGES 10        /* newest first, 20 a page: how far a retry looks */
#define MAX_RUNNING_S (48 * 3600.0)

/* The endpoint, role and keys, and a place for the outputs: the
 * destination, or the storage bucket (check-config refuses the rest). */
static bool configured(const config *cfg)
{
    return *cfg->mediaconvert_endpoint && *cfg->mediaconvert_role && *cfg->aws_access_key_id &&
           *cfg->aws_secret_access_key &&
           (*cfg->mediaconvert_destination || (cfg->storage && strcmp(cfg->storage, "s3") == 0));
}

/* AAC bitrates MediaConvert takes (AacSettings.Bitrate), in kb/s. */
static const int aac_kbps[] = {6,   8,   10,  12,  14,  16,  20,  24,  28,  32,  40,
                               48,  56,  64,  80,  96,  112, 128, 160, 192, 224, 256,
                               288, 320, 384, 448, 512, 576, 640, 768, 896, 1024};

static int mc_check(const config *cfg, const profile *p, char *err, size_t errcap)
{
    (void)cfg;
    for (int i = 0; i < p->nrend; i++) {
        const rendition *r = &p->rend[i];
        bool h264 = strcmp(r->codec, "h264") == 0, aac_ok = r->audio_kbps <= 0;
        if (!h264 && strcmp(r->codec, "h265") != 0) {
            snprintf(err, errcap, "rendition %d: MediaConvert encodes h264 or h265, not %s", i + 1,
                     r->codec);
            return -1;
        }
        if ((r->width && (r->width < 32 || r->width > 8192)) ||
            (r->height && (r->height < 32 || r->height > 8192))) {
            snprintf(err, errcap,
                     "rendition %d: MediaConvert takes widths and heights of 32 to "
                     "8192 pixels",
                     i + 1);
            return -1;
        }
        /* H.264 level 5.2, MediaConvert's highest, ends at 4096x2304. */
        if (h264 && (r->width > 4096 || r->height > 2304)) {
            snprintf(err, errcap,
                     "rendition %d: h264 goes up to 4096x2304 at MediaConvert; use "
                     "h265 for more",
                     i + 1);
            return -1;
        }
        for (size_t k = 0; !aac_ok && k < sizeof aac_kbps / sizeof aac_kbps[0]; k++)
            aac_ok = aac_kbps[k] == r->audio_kbps;
        if (!aac_ok) {
            snprintf(err, errcap,
                     "rendition %d: MediaConvert's AAC takes 6, 8, ... 64, 80, 96, "
                     "112, 128, 160, 192, 224, 256, 288, 320, 384 ... 1024 kb/s, "
                     "not %d",
                     i + 1, r->audio_kbps);
            return -1;
        }
    }
    return 0;
}

/* The job's output directory, "s3://bucket/prefix/<job id>/" (the
 * job's destination: MEDIAGATE_MEDIACONVERT_DESTINATION's, else the storage
 * bucket's), into out. Returns 0, or -1 when there is none or it is not an
 * s3:// URL, the only place MediaConvert writes to. */
static int destination(const encode_job *job, char *out, size_t cap)
{
    const char *d = job->destination;
    size_t l = d ? strlen(d) : 0;
    int n = snprintf(out, cap, "%s%s", d ? d : "", l && d[l - 1] != '/' ? "/" : "");
    return l && n > 0 && (size_t)n < cap && strncmp(out, "s3://", 5) == 0 ? 0 : -1;
}

/* The maximum bitrate (b/s) QVBR gets for r: the profile's, else one fit
 * for its height. */
static long long max_bitrate(const rendition *r)
{
    int h = r->height ? r->height : r->width * 9 / 16;
    if (r->video_kbps > 0)
        return r->video_kbps * 1000LL;
    return h <= 360    ? 1200000
           : h <= 480  ? 2500000
           : h <= 720  ? 5000000
           : h <= 1080 ? 8000000
                       : 20000000;
}

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

/* One output of rendition r in container ("M3U8" or "MP4"), its file
 * names set apart by modifier: a new reference. */
static json_object *output(const rendition *r, const char *container, const char *modifier)
{
    json_object *o = json_object_new_object(), *cs = json_object_new_object(),
                *vd = json_object_new_object(), *codec = json_object_new_object(),
                *set = json_object_new_object(), *qvbr = json_object_new_object();
    bool h265 = strcmp(r->codec, "h265") == 0;
    if (modifier)
        add(o, "nameModifier", str(modifier));
    if (strcmp(container, "MP4") == 0)
        add(o, "extension", str("mp4"));
    add(cs, "container", str(container));
    add(o, "containerSettings", cs);
    if (r->width)
        add(vd, "width", json_object_new_int(r->width));
    if (r->height)
        add(vd, "height", json_object_new_int(r->height));
    add(qvbr, "qvbrQualityLevel", json_object_new_int(7));
    add(set, "rateControlMode", str("QVBR"));
    add(set, "maxBitrate", json_object_new_int64(max_bitrate(r)));
    add(set, "qvbrSettings", qvbr);
    add(set, "sceneChangeDetect", str("TRANSITION_DETECTION"));
    add(codec, "codec", str(h265 ? "H_265" : "H_264"));
    add(codec, h265 ? "h265Settings" : "h264Settings", set);
    add(vd, "codecSettings", codec);
    add(o, "videoDescription", vd);
    if (r->audio_kbps >= 0) {
        json_object *ads = json_object_new_array(), *ad = json_object_new_object(),
                    *ac = json_object_new_object(), *aac = json_object_new_object();
        add(aac, "bitrate", json_object_new_int((r->audio_kbps ? r->audio_kbps : 96) * 1000));
        add(aac, "codingMode", str("CODING_MODE_2_0"));
        add(aac, "sampleRate", json_object_new_int(48000));
        add(ac, "codec", str("AAC"));
        add(ac, "aacSettings", aac);
        add(ad, "audioSourceName", str("Audio Selector 1"));
        add(ad, "codecSettings", ac);
        json_object_array_add(ads, ad);
        add(o, "audioDescriptions", ads);
    }
    return o;
}

/* One output group of type ("HLS_GROUP_SETTINGS" or
 * "FILE_GROUP_SETTINGS") writing to dest + base: a new reference. */
static json_object *group(const char *name, const char *type, const char *dest, const char *base,
                          json_object *outputs)
{
    json_object *g = json_object_new_object(), *ogs = json_object_new_object(),
                *s = json_object_new_object();
    char where[1200];
    snprintf(where, sizeof where, "%s%s", dest, base);
    add(s, "destination", str(where));
    add(ogs, "type", str(type));
    if (strcmp(type, "HLS_GROUP_SETTINGS") == 0) {
        add(s, "segmentLength", json_object_new_int(6));
        add(s, "minSegmentLength", json_object_new_int(0));
        add(s, "directoryStructure", str("SINGLE_DIRECTORY"));
        add(s, "manifestDurationFormat", str("INTEGER"));
        add(ogs, "hlsGroupSettings", s);
    } else
        add(ogs, "fileGroupSettings", s);
    add(g, "name", str(name));
    add(g, "outputGroupSettings", ogs);
    add(g, "outputs", outputs);
    return g;
}

/* The CreateJob body for job, its outputs under dest: a new reference.
 * HLS: master.m3u8 and one rendition each (master_<height>p.m3u8 ...);
 * MP4: the tallest rendition as video.mp4. */
static json_object *create_body(const config *cfg, const encode_job *job, const char *dest)
{
    const profile *p = job->profile;
    json_object *b = json_object_new_object(), *settings = json_object_new_object(),
                *inputs = json_object_new_array(), *in = json_object_new_object(),
                *sels = json_object_new_object(), *sel = json_object_new_object(),
                *groups = json_object_new_array(), *meta = json_object_new_object();
    add(sel, "defaultSelection", str("DEFAULT"));
    add(sels, "Audio Selector 1", sel);
    add(in, "fileInput", str(job->input_url));
    add(in, "audioSelectors", sels);
    add(in, "timecodeSource", str("ZEROBASED"));
    json_object_array_add(inputs, in);
    add(settings, "inputs", inputs);
    if (p->hls) {
        json_object *outs = json_object_new_array();
        char mods[PROFILE_MAX_RENDITIONS][32];
        for (int i = 0; i < p->nrend; i++) {
            const rendition *r = &p->rend[i];
            if (r->height)
                snprintf(mods[i], sizeof mods[i], "_%dp", r->height);
            else
                snprintf(mods[i], sizeof mods[i], "_w%d", r->width);
            for (int k = 0; k < i; k++)
                if (strcmp(mods[k], mods[i]) == 0) {
                    size_t l = strlen(mods[i]);
                    snprintf(mods[i] + l, sizeof mods[i] - l, "_%d", i + 1);
                    break;
                }
            json_object_array_add(outs, output(r, "M3U8", mods[i]));
        }
        json_object_array_add(groups,
                              group("Apple HLS", "HLS_GROUP_SETTINGS", dest, "master", outs));
    }
    if (p->mp4) {
        json_object *outs = json_object_new_array();
        json_object_array_add(outs, output(&p->rend[0], "MP4", NULL));
        json_object_array_add(groups,
                              group("File Group", "FILE_GROUP_SETTINGS", dest, "video", outs));
    }
    add(settings, "outputGroups", groups);
    add(meta, "mediagate_job_id", str(job->id));
    if (job->input_file && *job->input_file)
        add(meta, "input_file", str(job->input_file));
    add(b, "role", str(cfg->mediaconvert_role));
    if (*cfg->mediaconvert_queue)
        add(b, "queue", str(cfg->mediaconvert_queue));
    add(b, "settings", settings);
    add(b, "userMetadata", meta);
    add(b, "clientRequestToken", str(job->id));
    add(b, "statusUpdateInterval", str(cfg->mediaconvert_status_interval));
    return b;
}

/* An answer from the endpoint. */
typedef struct mc_answer {
    http_outcome outcome;
    http_response resp;
    char type[96]; /* x-amzn-ErrorType without its ":..." tail, or "" */
} mc_answer;

/* One signed call: method, path (under the endpoint, already encoded),
 * query (encoded; NULL: none), body (NULL: none). a->resp.body must be set
 * by the caller. Returns a->outcome. */
static http_outcome call(task_ctx *ctx, const char *method, const char *path, const char *query,
                         const char *body, mc_answer *a)
{
    const config *cfg = ctx->cfg;
    const char *e = cfg->mediaconvert_endpoint, *hs = strstr(e, "://");
    hs = hs ? hs + 3 : e;
    const char *slash = strchr(hs, '/');
    size_t elen = strlen(e), hlen = slash ? (size_t)(slash - hs) : strlen(hs);
    while (elen && e[elen - 1] == '/')
        elen--;
    char full[1024], url[2048], iso[32], amz[17], h_host[300], h_date[40], authz[1024],
        h_authz[1100];
    snprintf(full, sizeof full, "%.*s%s", slash ? (int)(e + elen - slash) : 0, slash ? slash : "",
             path);
    snprintf(url, sizeof url, "%.*s%s%s%s", (int)(hs + hlen - e), e, full, query ? "?" : "",
             query ? query : "");
    aws_times(time(NULL), iso, amz);
    snprintf(h_host, sizeof h_host, "Host:%.*s", (int)hlen, hs);
    snprintf(h_date, sizeof h_date, "X-Amz-Date:%s", amz);
    const char *sign_hdrs[] = {"Content-Type:application/json", h_host, h_date};
    sigv4_request sr = {.method = method,
                        .path = full,
                        .query = query,
                        .headers = sign_hdrs,
                        .nheaders = 3,
                        .payload = body ? body : "",
                        .payload_len = body ? strlen(body) : 0,
                        .access_key = cfg->aws_access_key_id,
                        .secret = cfg->aws_secret_access_key,
                        .region = cfg->mediaconvert_region,
                        .service = "mediaconvert",
                        .amz_date = amz};
    a->type[0] = '\0';
    if (sigv4_sign(&sr, NULL, 0, NULL, 0, authz, sizeof authz) != 0) {
        snprintf(a->resp.err, sizeof a->resp.err, "the call could not be signed");
        return a->outcome = HTTP_BAD_REQUEST;
    }
    snprintf(h_authz, sizeof h_authz, "Authorization: %s", authz);
    char h_host2[300], h_date2[40];
    snprintf(h_host2, sizeof h_host2, "Host: %.*s", (int)hlen, hs);
    snprintf(h_date2, sizeof h_date2, "X-Amz-Date: %s", amz);
    const char *hdrs[] = {"Content-Type: application/json", h_host2, h_date2, h_authz};
    http_request req = {method, url, hdrs, 4, body, body ? strlen(body) : 0, 5000, 20000, false};
    if (!ctx->http || !ctx->http->curl) {
        snprintf(a->resp.err, sizeof a->resp.err, "no outbound client");
        return a->outcome = HTTP_BAD_REQUEST;
    }
    a->outcome = http_client_do(ctx->http, &req, &a->resp);
    if (a->outcome == HTTP_ANSWERED &&
        http_client_header(ctx->http, "x-amzn-ErrorType", a->type, sizeof a->type) == 0)
        a->type[strcspn(a->type, ":")] = '\0';
    return a->outcome;
}

/* True for an answer a later attempt may not meet: throttling, AWS's
 * own faults. */
static bool transient(const mc_answer *a)
{
    return a->outcome == HTTP_NO_ANSWER || a->outcome == HTTP_TOO_LARGE ||
           (a->outcome == HTTP_ANSWERED && (a->resp.status == 429 || a->resp.status >= 500));
}

/* "TooManyRequestsException: <message>" of an error answer into out. */
static void describe(const mc_answer *a, char *out, size_t cap)
{
    const char *perr;
    if (a->outcome != HTTP_ANSWERED) {
        snprintf(out, cap, "%s (%s)", http_outcome_name(a->outcome), a->resp.err);
        return;
    }
    json_object *root = parse_json(a->resp.body, a->resp.body_len, &perr);
    const char *msg = jstr_or(root, "message", jstr_or(root, "Message", ""));
    snprintf(out, cap, "HTTP %ld %.80s%s%.300s", a->resp.status, a->type[0] ? a->type : "",
             *msg ? ": " : "", msg);
    json_object_put(root);
}

/* True when s is a job id as MediaConvert makes them (digits, letters, -). */
static bool id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 128 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-") == n;
}

/* Looks for a job of ours (userMetadata.mediagate_job_id) among the
 * queue's newest, back to a little before the job was made. Returns 1 with
 * its id in out, 0 when there is none, -1 when the list could not be read
 * (err says why). ClientRequestToken dedupes for one minute only, so a
 * retry looks here before it sends again. */
static int find_job(task_ctx *ctx, const encode_job *job, char *out, size_t cap, char *err,
                    size_t errcap)
{
    int ret = -1;
    char *buf = malloc(ANSWER_MAX), *qenc = NULL, query[1400], token[1024] = "";
    double since = (double)time(NULL) - job->age_s - 600;
    json_object *root = NULL;
    if (!buf) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (*ctx->cfg->mediaconvert_queue &&
        !(qenc = curl_easy_escape(NULL, ctx->cfg->mediaconvert_queue, 0)))
        goto out;
    for (int page = 0; page < LIST_PAGES; page++) {
        char *tenc = *token ? curl_easy_escape(NULL, token, 0) : NULL;
        snprintf(query, sizeof query, "maxResults=20%s%s&order=DESCENDING%s%s",
                 tenc ? "&nextToken=" : "", tenc ? tenc : "", qenc ? "&queue=" : "",
                 qenc ? qenc : "");
        curl_free(tenc);
        mc_answer a = {.resp = {.body = buf, .body_cap = ANSWER_MAX}};
        if (call(ctx, "GET", MC_API, query, NULL, &a) != HTTP_ANSWERED || a.resp.status != 200) {
            char why[400];
            describe(&a, why, sizeof why);
            snprintf(err, errcap, "ListJobs: %s", why);
            goto out;
        }
        const char *perr, *next = NULL;
        json_object *jobs;
        json_object_put(root);
        root = parse_json(buf, a.resp.body_len, &perr);
        if (jobj(root, "jobs", json_type_array, &jobs) != 1) {
            snprintf(err, errcap, "ListJobs: an answer without jobs");
            goto out;
        }
        bool older = false;
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
            json_object *j = json_object_array_get_idx(jobs, i), *meta, *at;
            const char *mine, *id;
            if (jobj(j, "userMetadata", json_type_object, &meta) == 1 &&
                jstr(meta, "mediagate_job_id", &mine) == 1 && strcmp(mine, job->id) == 0 &&
                jstr(j, "id", &id) == 1 && id_ok(id)) {
                snprintf(out, cap, "%s", id);
                ret = 1;
                goto out;
            }
            if (json_object_object_get_ex(j, "createdAt", &at) &&
                (json_object_is_type(at, json_type_int) ||
                 json_object_is_type(at, json_type_double)) &&
                json_object_get_double(at) < since)
                older = true;
        }
        if (older || jstr(root, "nextToken", &next) != 1 || !*next || strlen(next) >= sizeof token)
            break;
        snprintf(token, sizeof token, "%s", next);
    }
    ret = 0;
out:
    json_object_put(root);
    curl_free(qenc);
    free(buf);
    return ret;
}

/* res for a job found at MediaConvert with id. */
static void created(task_ctx *ctx, const encode_job *job, const char *id, const char *how,
                    task_result *res)
{
    res->outcome = TASK_DONE;
    res->job_event = json_object_new_object();
    add(res->job_event, "backend_job_id", str(id));
    log_info("task %lld: MediaConvert job %s %s for job %s", ctx->id, id, how, job->id);
}

static void mc_create(task_ctx *ctx, const encode_job *job, task_result *res)
{
    const config *cfg = ctx->cfg;
    json_object *body = NULL, *root = NULL, *j;
    char dest[1100], found[160], err[400], *buf = malloc(ANSWER_MAX);
    const char *id, *perr;
    if (!buf) {
        task_fail(res, TASK_RETRY, 500, "MediaConvert CreateJob: out of memory");
        goto out;
    }
    if (!configured(cfg)) {
        task_fail(res, TASK_RETRY, 503, "MediaConvert is not configured on this worker");
        res->retry_after = 300;
        goto out;
    }
    if (!job->input_url || destination(job, dest, sizeof dest) != 0) {
        task_fail(res, TASK_FAILED, 400, "MediaConvert CreateJob: %s",
                  job->input_url ? "no s3:// destination for the outputs "
                                   "(MEDIAGATE_MEDIACONVERT_DESTINATION or MEDIAGATE_STORAGE=s3)"
                                 : "the job has no input URL");
        goto out;
    }
    if (ctx->attempt > 1) {
        int r = find_job(ctx, job, found, sizeof found, err, sizeof err);
        if (r == 1) {
            created(ctx, job, found, "found by a retry", res);
            goto out;
        }
        if (r < 0) {
            task_fail(res, TASK_RETRY, 503, "MediaConvert %s", err);
            goto out;
        }
        if (job->status && strcmp(job->status, "CANCELED") == 0) {
            /* Canceled meanwhile, and never made there: nothing to make. */
            log_info("task %lld: job %s was canceled before MediaConvert made it", ctx->id,
                     job->id);
            res->outcome = TASK_DONE;
            goto out;
        }
    }
    body = create_body(cfg, job, dest);
    mc_answer a = {.resp = {.body = buf, .body_cap = ANSWER_MAX}};
    call(ctx, "POST", MC_API, NULL,
         json_object_to_json_string_ext(body,
                                        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
         &a);
    if (a.outcome != HTTP_ANSWERED || (a.resp.status != 201 && a.resp.status != 200)) {
        describe(&a, err, sizeof err);
        task_fail(res, transient(&a) ? TASK_RETRY : TASK_FAILED,
                  a.outcome == HTTP_ANSWERED ? (int)a.resp.status : 503,
                  "MediaConvert CreateJob: %s", err);
        if (a.outcome == HTTP_ANSWERED && a.resp.retry_after > 0)
            res->retry_after = (double)a.resp.retry_after;
        goto out;
    }
    root = parse_json(buf, a.resp.body_len, &perr);
    if (jobj(root, "job", json_type_object, &j) != 1 || jstr(j, "id", &id) != 1 || !id_ok(id)) {
        task_fail(res, TASK_RETRY, 502, "MediaConvert CreateJob: an answer without a job id");
        goto out;
    }
    created(ctx, job, id, "created", res);
out:
    json_object_put(root);
    json_object_put(body);
    free(buf);
}

/* A GetJob "job" as the EventBridge event it stands for, so the event
 * parser normalizes both alike: a new reference. timing's time of the
 * status is the event's timestamp. */
static json_object *as_event(json_object *j, const char *status)
{
    json_object *e = json_object_new_object(), *d = json_object_new_object(), *x, *timing;
    static const char *const keep[] = {"userMetadata", "outputGroupDetails", "errorCode",
                                       "errorMessage", "queue"};
    static const char *const when[][2] = {{"COMPLETE", "finishTime"},
                                          {"ERROR", "finishTime"},
                                          {"CANCELED", "finishTime"},
                                          {"PROGRESSING", "startTime"}};
    const char *id = jstr_or(j, "id", "");
    int64_t pct;
    add(e, "detail-type", str("MediaConvert Job State Change"));
    add(e, "source", str("aws.mediaconvert"));
    add(d, "jobId", str(id));
    add(d, "status", str(status));
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (json_object_object_get_ex(j, keep[i], &x))
            add(d, keep[i], json_object_get(x));
    if (strcmp(status, "PROGRESSING") == 0 && jint(j, "jobPercentComplete", 0, 100, &pct) == 1) {
        json_object *prog = json_object_new_object();
        add(prog, "jobPercentComplete", json_object_new_int64(pct));
        add(d, "jobProgress", prog);
        add(d, "status", str("STATUS_UPDATE"));
    }
    for (size_t i = 0; i < sizeof when / sizeof when[0]; i++)
        if (strcmp(status, when[i][0]) == 0 && jobj(j, "timing", json_type_object, &timing) == 1 &&
            json_object_object_get_ex(timing, when[i][1], &x) &&
            (json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
            add(d, "timestamp", json_object_new_int64((int64_t)(json_object_get_double(x) * 1000)));
    add(e, "detail", d);
    return e;
}

static int mc_poll(task_ctx *ctx, const encode_job *job, json_object **ev, char **body, size_t *len,
                   char *event_id, size_t idcap, char *err, size_t errcap)
{
    int ret = 1;
    char path[256], dest[1100], *buf = malloc(ANSWER_MAX);
    const char *perr, *status;
    json_object *root = NULL, *j, *event = NULL, *out = NULL, *x;
    *ev = NULL;
    *body = NULL;
    if (!buf || !id_ok(job->backend_job_id)) {
        snprintf(err, errcap, buf ? "no MediaConvert job id to ask about" : "out of memory");
        ret = buf ? -1 : 1;
        goto out;
    }
    snprintf(path, sizeof path, MC_API "/%s", job->backend_job_id);
    mc_answer a = {.resp = {.body = buf, .body_cap = ANSWER_MAX}};
    call(ctx, "GET", path, NULL, NULL, &a);
    if (a.outcome != HTTP_ANSWERED || a.resp.status != 200) {
        char why[400];
        describe(&a, why, sizeof why);
        snprintf(err, errcap, "MediaConvert GetJob: %s", why);
        ret = a.outcome == HTTP_ANSWERED && a.resp.status == 404 ? -1 : 1;
        goto out;
    }
    root = parse_json(buf, a.resp.body_len, &perr);
    if (jobj(root, "job", json_type_object, &j) != 1 || jstr(j, "status", &status) != 1) {
        snprintf(err, errcap, "MediaConvert GetJob: an answer without a job status");
        goto out;
    }
    event = as_event(j, status);
    out = json_object_new_object();
    char pid[256] = "";
    if (mediaconvert_parse(event, out, pid, sizeof pid, err, errcap) != 0)
        goto out;
    /* GetJob names no files: the outputs are where the create put them. */
    if (strcmp(status, "COMPLETE") == 0 && !json_object_object_get_ex(out, "output_path", &x) &&
        destination(job, dest, sizeof dest) == 0) {
        json_object *pl = json_object_new_object();
        add(out, "output_path", str(dest));
        if (job->profile && job->profile->hls)
            add(pl, ".m3u8", str("master.m3u8"));
        if (job->profile && job->profile->mp4)
            add(pl, ".mp4", str("video.mp4"));
        add(out, "playlists", pl);
    }
    int64_t pct = -1;
    jint(out, "progress_rate", 0, 100, &pct);
    snprintf(event_id, idcap, "poll:%s:%s:%lld", job->backend_job_id, status, (long long)pct);
    *body = strndup(buf, a.resp.body_len);
    *len = a.resp.body_len;
    if (!*body) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    *ev = out;
    out = NULL;
    ret = 0;
out:
    json_object_put(out);
    json_object_put(event);
    json_object_put(root);
    free(buf);
    return ret;
}

static int mc_cancel(task_ctx *ctx, const encode_job *job, char *err, size_t errcap)
{
    char path[256], id[160], buf[65536];
    if (job->backend_job_id)
        snprintf(id, sizeof id, "%s", job->backend_job_id);
    else {
        /* The create's answer may have been lost: look for the job. */
        int r = find_job(ctx, job, id, sizeof id, err, errcap);
        if (r <= 0)
            return r < 0 ? 1 : 0;
    }
    if (!id_ok(id)) {
        snprintf(err, errcap, "not a MediaConvert job id");
        return -1;
    }
    snprintf(path, sizeof path, MC_API "/%s", id);
    mc_answer a = {.resp = {.body = buf, .body_cap = sizeof buf}};
    call(ctx, "DELETE", path, NULL, NULL, &a);
    if (a.outcome == HTTP_ANSWERED && (a.resp.status == 202 || a.resp.status == 200))
        return 0;
    char why[400];
    describe(&a, why, sizeof why);
    snprintf(err, errcap, "MediaConvert CancelJob: %s", why);
    if (a.outcome == HTTP_ANSWERED && (a.resp.status == 404 || a.resp.status == 409))
        return 0; /* gone, or final already: nothing to cancel */
    return transient(&a) ? 1 : -1;
}

const encoder encoder_mediaconvert = {.name = "mediaconvert",
                                      .create_kind = "mediaconvert.create",
                                      .configured = configured,
                                      .check = mc_check,
                                      .create = mc_create,
                                      .poll = mc_poll,
                                      .cancel = mc_cancel,
                                      .max_running_s = MAX_RUNNING_S};
