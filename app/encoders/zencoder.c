/* The Zencoder (Brightcove) encoder: API v2 with the Zencoder-Api-Key
 * header. create POSTs /jobs: the signed input URL, one output per
 * rendition as Pillar's job_create makes (format, size, no upscale, the
 * destination), an HLS master playlist output over them, the notification
 * URL with its secret header, and mediagate's job id in pass_through.
 * Zencoder has no client token: a retry first lists the account's recent
 * jobs for that pass_through, and sends again only when none has it. The
 * lease is renewed before each call and a call lasts at most half of it,
 * so no second worker lists or creates while one still may; the create is
 * never resent by libcurl itself.
 * poll reads the job's details (and its progress while it runs); cancel
 * PUTs /jobs/<id>/cancel. */
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
#include "request.h"

#define RESPONSE_MAX (1024 * 1024) /* a list page of 50 jobs with their outputs */
#define LIST_PER_PAGE 50
#define LIST_PAGES 10 /* the newest 500 jobs: a lost create is among them */
#define SECRET_HEADER "X-Zencoder-Notification-Secret"
/* The job's error_code when no answer of Zencoder's says why (as
 * app/worker/encoders.c's); Zencoder's refusals carry its HTTP status. */
#define OWN_ERROR 22

/* The key, and a place for the outputs: the destination, or the storage
 * bucket (check-config refuses the key alone on local storage). */
static bool configured(const config *cfg)
{
    return cfg->zencoder_api_key && *cfg->zencoder_api_key &&
           ((cfg->zencoder_destination && *cfg->zencoder_destination) ||
            (cfg->storage && strcmp(cfg->storage, "s3") == 0));
}

/* The profile's renditions as mediagate asks Zencoder for them: HLS is
 * H.264 in TS segments (HEVC only in MP4 files). */
static int check(const config *cfg, const profile *p, char *err, size_t errcap)
{
    (void)cfg;
    for (int i = 0; p->hls && i < p->nrend; i++)
        if (strcmp(p->rend[i].codec, "h265") == 0) {
            snprintf(err, errcap, "rendition %d: Zencoder's HLS outputs (TS segments) are "
                                  "H.264; H.265 only with the mp4 packaging alone", i + 1);
            return -1;
        }
    return 0;
}

/* True while the task is still this worker's, its lease just renewed
 * (ctx->beat), so that the next call (at most half a lease, see call)
 * ends before another worker may claim the task and create again. */
static bool ours(task_ctx *ctx)
{
    return !ctx->beat || ctx->beat(ctx, TASK_BEAT_CHECK);
}

/* Sends one call to the API (path under MEDIAGATE_ZENCODER_API_URL, body
 * JSON or NULL) with the key; resp->body is the caller's, RESPONSE_MAX + 1
 * bytes. It lasts at most half a lease (and 20 s); a POST goes on a new
 * connection (http_client_do_once: Zencoder has no dedupe key). Returns
 * the outcome. */
static http_outcome call(task_ctx *ctx, const char *method, const char *path, const char *body,
                         http_response *resp)
{
    const config *cfg = ctx->cfg;
    char url[2048], key[600];
    snprintf(url, sizeof url, "%s%s", cfg->zencoder_api_url, path);
    snprintf(key, sizeof key, "Zencoder-Api-Key: %s", cfg->zencoder_api_key);
    const char *hdrs[] = {key, "Accept: application/json", "Content-Type: application/json"};
    long limit_ms = cfg->lease_seconds * 500;
    limit_ms = limit_ms < 1000 ? 1000 : limit_ms > 20000 ? 20000 : limit_ms;
    http_request req = {method, url, hdrs, body ? 3 : 2, body, body ? strlen(body) : 0,
                        limit_ms < 5000 ? limit_ms : 5000, limit_ms, false};
    if (!ctx->http || !ctx->http->curl)
        return HTTP_BAD_REQUEST;
    return strcmp(method, "POST") == 0 ? http_client_do_once(ctx->http, &req, resp)
                                       : http_client_do(ctx->http, &req, resp);
}

/* One output of rendition r (index i): an HLS segment stream, or an MP4
 * file. A new reference. */
static json_object *rendition_output(const rendition *r, int i, bool mp4, const char *dest)
{
    json_object *o = json_object_new_object();
    char label[32], url[2200];
    snprintf(label, sizeof label, "%s%d", mp4 ? "mp4-" : "v", i);
    if (mp4)
        snprintf(url, sizeof url, "%sv%d.mp4", dest, i);
    else
        snprintf(url, sizeof url, "%sv%d/index.m3u8", dest, i);
    json_object_object_add(o, "label", json_object_new_string(label));
    json_object_object_add(o, "url", json_object_new_string(url));
    if (mp4)
        json_object_object_add(o, "format", json_object_new_string("mp4"));
    else {
        json_object_object_add(o, "type", json_object_new_string("segmented"));
        json_object_object_add(o, "format", json_object_new_string("ts"));
    }
    json_object_object_add(o, "video_codec",
                           json_object_new_string(strcmp(r->codec, "h265") == 0 ? "hevc" : "h264"));
    if (r->width)
        json_object_object_add(o, "width", json_object_new_int(r->width));
    if (r->height)
        json_object_object_add(o, "height", json_object_new_int(r->height));
    json_object_object_add(o, "upscale", json_object_new_boolean(0));
    if (r->video_kbps)
        json_object_object_add(o, "video_bitrate", json_object_new_int(r->video_kbps));
    if (r->audio_kbps < 0)
        json_object_object_add(o, "skip_audio", json_object_new_boolean(1));
    else if (r->audio_kbps)
        json_object_object_add(o, "audio_bitrate", json_object_new_int(r->audio_kbps));
    return o;
}

/* The job-create body for job with outputs under dest. A new reference. */
static json_object *create_body(const config *cfg, const encode_job *job, const char *dest)
{
    const profile *p = job->profile;
    json_object *b = json_object_new_object(), *outs = json_object_new_array();
    json_object_object_add(b, "input", json_object_new_string(job->input_url));
    json_object_object_add(b, "pass_through", json_object_new_string(job->id));
    for (int i = 0; p->hls && i < p->nrend; i++)
        json_object_array_add(outs, rendition_output(&p->rend[i], i, false, dest));
    if (p->hls) {
        /* The master playlist over the segment streams, at the local
         * encoder's place (<destination>master.m3u8). */
        json_object *pl = json_object_new_object(), *streams = json_object_new_array();
        char url[2200];
        snprintf(url, sizeof url, "%smaster.m3u8", dest);
        for (int i = 0; i < p->nrend; i++) {
            json_object *s = json_object_new_object();
            char path[32];
            snprintf(path, sizeof path, "v%d/index.m3u8", i);
            json_object_object_add(s, "path", json_object_new_string(path));
            if (p->rend[i].video_kbps)
                json_object_object_add(s, "bandwidth",
                                       json_object_new_int(p->rend[i].video_kbps +
                                                           (p->rend[i].audio_kbps > 0
                                                                ? p->rend[i].audio_kbps : 0)));
            json_object_array_add(streams, s);
        }
        json_object_object_add(pl, "label", json_object_new_string("master"));
        json_object_object_add(pl, "type", json_object_new_string("playlist"));
        json_object_object_add(pl, "url", json_object_new_string(url));
        json_object_object_add(pl, "streams", streams);
        json_object_array_add(outs, pl);
    }
    for (int i = 0; p->mp4 && i < p->nrend; i++)
        json_object_array_add(outs, rendition_output(&p->rend[i], i, true, dest));
    json_object_object_add(b, "outputs", outs);
    if (job->notify_url && cfg->zencoder_secret && *cfg->zencoder_secret) {
        json_object *n = json_object_new_object(), *h = json_object_new_object(),
                    *list = json_object_new_array();
        json_object_object_add(h, SECRET_HEADER, json_object_new_string(cfg->zencoder_secret));
        json_object_object_add(n, "format", json_object_new_string("json"));
        json_object_object_add(n, "url", json_object_new_string(job->notify_url));
        json_object_object_add(n, "headers", h);
        json_object_array_add(list, n);
        json_object_object_add(b, "notifications", list);
    }
    return b;
}

/* Zencoder's id of a job object (an integer, or a string) into out.
 * Returns 0, or -1 when it has none. */
static int job_id_of(json_object *o, char *out, size_t cap)
{
    json_object *id;
    int64_t n;
    if (!json_object_object_get_ex(o, "id", &id))
        return -1;
    if (json_object_is_type(id, json_type_int) && jint(o, "id", 1, INT64_MAX - 1, &n) == 1)
        snprintf(out, cap, "%lld", (long long)n);
    else if (json_object_is_type(id, json_type_string) && json_object_get_string_len(id) > 0 &&
             json_object_get_string_len(id) < 32)
        snprintf(out, cap, "%s", json_object_get_string(id));
    else
        return -1;
    return 0;
}

/* Looks for the job an earlier attempt may have made: the newest jobs of
 * the account, a page at a time, for one whose pass_through is job->id.
 * Returns 1 with its id in out, 0 when none has it, -1 when the list could
 * not be read (err says why), -2 when the task is no longer this worker's. */
static int find_created(task_ctx *ctx, const encode_job *job, char *buf, char *out, size_t cap,
                        char *err, size_t errcap)
{
    for (int page = 1; page <= LIST_PAGES; page++) {
        char path[96];
        const char *perr;
        http_response resp = {.body = buf, .body_cap = RESPONSE_MAX + 1};
        if (!ours(ctx))
            return -2;
        snprintf(path, sizeof path, "/jobs?page=%d&per_page=%d", page, LIST_PER_PAGE);
        http_outcome oc = call(ctx, "GET", path, NULL, &resp);
        if (oc != HTTP_ANSWERED || resp.status != 200) {
            snprintf(err, errcap, "listing jobs: %s %ld", http_outcome_name(oc), resp.status);
            return -1;
        }
        json_object *list = parse_json(resp.body, resp.body_len, &perr);
        if (!json_object_is_type(list, json_type_array)) {
            json_object_put(list);
            snprintf(err, errcap, "listing jobs: an answer that is not a list");
            return -1;
        }
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
            json_object *j;
            const char *pt;
            if (jobj(json_object_array_get_idx(list, i), "job", json_type_object, &j) == 1 &&
                jstr(j, "pass_through", &pt) == 1 && strcmp(pt, job->id) == 0 &&
                job_id_of(j, out, cap) == 0) {
                json_object_put(list);
                return 1;
            }
        }
        json_object_put(list);
        if (n < LIST_PER_PAGE)
            break;
    }
    return 0;
}

/* The errors of an API answer ({"errors": [...]}), joined, into out. */
static void answer_errors(const char *body, size_t len, char *out, size_t cap)
{
    const char *perr;
    json_object *root = parse_json(body, len, &perr), *list;
    size_t used = 0;
    out[0] = '\0';
    if (jobj(root, "errors", json_type_array, &list) == 1)
        for (size_t i = 0; i < json_object_array_length(list) && used + 1 < cap; i++) {
            json_object *e = json_object_array_get_idx(list, i);
            if (json_object_is_type(e, json_type_string))
                used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "; " : "",
                                         json_object_get_string(e));
        }
    json_object_put(root);
}

/* The job event of a created job: its Zencoder id. */
static void created(task_result *res, const char *id)
{
    res->outcome = TASK_DONE;
    res->job_event = json_object_new_object();
    json_object_object_add(res->job_event, "backend_job_id", json_object_new_string(id));
}

static void create(task_ctx *ctx, const encode_job *job, task_result *res)
{
    const config *cfg = ctx->cfg;
    json_object *body = NULL, *answer = NULL;
    char *buf = malloc(RESPONSE_MAX + 1), id[32], msg[400];
    const char *dest = job->destination;
    const char *perr;
    if (!buf) {
        task_fail(res, TASK_RETRY, OWN_ERROR, "Zencoder: out of memory");
        goto out;
    }
    if (!job->input_url) {
        task_fail(res, TASK_FAILED, OWN_ERROR, "Zencoder encodes a file from its URL; this job has none");
        goto out;
    }
    if (!dest || !*dest) {
        task_fail(res, TASK_FAILED, OWN_ERROR, "Zencoder: no destination for the outputs");
        goto out;
    }
    if (ctx->attempt > 1) {
        /* An earlier attempt may have made the job with no answer seen. */
        int found = find_created(ctx, job, buf, id, sizeof id, msg, sizeof msg);
        if (found == 1) {
            log_info("task %lld: Zencoder job %s of %s was made by an earlier attempt", ctx->id,
                     id, job->id);
            created(res, id);
            goto out;
        }
        if (found == -2) {
            res->outcome = TASK_HANDBACK;
            goto out;
        }
        if (found < 0) {
            task_fail(res, TASK_RETRY, OWN_ERROR, "Zencoder: %s", msg);
            goto out;
        }
        if (job->status && strcmp(job->status, "CANCELED") == 0) {
            /* Canceled meanwhile, and never made there: nothing to make. */
            res->outcome = TASK_DONE;
            goto out;
        }
    }
    if (!ours(ctx)) {
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    body = create_body(cfg, job, dest);
    http_response resp = {.body = buf, .body_cap = RESPONSE_MAX + 1};
    http_outcome oc = call(ctx, "POST", "/jobs",
                           json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE),
                           &resp);
    if (oc == HTTP_NO_ANSWER || oc == HTTP_TOO_LARGE) {
        /* Maybe made: the next attempt looks before it sends again. */
        task_fail(res, TASK_RETRY, OWN_ERROR, "Zencoder: %s (%s)", http_outcome_name(oc), resp.err);
        goto out;
    }
    if (oc != HTTP_ANSWERED) {
        task_fail(res, TASK_FAILED, OWN_ERROR, "Zencoder: %s (%s)", http_outcome_name(oc), resp.err);
        goto out;
    }
    if (resp.status == 201 || resp.status == 200) {
        answer = parse_json(resp.body, resp.body_len, &perr);
        if (job_id_of(answer, id, sizeof id) != 0) {
            task_fail(res, TASK_RETRY, OWN_ERROR, "Zencoder: an answer without a job id");
            goto out;
        }
        log_info("task %lld: Zencoder job %s made for %s", ctx->id, id, job->id);
        created(res, id);
        goto out;
    }
    answer_errors(resp.body, resp.body_len, msg, sizeof msg);
    if (resp.status >= 500 || resp.status == 429 || resp.status == 408) {
        res->retry_after = resp.retry_after > 0 ? (double)resp.retry_after : 0;
        task_fail(res, TASK_RETRY, (int)resp.status, "Zencoder: HTTP %ld%s%s", resp.status,
                  *msg ? ": " : "", msg);
    } else
        task_fail(res, TASK_FAILED, (int)resp.status, "Zencoder: HTTP %ld%s%s", resp.status,
                  *msg ? ": " : "", msg);
out:
    json_object_put(answer);
    json_object_put(body);
    free(buf);
}

/* Adds from's member key (when there and not null) to to, named as. */
static void copy_as(json_object *from, const char *key, json_object *to, const char *as)
{
    json_object *v;
    if (json_object_object_get_ex(from, key, &v) && v)
        json_object_object_add(to, as, json_object_get(v));
}

/* A job's details (GET /jobs/<id>: {"job": {..., "input_media_file",
 * "output_media_files"}}) in the shape of a job notification, which
 * zencoder_parse reads. A playlist output there has no format: it is the
 * one whose URL names an .m3u8 with no format. A new reference. */
static json_object *details_as_notification(json_object *job)
{
    json_object *n = json_object_new_object(), *j = json_object_new_object(), *in, *outs;
    static const char *const job_keys[] = {"id", "state", "pass_through", "updated_at"};
    for (size_t i = 0; i < sizeof job_keys / sizeof job_keys[0]; i++)
        copy_as(job, job_keys[i], j, job_keys[i]);
    json_object_object_add(n, "job", j);
    if (jobj(job, "input_media_file", json_type_object, &in) == 1) {
        json_object *i = json_object_new_object();
        copy_as(in, "duration_in_ms", i, "duration_in_ms");
        json_object_object_add(n, "input", i);
    }
    if (jobj(job, "output_media_files", json_type_array, &outs) == 1) {
        json_object *list = json_object_new_array();
        for (size_t k = 0; k < json_object_array_length(outs); k++) {
            json_object *f = json_object_array_get_idx(outs, k), *o = json_object_new_object();
            const char *fmt, *url;
            static const char *const keys[] = {"format", "width", "height", "url", "label",
                                               "state", "error_message"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                copy_as(f, keys[i], o, keys[i]);
            copy_as(f, "file_size_bytes", o, "file_size_in_bytes");
            copy_as(f, "error_message", o, "error");
            if (jstr(f, "format", &fmt) != 1 && jstr(f, "url", &url) == 1 && strstr(url, ".m3u8"))
                json_object_object_add(o, "type", json_object_new_string("playlist"));
            json_object_array_add(list, o);
        }
        json_object_object_add(n, "outputs", list);
    }
    return n;
}

static int poll(task_ctx *ctx, const encode_job *job, json_object **ev, char **body, size_t *len,
                char *event_id, size_t idcap, char *err, size_t errcap)
{
    int ret = 1;
    char *buf = malloc(RESPONSE_MAX + 1), path[128], pbuf[4096];
    json_object *root = NULL, *note = NULL, *e = NULL, *job_o, *prog = NULL;
    const char *perr, *status;
    double pct = -1;
    *ev = NULL;
    *body = NULL;
    if (!buf) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/jobs/%s", job->backend_job_id);
    http_response resp = {.body = buf, .body_cap = RESPONSE_MAX + 1};
    http_outcome oc = call(ctx, "GET", path, NULL, &resp);
    if (oc == HTTP_ANSWERED && resp.status == 404) {
        snprintf(err, errcap, "Zencoder knows no job %.40s", job->backend_job_id);
        ret = -1;
        goto out;
    }
    if (oc != HTTP_ANSWERED || resp.status != 200) {
        snprintf(err, errcap, "Zencoder job details: %s %ld", http_outcome_name(oc), resp.status);
        goto out;
    }
    root = parse_json(resp.body, resp.body_len, &perr);
    if (jobj(root, "job", json_type_object, &job_o) != 1) {
        snprintf(err, errcap, "Zencoder job details: no job object");
        goto out;
    }
    note = details_as_notification(job_o);
    e = json_object_new_object();
    if (zencoder_parse(note, e, NULL, 0, err, errcap) != 0)
        goto out;
    status = jstr_or(e, "status", "");
    if (strcmp(status, "ERROR") == 0 && !json_object_object_get_ex(e, "error_message", NULL)) {
        /* The input failed (could not be fetched, not media): no output says why. */
        json_object *in;
        const char *m;
        if (jobj(job_o, "input_media_file", json_type_object, &in) == 1 &&
            jstr(in, "error_message", &m) == 1)
            json_object_object_add(e, "error_message", json_object_new_string(m));
    }
    if (strcmp(status, "PROGRESSING") == 0) {
        /* Its progress, when Zencoder says (else the state alone). */
        http_response pr = {.body = pbuf, .body_cap = sizeof pbuf};
        json_object *p;
        snprintf(path, sizeof path, "/jobs/%s/progress", job->backend_job_id);
        if (call(ctx, "GET", path, NULL, &pr) == HTTP_ANSWERED && pr.status == 200 &&
            (prog = parse_json(pr.body, pr.body_len, &perr)) &&
            json_object_object_get_ex(prog, "progress", &p) &&
            (json_object_is_type(p, json_type_double) || json_object_is_type(p, json_type_int))) {
            pct = json_object_get_double(p);
            if (pct >= 0 && pct <= 100)
                json_object_object_add(e, "progress_rate", json_object_new_int((int)pct));
        }
    }
    snprintf(event_id, idcap, "poll:%s:%s:%d", job->backend_job_id, status,
             pct >= 0 && pct <= 100 ? (int)pct : -1);
    *body = buf;
    *len = resp.body_len;
    buf = NULL;
    *ev = e;
    e = NULL;
    ret = 0;
out:
    json_object_put(prog);
    json_object_put(e);
    json_object_put(note);
    json_object_put(root);
    free(buf);
    return ret;
}

/* Cancels the job; one whose create's answer was lost (no backend id) is
 * looked for by its pass_through first. */
static int cancel(task_ctx *ctx, const encode_job *job, char *err, size_t errcap)
{
    char path[128], buf[4096], id[32];
    const char *jid = job->backend_job_id;
    if (!jid) {
        char *list = malloc(RESPONSE_MAX + 1);
        int found = list ? find_created(ctx, job, list, id, sizeof id, err, errcap) : -1;
        free(list);
        if (found <= 0)
            return found < 0 ? 1 : 0; /* unread: retry; none: never made there */
        jid = id;
    }
    snprintf(path, sizeof path, "/jobs/%s/cancel", jid);
    http_response resp = {.body = buf, .body_cap = sizeof buf};
    http_outcome oc = call(ctx, "PUT", path, "", &resp);
    if (oc == HTTP_ANSWERED && resp.status >= 200 && resp.status < 300)
        return 0;
    if (oc == HTTP_ANSWERED && (resp.status == 404 || resp.status == 409 || resp.status == 422))
        return 0; /* gone, or final there already: nothing to cancel */
    snprintf(err, errcap, "Zencoder cancel: %s %ld", http_outcome_name(oc), resp.status);
    bool again = oc == HTTP_NO_ANSWER ||
                 (oc == HTTP_ANSWERED && (resp.status >= 500 || resp.status == 429));
    return again ? 1 : -1;
}

const encoder encoder_zencoder = {.name = "zencoder",
                                  .create_kind = "zencoder.create",
                                  .configured = configured,
                                  .check = check,
                                  .create = create,
                                  .poll = poll,
                                  .cancel = cancel};
