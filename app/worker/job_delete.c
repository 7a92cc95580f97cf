/* The kinds of a job's deletion (sql/045_job_delete.sql): job.delete
 * removes a deleted job's files, locally or in the bucket, once nothing of
 * the job runs any more; jobs.purge deletes what is past
 * MEDIAGATE_RETENTION_DAYS, in bounded batches, hourly. */
#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "encoders/encoder.h"
#include "json.h"
#include "log.h"
#include "storage/storage.h"
#include "worker/kinds.h"
#include "worker/publish.h"
#include "worker/wsql.h"

#define PURGE_EVERY_S 3600 /* jobs.purge runs this often */
#define PURGE_BATCH "500"  /* rows of each step per transaction */
#define WAIT_S 5           /* a job.delete whose job still runs looks again this much later */

/* Whether job is an id whose paths and keys stay inside its own directory
 * and prefix: 1 to 200 of [A-Za-z0-9._-], not starting with a dot (so never
 * "." or ".."). A job of another id (a provider's "mux:<id>") has no files. */
static bool job_path_ok(const char *job)
{
    size_t n = job ? strlen(job) : 0;
    return n >= 1 && n <= 200 && job[0] != '.' &&
           strspn(job, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The snooze of a task that waits for the job's other work. */
static void wait_for(task_result *res, double seconds, const char *why)
{
    res->outcome = TASK_SNOOZE;
    res->retry_after = seconds < 1 ? 1 : seconds;
    snprintf(res->message, sizeof res->message, "%s", why);
}

static void retry(task_result *res, const char *fmt, const char *arg)
{
    res->outcome = TASK_RETRY;
    snprintf(res->message, sizeof res->message, fmt, arg);
}

/* Counts the objects listed (store_list's callback). */
static int count_one(void *arg, const char *key, const store_object *o)
{
    (void)key;
    (void)o;
    ++*(long *)arg;
    return 0;
}

/* Removes every object under prefix of s, then checks that none is left
 * (an encode that lost its lease late writes nothing after its check, but
 * its last write may land meanwhile). Returns 0, or -1 with res set. */
static int remove_prefix(store *s, const char *prefix, task_result *res)
{
    long left = 0;
    store_status st = store_delete_prefix(s, prefix);
    if (st == STORE_OK)
        st = store_list(s, prefix, count_one, &left);
    if (st != STORE_OK) {
        retry(res, "%s", store_err(s));
        return -1;
    }
    if (left > 0) {
        retry(res, "%s: objects written during the removal; removing again", prefix);
        return -1;
    }
    return 0;
}

/* Removes the job's uploads and recordings (W_JOB_DELETE_KEYS) from s.
 * Returns 0, or -1 with res set. */
static int remove_inputs(task_ctx *ctx, store *s, bool on_s3, task_result *res)
{
    PGresult *r = NULL;
    int ret = -1;
    const char *v[] = {ctx->job_id};
    if (db_exec(ctx->db, W_JOB_DELETE_KEYS, 1, v, &r) != 0) {
        retry(res, "%s", "the database is unavailable");
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *prefix = PQgetvalue(r, i, 1);
        bool upload = strncmp(prefix, "uploads/", 8) == 0;
        const char *dir = upload ? ctx->cfg->uploads_dir : ctx->cfg->recordings_dir;
        if (!PQgetisnull(r, i, 0) && (strcmp(PQgetvalue(r, i, 0), "s3") == 0) != on_s3) {
            retry(res, "%s: on another storage than this worker's", prefix);
            goto out;
        }
        if ((!on_s3 && !*dir) || !store_key_ok(prefix))
            continue; /* nothing of it on this host, or not a key: none of ours */
        if (remove_prefix(s, prefix, res) != 0)
            goto out;
    }
    ret = 0;
out:
    PQclear(r);
    return ret;
}

/* The local outputs' directory: gone, or -1 with res set (something wrote
 * it again during the removal). */
static int local_gone(const config *cfg, const char *job, task_result *res)
{
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s", cfg->media_dir, job);
    if (lstat(dir, &st) == 0 || errno != ENOENT) {
        retry(res, "%s", "the job's outputs were written again during the removal; removing again");
        return -1;
    }
    return 0;
}

void kind_job_delete(task_ctx *ctx, task_result *res)
{
    PGresult *r = NULL;
    store *s = NULL;
    char id[24], tok[16], prefix[256];
    const char *job = ctx->job_id;
    double not_before = json_object_get_double(json_object_object_get(ctx->payload, "not_before"));
    snprintf(id, sizeof id, "%lld", ctx->id);
    snprintf(tok, sizeof tok, "%d", ctx->attempt);
    if (!job) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "malformed task payload");
        goto out;
    }
    /* A holder of the job's task that was canceled learns it at its next
     * heartbeat, within its lease: its files are removed after that. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (isfinite(not_before) && not_before > (double)now.tv_sec + 1) {
        wait_for(res, not_before - (double)now.tv_sec, "waits for the job's canceled work to stop");
        goto out;
    }
    const char *v[] = {job, id};
    if (db_exec(ctx->db, W_JOB_DELETE_READ, 2, v, &r) != 0) {
        retry(res, "%s", "the database is unavailable");
        goto out;
    }
    if (PQntuples(r) != 1 || *PQgetvalue(r, 0, 1) == 't') {
        res->outcome = TASK_DONE; /* its row is purged, or its files are gone */
        goto out;
    }
    if (*PQgetvalue(r, 0, 2) == 't') {
        wait_for(res, WAIT_S, "waits for the job's running tasks to end");
        goto out;
    }
    bool on_s3 = store_is_s3(ctx->cfg);
    const char *storage = PQgetvalue(r, 0, 0);
    if (*storage && (strcmp(storage, "s3") == 0) != on_s3) {
        retry(res, "%s", "the job's outputs are on another storage than this worker's");
        goto out;
    }
    if (!(s = store_open(ctx->cfg))) {
        retry(res, "%s", "out of memory");
        goto out;
    }
    if (job_path_ok(job)) {
        /* What attempts left beside the outputs (work directories), then
         * the outputs: media/<job>/ and everything under it. */
        kind_local_encode_dead(ctx->cfg, job);
        snprintf(prefix, sizeof prefix, "media/%s/", job);
        if ((on_s3 || *ctx->cfg->media_dir) && remove_prefix(s, prefix, res) != 0)
            goto out;
        if (!on_s3 && *ctx->cfg->media_dir && local_gone(ctx->cfg, job, res) != 0)
            goto out;
    } else
        log_warn("task %lld: job id %.40s names no files of ours: only its inputs are removed",
                 ctx->id, job);
    if (remove_inputs(ctx, s, on_s3, res) != 0)
        goto out;
    PQclear(r);
    r = NULL;
    const char *d[] = {job, id, tok};
    if (db_exec(ctx->db, W_JOB_DELETE_DONE, 3, d, &r) != 0) {
        retry(res, "%s", "the database is unavailable");
        goto out;
    }
    log_info("task %lld: job %s: its files are removed", ctx->id, job);
    res->outcome = TASK_DONE;
out:
    store_close(s);
    PQclear(r);
}

bool kind_jobs_purge_serves(const config *cfg)
{
    return cfg->retention_days > 0;
}

void kind_jobs_purge(task_ctx *ctx, task_result *res)
{
    char days[24], kinds[512], remote[256];
    long deleted = 0, removed = 0, notes = 0;
    bool full = true;
    snprintf(days, sizeof days, "%ld", ctx->cfg->retention_days);
    encoder_array(kinds, sizeof kinds, encoder_pick_create_kind);
    encoder_array(remote, sizeof remote, encoder_pick_canceler);
    const char *v[] = {days, PURGE_BATCH, kinds, remote};
    /* Batch after batch while one was full, each its own transaction. */
    while (full) {
        PGresult *r = NULL;
        if (!ctx->beat(ctx, -1) || atomic_load(ctx->cancel)) {
            res->outcome = TASK_HANDBACK;
            return;
        }
        if (db_exec(ctx->db, W_JOBS_PURGE, 4, v, &r) != 0) {
            retry(res, "%s", "the database is unavailable");
            return;
        }
        long a = atol(PQgetvalue(r, 0, 0)), b = atol(PQgetvalue(r, 0, 1)),
             c = atol(PQgetvalue(r, 0, 2)), batch = atol(PURGE_BATCH);
        PQclear(r);
        deleted += a;
        removed += b;
        notes += c;
        full = a == batch || b == batch || c == batch;
    }
    if (deleted || removed || notes)
        log_info("task %lld: retention (%s days): %ld job(s) deleted, %ld row(s) and %ld "
                 "notification(s) purged",
                 ctx->id, days, deleted, removed, notes);
    /* The one task of the kind waits for its next run. */
    res->outcome = TASK_SNOOZE;
    res->retry_after = PURGE_EVERY_S;
    snprintf(res->message, sizeof res->message,
             "last run: %ld job(s) deleted, %ld row(s) and %ld notification(s) purged", deleted,
             removed, notes);
}
