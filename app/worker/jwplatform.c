/* The jwplatform.refresh kind: a JW Platform webhook (app/notify/
 * jwplatform.c) names a video or channel, and this asks the management API
 * for it now (/v1/videos/show, /v1/channels/show) and writes the mirror
 * (sql/013 mediagate_mirror_put): the answer replaces the row, a NotFound
 * marks it deleted. Rate limits and calls that never reached the API are
 * retried later; the sync is the backstop for anything lost.
 *
 * jwplatform.update: a change made here to a JW video's job (its title,
 * its ACL: `mediagate jobs title`, `mediagate jobs acl`) is written to the
 * platform with /v1/videos/update (video_key, title, custom.sms_acl), as
 * the seed's JWP_SYNC_ITEMS did. The task carries only the video's key: it
 * sends the newest state (jwplatform_writes) each time, so changes made
 * meanwhile coalesce, and an older state never lands after a newer one:
 * one task at a time sends a video (a lock per video; another waits), and
 * once the platform took version v, a change that came meanwhile (version
 * > v) is sent by the same task before it is done. Rate limits,
 * outages and 5xx are retried (JW's Retry-After, else the kind's backoff),
 * and so are refusals (a signature, a clock, a key being rotated), with a
 * log line: only a video the platform no longer has ends the task.
 *
 * jwplatform.discard: the create of a POST /uploads target=jwplatform
 * whose answer was lost (app/uploads/jwplatform.c). Once the mirror shows
 * the video that carries its id (custom.mediagate_upload), the video is
 * deleted on JW; the create is then 'discarded'.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "http_client.h"
#include "jwplatform/api.h"
#include "json.h"
#include "log.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

bool kind_jwplatform_serves(const config *cfg)
{
    return cfg->jwplatform_mirror;
}

/* Writes the resource (data NULL: gone) into the mirror, unless the task
 * is no longer ours (a newer attempt may hold a newer answer). The write
 * is idempotent: a retry after a crash writes the platform's state again. */
static void put(task_ctx *ctx, const char *type, const char *key, json_object *data,
                task_result *res)
{
    PGresult *r = NULL;
    if (ctx->beat && !ctx->beat(ctx, TASK_BEAT_CHECK)) {
        res->outcome = TASK_HANDBACK;
        return;
    }
    const char *text = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE)
                            : NULL;
    const char *v[] = {type, key, text};
    int st = db_exec(ctx->db, W_MIRROR_PUT, 3, v, &r);
    if (st != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the mirror could not be written (%d)", st);
    } else {
        res->outcome = TASK_DONE;
        log_info("task %lld: %s %s refreshed: %s", ctx->id, type, key, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
}

void kind_jwplatform_refresh(task_ctx *ctx, task_result *res)
{
    json_object *root = NULL, *data;
    const char *type = NULL, *key = NULL;
    jw_api api = {0};
    char err[512];
    double after = 0;
    if (jstr(ctx->payload, "type", &type) <= 0 || jstr(ctx->payload, "key", &key) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "the task names no resource");
        goto out;
    }
    bool video = strcmp(type, "video") == 0;
    if (!video && strcmp(type, "channel") != 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "unknown resource type");
        goto out;
    }
    if (!ctx->cfg->jwplatform_mirror || !ctx->http || jw_api_init(&api, ctx->cfg, ctx->http) != 0) {
        res->outcome = TASK_RETRY;
        res->retry_after = 300;
        snprintf(res->message, sizeof res->message, "the JW Platform API is not configured here");
        goto out;
    }
    jw_param prm[] = {{video ? "video_key" : "channel_key", key}};
    jw_outcome oc = jw_api_get(&api, video ? "videos/show" : "channels/show", prm, 1, &root, &after,
                               err, sizeof err);
    switch (oc) {
    case JW_OK:
        if (jobj(root, type, json_type_object, &data) <= 0) {
            res->outcome = TASK_FAILED;
            snprintf(res->message, sizeof res->message, "the answer has no \"%s\" object", type);
            break;
        }
        put(ctx, type, key, data, res);
        break;
    case JW_NOT_FOUND:
        put(ctx, type, key, NULL, res);
        break;
    case JW_RATE_LIMITED:
    case JW_UNREACHED:
    case JW_SERVER_ERROR:
        res->outcome = TASK_RETRY;
        res->retry_after = after;
        snprintf(res->message, sizeof res->message, "JW Platform %s: %s", type, err);
        break;
    default:
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "JW Platform %s: %s", type, err);
        break;
    }
out:
    json_object_put(root);
    jw_api_free(&api);
}

/* Sends in one task at most this many versions that came meanwhile, then
 * retries later. */
#define SENDS_MAX 5

/* Sets res to retry after JW's outcome oc (what names the call). */
static void jw_retry(task_result *res, const char *what, double after, const char *err)
{
    res->outcome = TASK_RETRY;
    res->retry_after = after;
    snprintf(res->message, sizeof res->message, "JW Platform %s: %s", what, err);
}

/* Returns true when the API could be set up; else res says retry. */
static bool api_open(task_ctx *ctx, jw_api *api, task_result *res)
{
    if (ctx->cfg->jwplatform_mirror && ctx->http && jw_api_init(api, ctx->cfg, ctx->http) == 0)
        return true;
    res->outcome = TASK_RETRY;
    res->retry_after = 300;
    snprintf(res->message, sizeof res->message, "the JW Platform API is not configured here");
    return false;
}

/* Sends the newest state of video key once, when it is newer than the
 * version the platform took (the caller holds the video's lock). Returns 1
 * when the platform has it and it is still the newest, 0 when a newer one
 * came meanwhile (send again), -1 with res set (done, retry or failed). */
static int send_newest(task_ctx *ctx, jw_api *api, const char *key, task_result *res)
{
    PGresult *r = NULL, *w = NULL;
    json_object *root = NULL;
    char err[512];
    double after = 0;
    int ret = -1;
    const char *v[] = {key};
    if (db_exec(ctx->db, W_JW_WRITE_READ, 1, v, &r) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the video's state could not be read");
        goto out;
    }
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
        res->outcome = TASK_DONE; /* nothing, or nothing new, to send */
        goto out;
    }
    const char *version = PQgetvalue(r, 0, 2);
    jw_param prm[3] = {{"video_key", key}};
    size_t n = 1;
    if (!PQgetisnull(r, 0, 0))
        prm[n++] = (jw_param){"title", PQgetvalue(r, 0, 0)};
    if (!PQgetisnull(r, 0, 1))
        prm[n++] = (jw_param){"custom.sms_acl", PQgetvalue(r, 0, 1)};
    switch (jw_api_get(api, "videos/update", prm, n, &root, &after, err, sizeof err)) {
    case JW_OK:
        break;
    case JW_RATE_LIMITED:
    case JW_UNREACHED:
    case JW_SERVER_ERROR:
        jw_retry(res, "/videos/update", after, err);
        goto out;
    case JW_NOT_FOUND:
        res->outcome = TASK_DONE;
        log_info("task %lld: JW Platform video %s is gone: nothing to update", ctx->id, key);
        goto out;
    default:
        /* A refusal (the key, the signature, this host's clock, a
         * parameter) may be set right on either side: retried with the
         * kind's backoff, so the newest state lands once it is; said
         * where an operator looks (the log, `mediagate tasks list`). */
        jw_retry(res, "refused /videos/update", 0, err);
        log_error("task %lld: JW Platform refused the update of video %s (version %s): %s; "
                  "retried with backoff: check MEDIAGATE_JWPLATFORM_API_KEY and _SECRET and "
                  "this host's clock",
                  ctx->id, key, version, err);
        goto out;
    }
    const char *sv[] = {key, version};
    if (db_exec(ctx->db, W_JW_WRITE_SENT, 2, sv, &w) != 0 || PQntuples(w) != 1) {
        /* Sent, not recorded: the next attempt sends the same state again. */
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the sent version could not be recorded");
        goto out;
    }
    log_info("task %lld: JW Platform video %s updated (version %s)", ctx->id, key, version);
    ret = strcmp(PQgetvalue(w, 0, 0), version) == 0 ? 1 : 0;
out:
    json_object_put(root);
    PQclear(w);
    PQclear(r);
    return ret;
}

void kind_jwplatform_update(task_ctx *ctx, task_result *res)
{
    const char *key = NULL;
    PGresult *lock = NULL;
    jw_api api = {0};
    if (jstr(ctx->payload, "key", &key) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "the task names no video");
        return;
    }
    if (!api_open(ctx, &api, res))
        goto out;
    /* One send of a video at a time (a session lock on the slot's
     * connection, gone with it): sends land in the order they were read. */
    const char *lv[] = {key};
    if (db_exec(ctx->db, W_JW_LOCK, 1, lv, &lock) != 0 || *PQgetvalue(lock, 0, 0) != 't') {
        res->outcome = TASK_RETRY;
        res->retry_after = 1;
        snprintf(res->message, sizeof res->message, "another task is sending video %s", key);
        PQclear(lock);
        lock = NULL;
        goto out;
    }
    for (int i = 0; i < SENDS_MAX; i++) {
        if (ctx->beat && !ctx->beat(ctx, TASK_BEAT_CHECK)) {
            res->outcome = TASK_HANDBACK;
            goto out;
        }
        int st = send_newest(ctx, &api, key, res);
        if (st < 0)
            goto out;
        if (st == 1) {
            res->outcome = TASK_DONE;
            goto out;
        }
    }
    res->outcome = TASK_RETRY;
    res->retry_after = 1;
    snprintf(res->message, sizeof res->message, "video %s kept changing: sent again later", key);
out:
    if (lock) {
        PGresult *u = NULL;
        if (db_exec(ctx->db, W_JW_UNLOCK, 1, lv, &u) != 0)
            log_error("task %lld: video %s's lock stays until the connection ends", ctx->id, key);
        PQclear(u);
        PQclear(lock);
    }
    jw_api_free(&api);
}

void kind_jwplatform_discard(task_ctx *ctx, task_result *res)
{
    const char *id = NULL;
    PGresult *r = NULL, *d = NULL;
    json_object *root = NULL;
    jw_api api = {0};
    char err[512];
    double after = 0;
    if (jstr(ctx->payload, "upload_id", &id) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "the task names no upload");
        return;
    }
    const char *v[] = {id};
    if (db_exec(ctx->db, W_JW_DISCARD_READ, 1, v, &r) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the create could not be read");
        goto out;
    }
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "creating") != 0) {
        res->outcome = TASK_DONE; /* answered, refused or discarded already */
        goto out;
    }
    if (PQgetisnull(r, 0, 1)) {
        /* Not in the mirror (yet): JW made none, or the next sync shows it.
         * After about a day of syncs, none was made. */
        if (ctx->attempt >= 11) {
            res->outcome = TASK_DONE;
            log_info("task %lld: upload %s: no JW Platform video of it was ever seen", ctx->id, id);
            goto out;
        }
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "no video of upload %s in the mirror yet", id);
        goto out;
    }
    const char *key = PQgetvalue(r, 0, 1);
    if (strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
        if (!api_open(ctx, &api, res))
            goto out;
        jw_param prm[] = {{"video_key", key}};
        jw_outcome oc = jw_api_get(&api, "videos/delete", prm, 1, &root, &after, err, sizeof err);
        if (oc != JW_OK && oc != JW_NOT_FOUND) {
            jw_retry(res, "/videos/delete", after, err);
            goto out;
        }
    }
    const char *dv[] = {id, key};
    if (db_exec(ctx->db, W_JW_DISCARD_DONE, 2, dv, &d) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the discard could not be recorded");
        goto out;
    }
    log_info("task %lld: upload %s: JW Platform video %s deleted (its create was never answered)",
             ctx->id, id, key);
    res->outcome = TASK_DONE;
out:
    json_object_put(root);
    jw_api_free(&api);
    PQclear(d);
    PQclear(r);
}

int jwplatform_upload_lapse(task_ctx *ctx, const char *id, task_result *res)
{
    PGresult *r = NULL, *d = NULL;
    json_object *root = NULL, *video;
    jw_api api = {0};
    char err[512];
    double after = 0;
    const char *status = NULL, *call = "/videos/show";
    int ret = -1;
    const char *v[] = {id};
    if (db_exec(ctx->db, W_JW_UPLOAD_LAPSE, 1, v, &r) != 0) {
        task_fail(res, TASK_RETRY, 1, "the database is unavailable");
        goto out;
    }
    if (PQntuples(r) != 1) {
        ret = 0; /* not a JW upload, or its video is gone already */
        goto out;
    }
    const char *key = PQgetvalue(r, 0, 0);
    bool canceled = *PQgetvalue(r, 0, 1) == 't';
    if (!api_open(ctx, &api, res))
        goto out;
    jw_param prm[] = {{"video_key", key}};
    /* An operator canceled the job: its video goes whatever it holds. */
    jw_outcome oc = canceled ? JW_OK
                             : jw_api_get(&api, "videos/show", prm, 1, &root, &after, err,
                                          sizeof err);
    if (!canceled && oc == JW_OK && jobj(root, "video", json_type_object, &video) > 0 &&
        jstr(video, "status", &status) > 0 && strcmp(status, "created") != 0) {
        /* JW's link took the file (it is processing, ready or failed):
         * the mirror moves the job, nothing lapses. */
        log_info("task %lld: upload %s: JW Platform video %s got its file (%s)", ctx->id, id, key,
                 status);
        res->outcome = TASK_DONE;
        ret = 1;
        goto out;
    }
    if (oc == JW_OK) {
        json_object_put(root);
        root = NULL;
        call = "/videos/delete";
        oc = jw_api_get(&api, "videos/delete", prm, 1, &root, &after, err, sizeof err);
    }
    if (oc != JW_OK && oc != JW_NOT_FOUND) {
        jw_retry(res, call, after, err);
        goto out;
    }
    if (db_exec(ctx->db, W_JW_UPLOAD_DISCARDED, 1, v, &d) != 0) {
        task_fail(res, TASK_RETRY, 1, "the database is unavailable");
        goto out;
    }
    log_info("task %lld: upload %s: JW Platform video %s deleted (%s)", ctx->id, id, key,
             canceled ? "its job was canceled" : "its upload link expired unused");
    ret = 0;
out:
    json_object_put(root);
    jw_api_free(&api);
    PQclear(d);
    PQclear(r);
    return ret;
}
