/* media.acl: the objects of a job on the store follow whether the job is
 * public (app/playback.h): queued when it finishes there, and when its ACL
 * or its storage changes (sql/020_playback.sql). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "playback.h"
#include "storage/storage.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

#define ROUNDS 3 /* the job changed while its objects followed: again */

/* Reads job's row into *r: 1 when it is COMPLETE on the store (*public_read
 * set), 0 when there is nothing to follow, -1 when the database failed. */
static int read_job(task_ctx *ctx, const char *job, PGresult **r, bool *public_read)
{
    const char *v[] = {job};
    PQclear(*r);
    *r = NULL;
    if (db_exec(ctx->db, W_JOB_PLAYBACK, 1, v, r) != 0)
        return -1;
    if (PQntuples(*r) != 1 || PQgetisnull(*r, 0, 1) || strcmp(PQgetvalue(*r, 0, 1), "s3") != 0 ||
        strcmp(PQgetvalue(*r, 0, 2), "COMPLETE") != 0)
        return 0;
    *public_read = playback_public_read(ctx->cfg,
                                        PQgetisnull(*r, 0, 0) ? NULL : PQgetvalue(*r, 0, 0),
                                        PQgetvalue(*r, 0, 3));
    return 1;
}

void kind_media_acl(task_ctx *ctx, task_result *res)
{
    const char *job;
    PGresult *r = NULL;
    store *s = NULL;
    bool public_read = false, applied = false, applied_public = false;
    res->outcome = TASK_RETRY;
    if (jstr(ctx->payload, "media_job", &job) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "malformed task payload");
        goto out;
    }
    if (!(s = store_open(ctx->cfg))) {
        snprintf(res->message, sizeof res->message, "out of memory");
        goto out;
    }
    for (int round = 0; round < ROUNDS; round++) {
        int found = read_job(ctx, job, &r, &public_read);
        if (found < 0) {
            snprintf(res->message, sizeof res->message, "the database is unavailable");
            goto out;
        }
        if (found == 0 || (applied && public_read == applied_public))
            break;
        long n = 0;
        store_status st = playback_follow(s, job, public_read, &n);
        if (st != STORE_OK) {
            snprintf(res->message, sizeof res->message, "the store: %s: %s", store_status_name(st),
                     store_err(s));
            res->retry_after = store_retry_after(s) > 0 ? (double)store_retry_after(s) : 0;
            goto out;
        }
        log_info("task %lld: job %.100s: %ld objects in the store made %s", ctx->id, job, n,
                 public_read ? "public-read" : "private");
        applied = true;
        applied_public = public_read;
        if (!ctx->beat(ctx, TASK_BEAT_CHECK)) {
            res->outcome = TASK_HANDBACK;
            goto out;
        }
    }
    res->outcome = TASK_DONE;
out:
    PQclear(r);
    store_close(s);
}

bool kind_media_acl_serves(const config *cfg)
{
    return store_is_s3(cfg);
}
