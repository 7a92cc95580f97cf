/* The task-kind table: every kind of background work is one row. */
#include "worker/kinds.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

const task_kind task_kinds[] = {
    /* An encode is expensive and a bad input does not get better; an
     * attempt may run for MEDIAGATE_ENCODE_TIMEOUT (timeout_s 0). */
    {.name = "local.encode", .run = kind_local_encode, .max_attempts = 3, .timeout_s = 0,
     .backoff_base = 5, .backoff_cap = 600, .dead = kind_local_encode_dead},
    /* A stopped stream that lost a callback: make its VOD job. */
    {.name = "stream.settle", .run = kind_stream_settle, .max_attempts = 10, .timeout_s = 60,
     .backoff_base = 5, .backoff_cap = 300},
    /* s3 storage: a stopped stream's recordings, from the ingest host's
     * disk into the store, then its VOD encode (app/worker/recordings.c).
     * Only a worker on that host serves it (MEDIAGATE_INGEST_HOST). */
    {.name = "stream.archive", .run = kind_stream_archive, .max_attempts = 10, .timeout_s = 0,
     .backoff_base = 5, .backoff_cap = 300, .serves = kind_stream_archive_serves},
    /* A direct upload URL expired unused: its job is CANCELED. */
    {.name = "upload.expire", .run = kind_upload_expire, .max_attempts = 10, .timeout_s = 60,
     .backoff_base = 5, .backoff_cap = 300},
    /* Tencent VOD ProcessMedia for a NewFileUpload: a call that may meet
     * Tencent's rate limit or an outage, retried for about a day. */
    {.name = "tencent.process_media", .run = kind_tencent_process_media, .max_attempts = 12,
     .timeout_s = 60, .backoff_base = 5, .backoff_cap = 3600, .serves = kind_tencent_serves},
    /* A customer's webhook: Standard Webhooks' eight attempts over about a
     * day; the kind picks each delay itself (app/worker/webhook.c). */
    {.name = "webhook.deliver", .run = kind_webhook_deliver, .max_attempts = 8, .timeout_s = 60,
     .backoff_base = 5, .backoff_cap = 36000},
    /* Confirm an SNS subscription: GET its SubscribeURL, valid 3 days. */
    {.name = "sns.confirm", .run = kind_sns_confirm, .max_attempts = 10, .timeout_s = 60,
     .backoff_base = 5, .backoff_cap = 900},
    /* A JW Platform webhook named a video or channel: fetch it into the
     * mirror. Rate limits and outages are retried for about an hour. */
    {.name = "jwplatform.refresh", .run = kind_jwplatform_refresh, .max_attempts = 10,
     .timeout_s = 60, .backoff_base = 2, .backoff_cap = 600, .serves = kind_jwplatform_serves},
    /* A job on the store finished, or its ACL or storage changed: its
     * objects become public-read or private (app/worker/media_acl.c). */
    {.name = "media.acl", .run = kind_media_acl, .max_attempts = 10, .timeout_s = 300,
     .backoff_base = 2, .backoff_cap = 300, .serves = kind_media_acl_serves},
    /* Create the job at a cloud encoder (app/worker/encoders.c, the row in
     * app/encoders/): transient failures retried for about a day, each
     * attempt idempotent (the encoder's own dedupe key, or a check before
     * a resend). */
    {.name = "mediaconvert.create", .run = kind_encoder_create, .max_attempts = 12,
     .timeout_s = 120, .backoff_base = 5, .backoff_cap = 3600},
    {.name = "zencoder.create", .run = kind_encoder_create, .max_attempts = 12, .timeout_s = 120,
     .backoff_base = 5, .backoff_cap = 3600},
    {.name = "mux.create", .run = kind_encoder_create, .max_attempts = 12, .timeout_s = 120,
     .backoff_base = 5, .backoff_cap = 3600},
    /* The reconciler: a cloud encoder's job that had no event for
     * MEDIAGATE_RECONCILE_AFTER is polled; the task waits (snoozes) until
     * the job is final. */
    {.name = "encoder.poll", .run = kind_encoder_poll, .max_attempts = 20, .timeout_s = 120,
     .backoff_base = 30, .backoff_cap = 3600},
    /* mediagate jobs cancel: the job is canceled at its encoder too. */
    {.name = "encoder.cancel", .run = kind_encoder_cancel, .max_attempts = 12, .timeout_s = 120,
     .backoff_base = 5, .backoff_cap = 3600},
    /* Nothing: for measuring the queue itself (bench/queue.sh). */
    {.name = "noop", .run = kind_noop, .max_attempts = 3, .timeout_s = 10, .backoff_base = 1,
     .backoff_cap = 60},
    /* A change made here to a JW Platform video (title, ACL): written back
     * with /v1/videos/update, the newest state each time (app/worker/
     * jwplatform.c). Rate limits, outages and refusals are retried for
     * about 40 days (an hour apart at most); a newer change queues a task
     * again. */
    {.name = "jwplatform.update", .run = kind_jwplatform_update, .max_attempts = 1000,
     .timeout_s = 60, .backoff_base = 2, .backoff_cap = 3600, .serves = kind_jwplatform_serves},
    /* POST /uploads target=jwplatform whose create JW never answered: the
     * video JW may have made is deleted once the mirror shows it. */
    {.name = "jwplatform.discard", .run = kind_jwplatform_discard, .max_attempts = 12,
     .timeout_s = 60, .backoff_base = 60, .backoff_cap = 3600, .serves = kind_jwplatform_serves},
    /* Upload by URL: the file fetched into the storage, then its encode
     * queued (app/worker/fetch.c). Transient failures (no answer, 5xx)
     * retried, resuming with Range; the rest fail the job at once. An
     * attempt may run for MEDIAGATE_FETCH_TIMEOUT. */
    {.name = "upload.fetch", .run = kind_upload_fetch, .max_attempts = 6, .timeout_s = 0,
     .timeout_of = kind_upload_fetch_timeout, .backoff_base = 5, .backoff_cap = 600},
    /* A job's captions written beside its outputs and into its master
     * playlist (app/worker/captions.c); queued by an upload or a delete of
     * captions, and by the job's COMPLETE. */
    {.name = "captions.publish", .run = kind_captions_publish, .max_attempts = 12,
     .timeout_s = 120, .backoff_base = 5, .backoff_cap = 600},
    /* One thumbnail made on request (GET /media/thumbnail), from the job's
     * outputs (app/worker/thumbnail.c); in the background lane, behind
     * every other kind. A full disk or a store that did not answer snoozes
     * it (uncounted); other store failures are retried. */
    {.name = "thumbnail.make", .run = kind_thumbnail_make, .max_attempts = 5, .timeout_s = 60,
     .backoff_base = 5, .backoff_cap = 300, .background = true},
    /* A deleted job's files (DELETE /media/jobs/<id>, retention): removed
     * locally or in the bucket once nothing of the job runs any more (the
     * task waits, uncounted, until then); rerun-safe (app/worker/
     * job_delete.c). */
    {.name = "job.delete", .run = kind_job_delete, .max_attempts = 20, .timeout_s = 300,
     .backoff_base = 5, .backoff_cap = 3600},
    /* MEDIAGATE_RETENTION_DAYS: one task, hourly, in the background lane. */
    {.name = "jobs.purge", .run = kind_jobs_purge, .max_attempts = 1000, .timeout_s = 300,
     .backoff_base = 30, .backoff_cap = 3600, .serves = kind_jobs_purge_serves,
     .background = true, .periodic = true},
};
const size_t task_kinds_count = sizeof task_kinds / sizeof task_kinds[0];

const task_kind *task_kind_find(const char *name)
{
    for (size_t i = 0; name && i < task_kinds_count; i++)
        if (strcmp(task_kinds[i].name, name) == 0)
            return &task_kinds[i];
    return NULL;
}

bool task_kind_served(const task_kind *k, const config *cfg)
{
    return !k->serves || k->serves(cfg);
}

double task_kind_timeout(const task_kind *k, const config *cfg)
{
    return k->timeout_s > 0 ? k->timeout_s
           : k->timeout_of  ? (double)k->timeout_of(cfg)
                            : (double)cfg->encode_timeout;
}

void task_fail(task_result *res, task_outcome outcome, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->outcome = outcome;
    res->code = code;
    json_object_put(res->job_event);
    res->job_event = json_object_new_object();
    json_object_object_add(res->job_event, "status", json_object_new_string("ERROR"));
    json_object_object_add(res->job_event, "error_code", json_object_new_int(code));
    json_object_object_add(res->job_event, "error_message", json_object_new_string(res->message));
}

void kind_noop(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}
