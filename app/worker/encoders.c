/* The generic encoder kinds: <encoder>.create starts a job at a cloud
 * encoder, encoder.poll (the reconciler) asks the encoder about a job whose
 * events stopped coming, encoder.cancel cancels it there. Each loads the
 * job and, for a create, its profile and input from the task's payload
 * (queued with the job: {"job_id", "profile": profile_json(),
 * "input": {"storage", "key"} | {"url"} | {"file_id"}}), and calls the
 * encoder's row (app/encoders/). The row never touches the queue or SQL. */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "encoders/encoder.h"
#include "json.h"
#include "log.h"
#include "request.h"
#include "storage/storage.h"
#include "urlsign.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

#define ENCODER_ERROR 22 /* the job's error_code when mediagate itself cannot start it */
#define URL_MAX 4096
#define SETTING(f) offsetof(config, f)

/* The encoders that write outputs where mediagate says (the others keep
 * them): the setting naming that place; empty, the storage bucket's
 * media/<job id>/, which playback then serves like a local encode's. */
static const struct {
    const char *encoder;
    size_t setting;
} destinations[] = {
    {"mediaconvert", SETTING(mediaconvert_destination)},
    {"zencoder", SETTING(zencoder_destination)},
};

/* W_ENC_JOB's columns. */
enum {
    J_STATUS,
    J_ACL,
    J_INPUT,
    J_BACKEND_JOB,
    J_BACKEND_TASK,
    J_BACKEND,
    J_AGE,
    J_QUIET,
    J_OTHERS
};

/* What a kind holds for one call of a row. */
typedef struct enc_call {
    PGresult *job; /* W_ENC_JOB's row */
    const encoder *row;
    encode_job ej;
    profile prof;
    char input_url[URL_MAX];
    char notify_url[URL_MAX];
    char destination[URL_MAX];
    bool to_bucket; /* destination is the storage bucket's */
} enc_call;

static const char *col(const PGresult *r, int c)
{
    return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

static bool terminal(const char *status)
{
    return strcmp(status, "COMPLETE") == 0 || strcmp(status, "ERROR") == 0 ||
           strcmp(status, "CANCELED") == 0;
}

static const char *create_kind(const encoder *e)
{
    return e->create_kind;
}

/* Loads task ctx's job into c (c->job, c->row, the job's fields of c->ej).
 * Returns 1 when found, 0 when there is no such job, -1 when the database
 * failed (res says so). */
static int load_job(task_ctx *ctx, enc_call *c, task_result *res)
{
    char id[24], kinds[256];
    snprintf(id, sizeof id, "%lld", ctx->id);
    encoder_array(kinds, sizeof kinds, create_kind);
    const char *v[] = {ctx->job_id, id, kinds};
    if (!ctx->job_id)
        return 0;
    if (db_exec(ctx->db, W_ENC_JOB, 3, v, &c->job) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        return -1;
    }
    if (PQntuples(c->job) != 1)
        return 0;
    c->row = encoder_find(PQgetvalue(c->job, 0, J_BACKEND));
    c->ej.id = ctx->job_id;
    c->ej.status = PQgetvalue(c->job, 0, J_STATUS);
    c->ej.acl = col(c->job, J_ACL);
    c->ej.input_file = PQgetvalue(c->job, 0, J_INPUT);
    c->ej.backend_job_id = col(c->job, J_BACKEND_JOB);
    c->ej.backend_task_id = col(c->job, J_BACKEND_TASK);
    c->ej.age_s = atof(PQgetvalue(c->job, 0, J_AGE));
    c->ej.quiet_s = atof(PQgetvalue(c->job, 0, J_QUIET));
    return 1;
}

/* The public base of local files under MEDIAGATE_MEDIA_URL: the setting
 * itself when absolute, else MEDIAGATE_PUBLIC_URL's origin (without the
 * API prefix's path: the media location is the site's) followed by it. */
static int media_base(const config *cfg, char *out, size_t cap)
{
    bool absolute = strncmp(cfg->media_url, "http://", 7) == 0 ||
                    strncmp(cfg->media_url, "https://", 8) == 0;
    const char *host = strstr(cfg->public_url, "://");
    size_t ol = host ? strcspn(host + 3, "/") + (size_t)(host + 3 - cfg->public_url) : 0;
    int n = absolute ? snprintf(out, cap, "%s", cfg->media_url)
                     : snprintf(out, cap, "%.*s%s", (int)ol, cfg->public_url, cfg->media_url);
    return n > 0 && (size_t)n < cap && (absolute || ol > 0) ? 0 : -1;
}

/* The URL an encoder fetches a local upload at (key "uploads/<id>/<name>"):
 * <media base>/in/<sig>/<exp>/<id>/<name>, checked by nginx's secure_link
 * (nginx/mediagate-media-signed.conf) with sig over "<exp>/in/<id>"
 * (app/urlsign.h), expiring MEDIAGATE_ENCODER_INPUT_LIFETIME from now.
 * Returns 0, or -1 with the reason in err. */
static int local_input_url(const config *cfg, const char *key, char *out, size_t cap, char *err,
                           size_t errcap)
{
    char base[URL_MAX], up[128], sig[23];
    const char *rest = strncmp(key, "uploads/", 8) == 0 ? key + 8 : NULL;
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (!slash || slash == rest || (size_t)(slash - rest) >= sizeof up || !store_key_ok(key) ||
        strchr(slash + 1, '/')) {
        snprintf(err, errcap, "the input is not an upload");
        return -1;
    }
    if (!*cfg->public_url || !*cfg->media_signing_secret) {
        snprintf(err, errcap,
                 "an upload on local storage reaches a cloud encoder only through a "
                 "signed URL: set MEDIAGATE_PUBLIC_URL and "
                 "MEDIAGATE_MEDIA_SIGNING_SECRET");
        return -1;
    }
    snprintf(up, sizeof up, "in/%.*s", (int)(slash - rest), rest);
    long long exp = (long long)time(NULL) + cfg->encoder_input_lifetime;
    urlsign_job(cfg->media_signing_secret, up, exp, sig);
    if (media_base(cfg, base, sizeof base) != 0 ||
        snprintf(out, cap, "%s/in/%s/%lld/%s", base, sig, exp, rest) >= (int)cap) {
        snprintf(err, errcap, "the input URL is too long");
        return -1;
    }
    return 0;
}

/* Sets c's input URL (or file id) from the payload's input. Returns 0, or
 * -1 with the reason in err. */
static int make_input(task_ctx *ctx, enc_call *c, char *err, size_t errcap)
{
    json_object *in = NULL;
    const char *storage, *key, *url, *fid;
    if (jobj(ctx->payload, "input", json_type_object, &in) <= 0) {
        snprintf(err, errcap, "the task names no input");
        return -1;
    }
    if (jstr(in, "file_id", &fid) > 0 && *fid) {
        c->ej.file_id = fid;
        return 0;
    }
    if (jstr(in, "url", &url) > 0) {
        if (strncasecmp(url, "https://", 8) != 0 || strlen(url) >= sizeof c->input_url) {
            snprintf(err, errcap, "the input URL is not an https URL");
            return -1;
        }
        snprintf(c->input_url, sizeof c->input_url, "%s", url);
        c->ej.input_url = c->input_url;
        return 0;
    }
    if (jstr(in, "storage", &storage) <= 0 || jstr(in, "key", &key) <= 0) {
        snprintf(err, errcap, "the task's input has no url, file_id or key");
        return -1;
    }
    if (strcmp(storage, "s3") == 0) {
        store_presign_req p = {.method = "GET",
                               .key = key,
                               .expires_s = ctx->cfg->encoder_input_lifetime,
                               .content_length = -1};
        if (!store_key_ok(key) || !store_is_s3(ctx->cfg) ||
            store_presign(ctx->cfg, &p, c->input_url, sizeof c->input_url) != 0) {
            snprintf(err, errcap, "the input cannot be presigned (is MEDIAGATE_STORAGE s3?)");
            return -1;
        }
    } else if (strcmp(storage, "local") == 0) {
        if (local_input_url(ctx->cfg, key, c->input_url, sizeof c->input_url, err, errcap) != 0)
            return -1;
    } else {
        snprintf(err, errcap, "the input's storage is neither s3 nor local");
        return -1;
    }
    c->ej.input_url = c->input_url;
    return 0;
}

/* Sets c's destination (NULL for an encoder that keeps its outputs) and
 * notification URL. Returns 0, or -1 with the reason in err. */
static int make_places(const config *cfg, enc_call *c, char *err, size_t errcap)
{
    size_t pl = strlen(cfg->public_url);
    while (pl > 0 && cfg->public_url[pl - 1] == '/')
        pl--;
    if (pl > 0) {
        snprintf(c->notify_url, sizeof c->notify_url, "%.*s/notifications/%s", (int)pl,
                 cfg->public_url, c->row->name);
        c->ej.notify_url = c->notify_url;
    }
    for (size_t i = 0; i < sizeof destinations / sizeof destinations[0]; i++) {
        if (strcmp(destinations[i].encoder, c->row->name) != 0)
            continue;
        const char *set = *(char *const *)((const char *)cfg + destinations[i].setting);
        int n;
        if (set && *set)
            n = snprintf(c->destination, sizeof c->destination, "%s%s%s/", set,
                         set[strlen(set) - 1] == '/' ? "" : "/", c->ej.id);
        else if (store_is_s3(cfg)) {
            n = snprintf(c->destination, sizeof c->destination, "s3://%s/%smedia/%s/",
                         cfg->storage_bucket, cfg->storage_prefix ? cfg->storage_prefix : "",
                         c->ej.id);
            c->to_bucket = true;
        } else {
            snprintf(err, errcap,
                     "the %s encoder writes to S3: set its destination or "
                     "MEDIAGATE_STORAGE=s3",
                     c->row->name);
            return -1;
        }
        if (n <= 0 || (size_t)n >= sizeof c->destination) {
            snprintf(err, errcap, "the destination is too long");
            return -1;
        }
        c->ej.destination = c->destination;
    }
    return 0;
}

/* Reads the payload's profile snapshot (with its name) into c->prof.
 * Returns 0, or -1 with the reason in err. */
static int load_profile(task_ctx *ctx, enc_call *c, char *err, size_t errcap)
{
    json_object *p = NULL;
    if (jobj(ctx->payload, "profile", json_type_object, &p) <= 0) {
        snprintf(err, errcap, "the task carries no profile");
        return -1;
    }
    c->ej.profile = &c->prof;
    return profile_parse(NULL, p, &c->prof, err, errcap);
}

/* Renews the task's lease just before a call to the encoder (a call
 * outlasting a lapsed lease could be made twice, by two workers). Returns
 * false, with res handed back, when the task is no longer this worker's. */
static bool hold(task_ctx *ctx, task_result *res)
{
    if (ctx->beat(ctx, TASK_BEAT_CHECK))
        return true;
    res->outcome = TASK_HANDBACK;
    return false;
}

/* Counts the create call about to be made for c's job. *rctx is ctx, its
 * attempt raised past every call made before for the job (an operator's
 * retry of a dead task starts its attempts again): the row looks for an
 * earlier call's job before it sends again (encoder.h). Returns 0, or -1
 * (res set) when the database failed. */
static int tried_before(task_ctx *ctx, enc_call *c, task_result *res, task_ctx *rctx)
{
    PGresult *r = NULL;
    const char *v[] = {c->ej.id};
    *rctx = *ctx;
    if (db_exec(ctx->db, W_ENC_TRY, 1, v, &r) != 0 || PQntuples(r) != 1) {
        PQclear(r);
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        return -1;
    }
    int before = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (before + 1 > rctx->attempt)
        rctx->attempt = before + 1;
    return 0;
}

void kind_encoder_create(task_ctx *ctx, task_result *res)
{
    task_ctx rctx;
    enc_call c = {0};
    char err[400];
    const encoder *want = encoder_for_kind(ctx->kind);
    int found = load_job(ctx, &c, res);
    if (found < 0)
        goto out;
    if (found == 0) {
        res->outcome = TASK_DONE; /* nothing to start */
        log_warn("task %lld: %s for a job that does not exist", ctx->id, ctx->kind);
        goto out;
    }
    /* Canceled while an earlier attempt's outcome is unknown: the job may
     * exist at the encoder. The create (idempotent) then learns its id, so
     * that encoder.cancel, which waits for this task, cancels it there. */
    bool learn = strcmp(c.ej.status, "CANCELED") == 0 && ctx->attempt > 1 && !c.ej.backend_job_id;
    if (terminal(c.ej.status) && !learn) {
        /* Final before it started: nothing to start. */
        log_info("task %lld: job %s is %s; not created", ctx->id, c.ej.id, c.ej.status);
        res->outcome = TASK_DONE;
        goto out;
    }
    if (!want || !want->create || c.row != want) {
        task_fail(res, TASK_FAILED, ENCODER_ERROR, "the job's encoder does not take %s", ctx->kind);
        goto out;
    }
    if (!c.row->configured(ctx->cfg)) {
        /* Queued while another worker had the encoder's settings. */
        res->outcome = TASK_SNOOZE;
        res->retry_after = 300;
        snprintf(res->message, sizeof res->message, "the %s encoder is not configured here",
                 c.row->name);
        goto out;
    }
    if (load_profile(ctx, &c, err, sizeof err) != 0 || make_input(ctx, &c, err, sizeof err) != 0 ||
        make_places(ctx->cfg, &c, err, sizeof err) != 0) {
        task_fail(res, TASK_FAILED, ENCODER_ERROR, "%s", err);
        goto out;
    }
    if (c.to_bucket) {
        PGresult *r = NULL;
        char key[160], url[URL_MAX];
        snprintf(key, sizeof key, "media/%.100s/", c.ej.id);
        /* The master playlist only when the profile has HLS (an MP4-only
         * one has none). */
        const char *v[] = {c.ej.id,
                           store_public_url(ctx->cfg, key, url, sizeof url) == 0 ? url : NULL,
                           c.prof.hls ? "{\".m3u8\": \"master.m3u8\"}" : "{}"};
        int st = db_exec(ctx->db, W_ENC_STORAGE, 3, v, &r);
        PQclear(r);
        if (st != 0) {
            res->outcome = TASK_RETRY;
            snprintf(res->message, sizeof res->message, "the database is unavailable");
            goto out;
        }
    }
    if (c.ej.backend_job_id && !c.ej.file_id) {
        /* An earlier attempt's job, named by the encoder's own event. */
        log_info("task %lld: job %s is %s's %s already", ctx->id, c.ej.id, c.row->name,
                 c.ej.backend_job_id);
        res->outcome = TASK_DONE;
    } else if (hold(ctx, res) && tried_before(ctx, &c, res, &rctx) == 0)
        c.row->create(&rctx, &c.ej, res);
    if (res->outcome == TASK_DONE && !learn) {
        if (!res->job_event)
            res->job_event = json_object_new_object();
        /* The reconciler, should the encoder's events not come. */
        json_object_object_add(res->job_event, "poll_after",
                               json_object_new_int64(ctx->cfg->reconcile_after));
    }
out:
    PQclear(c.job);
}

/* Ends the attempt uncounted, to run again after s seconds. */
static void snooze(task_result *res, double s, const char *why)
{
    res->outcome = TASK_SNOOZE;
    res->retry_after = s < 1 ? 1 : s;
    snprintf(res->message, sizeof res->message, "%s", why);
}

/* Stores what the encoder answered (ev, body) as notification event_id of
 * the job's encoder (source 'poll'), applied like a push. Returns 0, or
 * -1 when the database did not take it (res says so). */
static int store_poll(task_ctx *ctx, enc_call *c, json_object *ev, const char *body, size_t len,
                      const char *event_id, task_result *res)
{
    PGresult *r = NULL;
    if (!json_object_object_get_ex(ev, "backend_job_id", NULL) && c->ej.backend_job_id)
        json_object_object_add(ev, "backend_job_id", json_object_new_string(c->ej.backend_job_id));
    json_object_object_add(ev, "mediagate_job_id", json_object_new_string(c->ej.id));
    json_object_object_del(ev, "create");
    const char *v[] = {c->row->name, event_id, body ? body : "",
                       json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)};
    int lens[] = {0, 0, (int)(body ? len : 0), 0}, fmts[] = {0, 0, 1, 0};
    int st = db_exec_params(ctx->db, W_ENC_POLLED, 4, v, lens, fmts, &r);
    if (st == 0)
        log_info("task %lld: job %s at %s: polled %s (%s)", ctx->id, c->ej.id, c->row->name,
                 event_id, PQgetvalue(r, 0, 0));
    PQclear(r);
    if (st != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "storing the poll failed (%d): %.200s", st,
                 ctx->db->error);
        return -1;
    }
    return 0;
}

/* Into *running, the seconds c's job has been PROGRESSING (its encoder's
 * limit counts from then, and only then), or -1 when it is not
 * PROGRESSING. Returns 0, or -1 when the database failed (res says so). */
static int running_for(task_ctx *ctx, const enc_call *c, double *running, task_result *res)
{
    PGresult *r = NULL;
    const char *v[] = {c->ej.id};
    *running = -1;
    if (db_exec(ctx->db, W_ENC_RUNNING, 1, v, &r) != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) == 1)
        *running = atof(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* True when the job has been PROGRESSING past its encoder's own limit. */
static bool past_limit(const enc_call *c, double running)
{
    return c->row->max_running_s > 0 && running > c->row->max_running_s;
}

void kind_encoder_poll(task_ctx *ctx, task_result *res)
{
    enc_call c = {0};
    json_object *ev = NULL;
    char *body = NULL, event_id[256] = "", err[400] = "";
    size_t len = 0;
    double after = (double)ctx->cfg->reconcile_after, running = -1;
    int found = load_job(ctx, &c, res);
    if (found < 0)
        goto out;
    if (found == 0 || terminal(c.ej.status) || !c.row || !c.row->poll) {
        res->outcome = TASK_DONE; /* final, or nothing to ask */
        goto out;
    }
    if (!c.row->configured(ctx->cfg)) {
        snooze(res, 300, "the encoder is not configured here");
        goto out;
    }
    if (!c.ej.backend_job_id && !c.ej.backend_task_id) {
        /* Not created yet (its create task retries): ask later. A job with
         * only a task id (a Tencent pull) is asked about that task. */
        snooze(res, after, "the job is not created at the encoder yet");
        goto out;
    }
    if (running_for(ctx, &c, &running, res) != 0)
        goto out;
    if (c.ej.quiet_s < after && !past_limit(&c, running)) {
        /* Its events come: the reconciler waits until they stop, or until
         * the encoder's own limit on a running job passes. */
        double wait = after - c.ej.quiet_s + 1;
        if (running >= 0 && c.row->max_running_s > 0 && c.row->max_running_s - running + 1 < wait)
            wait = c.row->max_running_s - running + 1;
        snooze(res, wait, "the job had an event lately");
        goto out;
    }
    if (!hold(ctx, res))
        goto out;
    int rc = c.row->poll(ctx, &c.ej, &ev, &body, &len, event_id, sizeof event_id, err, sizeof err);
    if (rc < 0) {
        /* The job's outcome is ERROR; the task itself is done. */
        task_fail(res, TASK_DONE, ENCODER_ERROR, "%s has no job %.200s any more: %.300s",
                  c.row->name, c.ej.backend_job_id ? c.ej.backend_job_id : c.ej.backend_task_id,
                  err);
        goto out;
    }
    if (rc == 0 && ev && *event_id) {
        if (store_poll(ctx, &c, ev, body, len, event_id, res) != 0)
            goto out;
        PQclear(c.job);
        c = (enc_call){0};
        if ((found = load_job(ctx, &c, res)) < 0)
            goto out;
        if (found == 0 || terminal(c.ej.status)) {
            res->outcome = TASK_DONE;
            goto out;
        }
        if (running_for(ctx, &c, &running, res) != 0)
            goto out;
    }
    if (past_limit(&c, running)) {
        task_fail(res, TASK_DONE, ENCODER_ERROR, "%s: stuck in %s past the encoder's %.0f h limit",
                  c.row->name, c.ej.status, c.row->max_running_s / 3600);
        /* And stopped there too (encoder.cancel, sql mediagate_job_event). */
        if (c.row->cancel)
            json_object_object_add(res->job_event, "cancel_at_encoder", json_object_new_boolean(1));
        goto out;
    }
    if (rc > 0 || !ev || !*event_id) {
        /* The encoder did not answer: asked again later, uncounted, so that
         * an outage however long never leaves a job without its reconciler. */
        char why[sizeof res->message];
        snprintf(why, sizeof why, "%s: %s", c.row->name, *err ? err : "no answer");
        snooze(res, after, why);
        goto out;
    }
    snooze(res, after, "the job is not final yet");
out:
    json_object_put(ev);
    free(body);
    PQclear(c.job);
}

void kind_encoder_cancel(task_ctx *ctx, task_result *res)
{
    enc_call c = {0};
    char err[400] = "";
    int found = load_job(ctx, &c, res);
    if (found < 0)
        goto out;
    res->outcome = TASK_DONE;
    if (found == 0 || !c.row || !c.row->cancel)
        goto out;
    if (!c.ej.backend_job_id && atoi(PQgetvalue(c.job, 0, J_OTHERS)) > 0) {
        /* A create in flight names the job when it ends: wait for it. */
        snooze(res, 5, "waiting for the job's create to end");
        goto out;
    }
    if (!c.row->configured(ctx->cfg)) {
        snooze(res, 300, "the encoder is not configured here");
        goto out;
    }
    if (!hold(ctx, res))
        goto out;
    int rc = c.row->cancel(ctx, &c.ej, err, sizeof err);
    if (rc == 0)
        log_info("task %lld: job %s canceled at %s (%s)", ctx->id, c.ej.id, c.row->name,
                 c.ej.backend_job_id);
    else {
        res->outcome = rc > 0 ? TASK_RETRY : TASK_FAILED;
        snprintf(res->message, sizeof res->message, "%s: %s", c.row->name, *err ? err : "refused");
    }
out:
    PQclear(c.job);
}
