/* The stream.settle kind (sql/005_stream_vod.sql): 30 s after a stop, a
 * stream still marked as being written lost a callback; make its VOD job
 * from the files on disk. */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

void kind_stream_settle(task_ctx *ctx, task_result *res)
{
    const char *sid;
    PGresult *r = NULL;
    if (jstr(ctx->payload, "stream_id", &sid) <= 0) {
        task_fail(res, TASK_FAILED, 1, "malformed task payload");
        goto out;
    }
    const char *v[] = {sid, ctx->cfg->vod_rtmp ? "t" : "f",
                       ctx->cfg->vod_put ? "t" : "f"};
    int st = db_exec(ctx->db, W_SETTLE, 3, v, &r);
    if (st == 400) { /* a malformed id will not get better */
        task_fail(res, TASK_FAILED, 1, "malformed stream id");
        goto out;
    }
    if (st != 0) {
        task_fail(res, TASK_RETRY, 3, "the database is unavailable");
        goto out;
    }
    if (!PQgetisnull(r, 0, 0))
        log_info("task %lld: stream %s settled; VOD job %s", ctx->id, v[0], PQgetvalue(r, 0, 0));
    res->outcome = TASK_DONE;
out:
    PQclear(r);
}
