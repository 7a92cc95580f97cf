/* The mux encoder's row: Mux Video assets (API v1, HTTP Basic with an
 * access token's id and secret, MEDIAGATE_MUX_TOKEN_ID/_SECRET).
 *
 * create: POST /video/v1/assets with the job's signed input URL, the
 * playback policy from its ACL (public when it admits anyone, else signed),
 * passthrough = mediagate's job id (the webhooks and the list find the job
 * by it) and MP4 static renditions when the profile packages MP4. Mux has
 * no idempotency key, so every attempt but the job's first (an earlier
 * one's outcome may be unknown) first lists the assets and takes the one
 * whose passthrough is the job id; for a job canceled meanwhile it only
 * looks, never makes one.
 * The lease is renewed before each call and a call lasts at most half of
 * it, so no second worker creates while one still may.
 * poll: GET /video/v1/assets/<id>, read as the matching
 * webhook would be (app/notify/mux.c). cancel: DELETE the asset.
 *
 * Mux makes its own adaptive ladder: a profile names only its top, one
 * rendition of 1080, 1440 or 2160 lines (max_resolution_tier), H.264,
 * Mux's bitrates and audio. check refuses anything else. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "config.h"
#include "encoders/encoder.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "notify/notify.h"
#include "providers/mux_api.h"
#include "encoders/mux.h"
#include "request.h"

#define MUX_ERROR 24         /* the job's error_code when Mux gave no HTTP status */
#define LIST_LIMIT 100       /* assets per page of the list */
#define LIST_PAGES 20        /* pages looked through at most */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static bool configured(const config *cfg)
{
    return *cfg->mux_token_id && *cfg->mux_token_secret;
}

/* Mux's max_resolution_tier for a profile's top rendition, or NULL. */
static const char *tier(const rendition *r)
{
    static const struct {
        int height, width;
        const char *tier;
    } tiers[] = {{1080, 1920, "1080p"}, {1440, 2560, "1440p"}, {2160, 3840, "2160p"}};
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++)
        if ((r->height ? r->height == tiers[i].height : 1) &&
            (r->width ? r->width == tiers[i].width : 1) && (r->height || r->width))
            return tiers[i].tier;
    return NULL;
}

static int check(const config *cfg, const profile *p, char *err, size_t errcap)
{
    (void)cfg;
    const rendition *r = &p->rend[0];
    if (p->nrend != 1) {
        snprintf(err, errcap,
                 "mux makes its own ladder: name one rendition, its top (height 1080, "
                 "1440 or 2160), not %d",
                 p->nrend);
        return -1;
    }
    if (!tier(r)) {
        snprintf(err, errcap,
                 "mux: rendition 1 must be 1080, 1440 or 2160 lines high (or 1920, "
                 "2560 or 3840 wide): Mux's max_resolution_tier");
        return -1;
    }
    if (r->codec[0] && strcmp(r->codec, "h264") != 0) {
        snprintf(err, errcap, "mux: rendition 1: Mux encodes h264 only, not %s", r->codec);
        return -1;
    }
    if (r->video_kbps || r->audio_kbps) {
        snprintf(err, errcap,
                 "mux: rendition 1: Mux chooses the bitrates and keeps the audio: "
                 "leave video_kbps and audio_kbps out");
        return -1;
    }
    return 0;
}

/* True while the task is still this worker's, with at least two thirds
 * of a lease left (the heartbeat renews it once a third has passed), so
 * that the next call (at most half a lease, see call) ends before another
 * worker may claim the task and create the asset a second time. */
static bool ours(task_ctx *ctx)
{
    return !ctx->beat || ctx->beat(ctx, -1);
}

/* One call of Mux's API (mux_api_call): it lasts at most half a lease
 * (and 20 s). */
static http_outcome call(task_ctx *ctx, const char *method, const char *path, const char *body,
                         http_response *resp)
{
    long limit_ms = ctx->cfg->lease_seconds * 500;
    limit_ms = limit_ms < 1000 ? 1000 : limit_ms > 20000 ? 20000 : limit_ms;
    /* No idempotency key: libcurl must never resend the create itself. */
    return mux_api_call(ctx->http, ctx->cfg, method, path, body, limit_ms,
                        strcmp(method, "POST") == 0, resp);
}

/* The data object of a 2xx answer (a new reference to the root in *root),
 * or NULL. */
static json_object *answer_data(const http_response *resp, json_type type, json_object **root)
{
    const char *perr;
    json_object *d;
    *root = parse_json(resp->body, resp->body_len, &perr);
    if (jobj(*root, "data", type, &d) == 1)
        return d;
    json_object_put(*root);
    *root = NULL;
    return NULL;
}

/* True when id may go into a URL path: 1 to 200 of [A-Za-z0-9]. */
static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n && n <= 200 && strspn(id, ID_CHARS) == n;
}

/* Replaces in text (a NUL-terminated buffer of cap bytes) each mention
 * of url, up to the next space or quote, with "<input URL>": Mux's
 * messages may quote the input, and its signature must not reach the
 * job's error_message (shown to callers, sent in webhooks). The mention is
 * found by the URL without its query, so a partial quote goes too. */
static void scrub_url(char *text, size_t cap, const char *url)
{
    static const char mark[] = "<input URL>";
    size_t ul = url ? strcspn(url, "?#") : 0;
    char *p;
    if (ul < 8)
        return;
    while ((p = memmem(text, strlen(text), url, ul))) {
        size_t at = (size_t)(p - text), full = strlen(url);
        size_t run = strncmp(p, url, full) == 0 ? full : ul + strcspn(p + ul, " \t\"'<>]");
        if (at + sizeof mark > cap) {
            *p = '\0';
            break;
        }
        size_t rest = strlen(p + run) + 1; /* with the NUL */
        if (at + sizeof mark - 1 + rest > cap)
            rest = cap - at - (sizeof mark - 1);
        memmove(p + sizeof mark - 1, p + run, rest);
        memcpy(p, mark, sizeof mark - 1);
        text[cap - 1] = '\0';
    }
}

/* The asset's created_at (Unix seconds, as a decimal string or a number),
 * or -1. */
static long long created_s(json_object *asset)
{
    const char *s;
    int64_t v;
    if (jint(asset, "created_at", 0, INT64_MAX, &v) == 1)
        return v;
    if (jstr(asset, "created_at", &s) == 1 && *s && strlen(s) < 19 &&
        strspn(s, "0123456789") == strlen(s))
        return strtoll(s, NULL, 10);
    return -1;
}

/* Looks through the assets, newest first, for the one whose passthrough
 * is job->id: 1 with its id in out, 0 when there is none (pages back to
 * before the job was made), -1 when Mux could not be asked (err says why;
 * *status is Mux's refusal, 0 when it did not answer). */
static int find_ours(task_ctx *ctx, const encode_job *job, char *out, size_t cap, char *err,
                     size_t errcap, long *status)
{
    *status = 0;
    long long since = (long long)time(NULL) - (long long)job->age_s - 300;
    for (int page = 1; page <= LIST_PAGES; page++) {
        char path[96];
        json_object *root = NULL, *data;
        http_response resp = {0};
        if (!ours(ctx)) {
            snprintf(err, errcap, "the task is no longer this worker's");
            return -1;
        }
        snprintf(path, sizeof path, "/video/v1/assets?limit=%d&page=%d", LIST_LIMIT, page);
        http_outcome oc = call(ctx, "GET", path, NULL, &resp);
        if (oc != HTTP_ANSWERED || resp.status != 200 ||
            !(data = answer_data(&resp, json_type_array, &root))) {
            if (oc == HTTP_ANSWERED) {
                *status = resp.status;
                mux_api_error_text(&resp, err, errcap);
            } else
                snprintf(err, errcap, "%s (%s)", http_outcome_name(oc), resp.err);
            free(resp.body);
            return -1;
        }
        free(resp.body);
        size_t n = json_object_array_length(data);
        bool older = false;
        for (size_t i = 0; i < n; i++) {
            json_object *a = json_object_array_get_idx(data, i);
            const char *pt, *id;
            if (jstr(a, "passthrough", &pt) == 1 && strcmp(pt, job->id) == 0 &&
                jstr(a, "id", &id) == 1 && id_ok(id)) {
                snprintf(out, cap, "%s", id);
                json_object_put(root);
                return 1;
            }
            long long c = created_s(a);
            if (c >= 0 && c < since)
                older = true;
        }
        json_object_put(root);
        if (n < LIST_LIMIT || older)
            return 0;
    }
    return 0;
}

json_object *mux_asset_settings(const profile *p, const char *acl, const char *job_id)
{
    json_object *b = json_object_new_object(), *pol = json_object_new_array();
    json_object_array_add(pol, json_object_new_string(acl_admits(acl, NULL, NULL) ? "public"
                                                                                  : "signed"));
    json_object_object_add(b, "playback_policies", pol);
    json_object_object_add(b, "passthrough", json_object_new_string(job_id));
    const char *t = tier(&p->rend[0]);
    if (t)
        json_object_object_add(b, "max_resolution_tier", json_object_new_string(t));
    if (p->mp4) {
        json_object *sr = json_object_new_array(), *hi = json_object_new_object();
        json_object_object_add(hi, "resolution", json_object_new_string("highest"));
        json_object_array_add(sr, hi);
        json_object_object_add(b, "static_renditions", sr);
    }
    return b;
}

/* The create body: a new reference. */
static json_object *create_body(const encode_job *job)
{
    json_object *b = json_object_new_object(), *inputs = json_object_new_array(),
                *in = json_object_new_object(),
                *set = mux_asset_settings(job->profile, job->acl, job->id);
    json_object_object_add(in, "url", json_object_new_string(job->input_url));
    json_object_array_add(inputs, in);
    json_object_object_add(b, "inputs", inputs);
    json_object_object_foreach(set, k, v) json_object_object_add(b, k, json_object_get(v));
    json_object_put(set);
    return b;
}

/* res: DONE with the asset's id (and where it will play) as the job's
 * event. */
static void created(task_ctx *ctx, const encode_job *job, const char *asset_id, json_object *asset,
                    task_result *res)
{
    res->outcome = TASK_DONE;
    res->job_event = json_object_new_object();
    json_object_object_add(res->job_event, "backend_job_id", json_object_new_string(asset_id));
    if (asset)
        mux_add_playback(asset, res->job_event, true);
    log_info("task %lld: job %s is Mux asset %s", ctx->id, job->id, asset_id);
}

/* A Mux answer that is neither 2xx nor final: 429, 5xx (and 408). */
static bool transient(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

static void create(task_ctx *ctx, const encode_job *job, task_result *res)
{
    json_object *body = NULL, *root = NULL, *asset;
    http_response resp = {0};
    char found[220], why[600];
    if (!configured(ctx->cfg)) {
        /* Queued while another worker served it; this one has no token. */
        task_fail(res, TASK_RETRY, MUX_ERROR, "MEDIAGATE_MUX_TOKEN_ID is not set here");
        res->retry_after = 300;
        goto out;
    }
    if (!job->input_url) {
        task_fail(res, TASK_FAILED, MUX_ERROR, "mux takes an input URL, the job has none");
        goto out;
    }
    /* An earlier call may have made the asset: never a second one. The
     * attempt counts every create call made for the job (an operator's
     * retry of a dead task included): only the first skips the list. */
    bool canceled = job->status && strcmp(job->status, "CANCELED") == 0;
    long refused = 0;
    int rc = ctx->attempt > 1 || canceled
                 ? find_ours(ctx, job, found, sizeof found, why, sizeof why, &refused)
                 : 0;
    if (rc < 0) {
        /* Mux's final refusals (credentials) end the job; the rest retry. */
        bool final = refused >= 400 && !transient(refused);
        task_fail(res, final ? TASK_FAILED : TASK_RETRY, final ? (int)refused : MUX_ERROR,
                  "Mux: listing assets: %s", why);
        goto out;
    }
    if (rc == 1) {
        created(ctx, job, found, NULL, res);
        goto out;
    }
    if (canceled) {
        res->outcome = TASK_DONE; /* only its id was wanted, and there is none */
        goto out;
    }
    if (!ours(ctx)) {
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    body = create_body(job);
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    http_outcome oc = call(ctx, "POST", "/video/v1/assets", text, &resp);
    if (oc != HTTP_ANSWERED) {
        /* Maybe made: the next attempt looks for it first. */
        task_fail(res, oc == HTTP_BAD_REQUEST ? TASK_FAILED : TASK_RETRY, MUX_ERROR,
                  "Mux: creating the asset: %s (%s)", http_outcome_name(oc), resp.err);
        goto out;
    }
    if (resp.status == 201 || resp.status == 200) {
        const char *id;
        if (!(asset = answer_data(&resp, json_type_object, &root)) || jstr(asset, "id", &id) != 1 ||
            !id_ok(id)) {
            task_fail(res, TASK_RETRY, MUX_ERROR, "Mux: an answer without an asset id");
            goto out;
        }
        created(ctx, job, id, asset, res);
        goto out;
    }
    mux_api_error_text(&resp, why, sizeof why);
    scrub_url(why, sizeof why, job->input_url);
    if (transient(resp.status))
        res->retry_after = resp.retry_after > 0 ? (double)resp.retry_after : 0;
    task_fail(res, transient(resp.status) ? TASK_RETRY : TASK_FAILED, (int)resp.status,
              "Mux: creating the asset: %s", why);
out:
    free(resp.body);
    json_object_put(body);
    json_object_put(root);
}

/* The asset's state as the webhook for it would say: "video.asset.<x>". */
static const char *event_type(const char *status)
{
    if (strcmp(status, "ready") == 0)
        return "video.asset.ready";
    if (strcmp(status, "errored") == 0)
        return "video.asset.errored";
    return "video.asset.created"; /* "preparing" */
}

static int poll(task_ctx *ctx, const encode_job *job, json_object **ev, char **body, size_t *len,
                char *event_id, size_t idcap, char *err, size_t errcap)
{
    char path[256], id[64], now[40];
    http_response resp = {0};
    json_object *root = NULL, *asset, *env = NULL, *p;
    const char *status;
    int64_t pct = 0;
    int ret = 1;
    *ev = NULL;
    *body = NULL;
    if (!id_ok(job->backend_job_id)) {
        snprintf(err, errcap, "not a Mux asset id");
        return -1;
    }
    snprintf(path, sizeof path, "/video/v1/assets/%s", job->backend_job_id);
    http_outcome oc = call(ctx, "GET", path, NULL, &resp);
    if (oc != HTTP_ANSWERED) {
        snprintf(err, errcap, "Mux: %s (%s)", http_outcome_name(oc), resp.err);
        goto out;
    }
    if (resp.status == 404) {
        snprintf(err, errcap, "Mux knows no asset %s", job->backend_job_id);
        ret = -1;
        goto out;
    }
    if (resp.status != 200 || !(asset = answer_data(&resp, json_type_object, &root)) ||
        jstr(asset, "status", &status) != 1) {
        mux_api_error_text(&resp, err, errcap);
        goto out;
    }
    if (jobj(asset, "progress", json_type_object, &p) == 1)
        jint(p, "progress", 0, 100, &pct);
    /* The answer, dressed as the webhook of that state, goes through the
     * webhook's own parser. */
    iso_time_ms((int64_t)time(NULL) * 1000, now);
    env = json_object_new_object();
    json_object_object_add(env, "type", json_object_new_string(event_type(status)));
    json_object_object_add(env, "created_at", json_object_new_string(now)); /* the state's time */
    json_object_object_add(env, "data", json_object_get(asset));
    *ev = json_object_new_object();
    if (mux_parse(env, *ev, id, sizeof id, err, errcap) != 0) {
        json_object_put(*ev);
        *ev = NULL;
        goto out;
    }
    snprintf(event_id, idcap, "poll:%s:%s:%d", job->backend_job_id, status, (int)pct);
    *body = resp.body;
    *len = resp.body_len;
    resp.body = NULL;
    ret = 0;
out:
    free(resp.body);
    json_object_put(env);
    json_object_put(root);
    return ret;
}

static int cancel(task_ctx *ctx, const encode_job *job, char *err, size_t errcap)
{
    char path[256], found[220];
    const char *id = job->backend_job_id;
    http_response resp = {0};
    int ret = 1;
    if (!id) {
        /* The create's answer never came: the asset may exist all the same. */
        long refused;
        int rc = find_ours(ctx, job, found, sizeof found, err, errcap, &refused);
        if (rc <= 0)
            return rc == 0 ? 0 : refused >= 400 && !transient(refused) ? -1 : 1;
        id = found;
    }
    if (!id_ok(id)) {
        snprintf(err, errcap, "not a Mux asset id");
        return -1;
    }
    snprintf(path, sizeof path, "/video/v1/assets/%s", id);
    http_outcome oc = call(ctx, "DELETE", path, NULL, &resp);
    if (oc != HTTP_ANSWERED)
        snprintf(err, errcap, "Mux: %s (%s)", http_outcome_name(oc), resp.err);
    else if (resp.status == 204 || resp.status == 200 || resp.status == 404)
        ret = 0; /* deleted, or gone already */
    else {
        mux_api_error_text(&resp, err, errcap);
        ret = transient(resp.status) ? 1 : -1;
    }
    free(resp.body);
    return ret;
}

const encoder encoder_mux = {.name = "mux",
                             .create_kind = "mux.create",
                             .configured = configured,
                             .check = check,
                             .create = create,
                             .poll = poll,
                             .cancel = cancel};
