/* The upload.expire kind (sql/008_uploads.sql): at a direct upload URL's
 * expiry, a slot that never got its file is spent and its job CANCELED. */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

void kind_upload_expire(task_ctx *ctx, task_result *res)
{
    const char *id;
    PGresult *r = NULL;
    if (jstr(ctx->payload, "upload_id", &id) <= 0) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        goto out;
    }
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
    res->outcome = TASK_DONE;
out:
    PQclear(r);
}
