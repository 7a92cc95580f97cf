/* The upload.expire kind (sql/008_uploads.sql): at a direct upload URL's
 * expiry, a slot that never got its file is spent and its job CANCELED;
 * on S3 storage whatever the bucket holds of it goes too (an unfinished
 * multipart upload is aborted, an object written but never confirmed is
 * deleted), and a tus upload's bytes in flight go through its storage's
 * discard (app/uploads/tus.h), a Mux direct upload is canceled and a JW
 * Platform upload's video that never got its file is deleted there
 * (app/worker/jwplatform.c), so an abandoned upload leaves nothing
 * behind. */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "storage/storage.h"
#include "uploads/target.h"
#include "uploads/tus.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

/* Removes what the bucket holds of an expired slot: key, and the multipart
 * upload upload_id (NULL: none). Returns STORE_OK or the first failure. */
static store_status remove_s3(task_ctx *ctx, const char *key, const char *upload_id,
                              char *err, size_t cap)
{
    store_status st = STORE_RETRY;
    store *s = store_open(ctx->cfg);
    if (!s) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    if (upload_id && (st = store_multipart_abort(s, key, upload_id)) != STORE_OK)
        goto out;
    st = store_delete(s, key);
out:
    if (st != STORE_OK && s)
        snprintf(err, cap, "%s", store_err(s));
    store_close(s);
    return st;
}

/* An expired slot handed to Mux: its direct upload is canceled there
 * (app/uploads/mux.c). Returns 0, or -1 having failed res. */
static int cancel_platform(task_ctx *ctx, const char *id, task_result *res)
{
    char err[300];
    PGresult *r = NULL;
    int ret = 0;
    const char *v[] = {id};
    if (db_exec(ctx->db, W_UPLOAD_PLATFORM, 1, v, &r) != 0) {
        task_fail(res, TASK_RETRY, 1, "the database is unavailable");
        ret = -1;
    } else if (PQntuples(r) == 1) {
        int rc = upload_target_mux_cancel(ctx->http, ctx->cfg, PQgetvalue(r, 0, 0), err,
                                          sizeof err);
        if (rc != 0) {
            task_fail(res, rc > 0 ? TASK_RETRY : TASK_FAILED, 3, "upload %s: %s", id, err);
            ret = -1;
        } else
            log_info("task %lld: upload %s: Mux upload %s canceled", ctx->id, id,
                     PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return ret;
}

/* Discards what a lapsed tus upload id holds (none: STORE_OK). */
static store_status discard_tus(task_ctx *ctx, const char *id, char *err, size_t cap)
{
    PGresult *r = NULL;
    store *s = NULL;
    tus_upload u;
    store_status st = STORE_RETRY;
    const char *v[] = {id};
    snprintf(err, cap, "the database is unavailable");
    if (db_exec(ctx->db, W_UPLOAD_TUS, 1, v, &r) != 0)
        goto out;
    st = STORE_OK;
    if (PQntuples(r) != 1)
        goto out;
    tus_upload_from_row(&u, r, 0);
    if (!(s = store_open(ctx->cfg))) {
        snprintf(err, cap, "out of memory");
        st = STORE_RETRY;
        goto out;
    }
    const tus_storage *ts = tus_storage_for(ctx->cfg);
    if ((st = ts->discard(ctx->cfg, s, &u)) != STORE_OK)
        snprintf(err, cap, "%s", store_err(s));
    else
        log_info("task %lld: tus upload %s: its %lld bytes removed", ctx->id, id, u.offset);
out:
    store_close(s);
    PQclear(r);
    return st;
}

void kind_upload_expire(task_ctx *ctx, task_result *res)
{
    const char *id;
    char err[300];
    PGresult *r = NULL;
    if (jstr(ctx->payload, "upload_id", &id) <= 0) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        goto out;
    }
    /* A JW Platform upload's empty video goes first; one that got its
     * file does not lapse. */
    int jw = jwplatform_upload_lapse(ctx, id, res);
    if (jw != 0)
        goto out;
    const char *v[] = {id};
    int st = db_exec(ctx->db, W_UPLOAD_EXPIRE, 1, v, &r);
    if (st == 400) {
        task_fail(res, TASK_FAILED, 1, "malformed upload id");
        goto out;
    }
    if (st != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
        log_info("task %lld: upload %s expired unused; job %s CANCELED", ctx->id, v[0],
                 ctx->job_id ? ctx->job_id : "?");
    /* The slot is spent now (expired); its objects go, retried until they do. */
    if (!PQgetisnull(r, 0, 2) &&
        remove_s3(ctx, PQgetvalue(r, 0, 2), PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3),
                  err, sizeof err) != STORE_OK) {
        task_fail(res, TASK_RETRY, 3, "upload %s: the store: %s", id, err);
        goto out;
    }
    if (cancel_platform(ctx, id, res) != 0)
        goto out;
    if (discard_tus(ctx, id, err, sizeof err) != STORE_OK) {
        task_fail(res, TASK_RETRY, 3, "upload %s: the tus bytes: %s", id, err);
        goto out;
    }
    res->outcome = TASK_DONE;
out:
    PQclear(r);
}
