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

/* The encoders that write outputs where mediagate says (the others keep
 * them): the setting naming that place; empty, the storage bucket's
 * media/<job id>/, which playback then serves like a local encode's. */
static const struct {
    const char *encoder;
    size_t setting;
} destinations[] = {
    {"mediaconvert", offsetof(config, mediaconvert_destination)},
    {"zencoder", offsetof(config, zencoder_destination)},
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

/* The kinds that create or encode a job: the rows' create kinds, as a
 * text[] literal. */
static void create_kinds(char *out, size_t cap)
{
    size_t l = (size_t)snprintf(out, cap, "{");
    for (size_t i = 0; i < encoders_count && l < cap; i++)
        if (encoders[i]->create_kind)
            l += (size_t)snprintf(out + l, cap - l, "%s\"%s\"", l > 1 ? "," : "",
                                  encoders[i]->create_kind);
    if (l < cap)
        snprintf(out + l, cap - l, "}");
}

/* Loads task ctx's job into c (c->job, c->row, the job's fields of c->ej).
 * Returns 1 when found, 0 when there is no such job, -1 when the database
 * failed (res says so). */
static int load_job(task_ctx *ctx, enc_call *c, task_result *res)
{
    char id[24], kinds[256];
    snprintf(id, sizeof id, "%lld", ctx->id);
    create_kinds(kinds, sizeof kinds);
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
 * itself when absolute, else MEDIAGATE_PUBLIC_URL followed by it. */
static int media_base(const config *cfg, char *out, size_t cap)
{
    bool absolute = strncmp(cfg->media_url, "http://", 7) == 0 ||
                    strncmp(cfg->media_url, "https://", 8) == 0;
    size_t pl = strlen(cfg->public_url);
    while (pl > 0 && cfg->public_url[pl - 1] == '/')
        pl--;
    int n = absolute ? snprintf(out, cap, "%s", cfg->media_url)
                     : snprintf(out, cap, "%.*s%s", (int)pl, cfg->public_url, cfg->media_url);
    return n > 0 && (size_t)n < cap ? 0 : -1;
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
        if (strncmp(url, "https://", 8) != 0 || strlen(url) >= sizeof c->input_url) {
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

void kind_encoder_create(task_ctx *ctx, task_result *res)
{
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
    if (terminal(c.ej.status)) {
        /* Canceled (or failed) before it started: nothing to start. */
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
        const char *v[] = {c.ej.id};
        int st = db_exec(ctx->db, W_ENC_STORAGE, 1, v, &r);
        PQclear(r);
        if (st != 0) {
            res->outcome = TASK_RETRY;
            snprintf(res->message, sizeof res->message, "the database is unavailable");
            goto out;
        }
    }
    if (c.ej.backend_job_id && !c.ej.file_id) {
        /* An earlier attempt's job, named by the encoder's own event (a
         * Tencent file, named before it is processed, is processed). */
        log_info("task %lld: job %s is %s's %s already", ctx->id, c.ej.id, c.row->name,
                 c.ej.backend_job_id);
        res->outcome = TASK_DONE;
    } else
        c.row->create(ctx, &c.ej, res);
    if (res->outcome == TASK_DONE) {
        if (!res->job_event)
            res->job_event = json_object_new_object();
        /* The reconciler, should the encoder's events not come. */
        json_object_object_add(res->job_event, "poll_after",
                               json_object_new_int64(ctx->cfg->reconcile_after));
    }
out:
    PQclear(c.job);
}

void kind_encoder_poll(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}

void kind_encoder_cancel(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}
