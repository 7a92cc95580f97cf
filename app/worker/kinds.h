#ifndef MEDIAGATE_WORKER_KINDS_H
#define MEDIAGATE_WORKER_KINDS_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct db;
struct json_object;

/* The contract between the queue and a kind of task. The queue claims a
 * task, calls its kind's run function with a context, and records the
 * result it returns (with its job event) in one transaction. A kind never
 * calls back into the queue: it reports through ctx->beat and returns. */

typedef enum task_outcome {
    TASK_DONE,      /* finished; job_event (if any) applied */
    TASK_RETRY,     /* try again later (retry_after s, or the kind's backoff) */
    TASK_FAILED,    /* failed for good; job_event (if any) applied */
    TASK_HANDBACK,  /* not run: the worker is stopping or lost the task */
    TASK_SNOOZE,    /* not the task's fault (a full disk): run again later (retry_after s, or
                     * the kind's backoff) without the attempt counting */
} task_outcome;

typedef struct task_ctx {
    const struct config *cfg;
    long long id;
    int attempt;                      /* 1-based; also the lease's fencing token */
    const char *kind;
    struct json_object *payload;      /* borrowed */
    const char *job_id;               /* payload's job_id, or NULL */
    struct db *db;                    /* the slot's connection, for kinds with SQL of their own */
    struct http_client *http;         /* the slot's outbound client (app/http_client.h), reused */
    double deadline;                  /* monotonic: past it the attempt is over */
    /* Keeps the lease and, with progress >= 0, records the job's progress.
     * Cheap to call often. Returns false once the task is no longer ours
     * (then stop and return TASK_HANDBACK). */
    bool (*beat)(struct task_ctx *ctx, int progress);
#define TASK_BEAT_CHECK (-2) /* progress value: ask the database now */
    atomic_int *cancel;               /* non-zero: stop now (shutdown, lost lease) */
    void *queue;                      /* the queue's own; kinds leave it alone */
} task_ctx;

typedef struct task_result {
    task_outcome outcome;
    double retry_after;               /* TASK_RETRY: seconds; 0: the kind's backoff */
    int code;                         /* for TASK_FAILED / TASK_RETRY: the job's error_code */
    char message[600];                /* safe for clients: never a server path */
    struct json_object *job_event;    /* owned: applied to the task's job on finish */
} task_result;

typedef struct task_kind {
    const char *name;
    void (*run)(task_ctx *ctx, task_result *res);
    int max_attempts;                 /* claims of one task; then it is dead */
    int timeout_s;                    /* hard cap of one attempt; 0: timeout_of's, else
                                       * MEDIAGATE_ENCODE_TIMEOUT */
    long (*timeout_of)(const struct config *cfg); /* timeout_s 0: the setting that caps one
                                                   * attempt; NULL: the encode timeout */
    double backoff_base, backoff_cap; /* seconds, for TASK_RETRY without retry_after */
    /* A task of this kind died (its workers kept dying): clean up what its
     * attempts left for job_id (may be NULL). NULL: nothing to clean. */
    void (*dead)(const struct config *cfg, const char *job_id);
    /* NULL: always. Else false when this worker's settings cannot run the
     * kind: it is then neither registered nor claimed here, and the SQL
     * that queues it (only for registered kinds) queues none. */
    bool (*serves)(const struct config *cfg);
    /* A background kind is claimed only when no task of another kind is
     * ready (app/worker/queue.c), so it never delays them. */
    bool background;
    /* A periodic kind: every worker start that serves it queues its one
     * task when none waits; its run snoozes itself to its next run. */
    bool periodic;
} task_kind;

extern const task_kind task_kinds[];
extern const size_t task_kinds_count;

const task_kind *task_kind_find(const char *name);
/* Seconds one attempt of kind k may run. */
double task_kind_timeout(const task_kind *k, const struct config *cfg);

/* Sets res to failed/retry with the job's ERROR event (code, msg). */
void task_fail(task_result *res, task_outcome outcome, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The kinds' run functions (app/worker/encode.c, settle.c, upload.c,
 * webhook.c). */
void kind_local_encode(task_ctx *ctx, task_result *res);
void kind_stream_settle(task_ctx *ctx, task_result *res);
void kind_stream_archive(task_ctx *ctx, task_result *res); /* app/worker/recordings.c */
bool kind_stream_archive_serves(const struct config *cfg);
void kind_noop(task_ctx *ctx, task_result *res);
void kind_upload_expire(task_ctx *ctx, task_result *res);
void kind_local_encode_dead(const struct config *cfg, const char *job_id);
void kind_tencent_process_media(task_ctx *ctx, task_result *res); /* app/worker/tencent.c */
bool kind_tencent_serves(const struct config *cfg);
/* Calls Tencent VOD's action (ProcessMedia, PullUpload) with body, whose
 * SessionId dedupes: res DONE with job_event {"backend_task_id"} (and
 * "backend_job_id": file_id when not NULL), or the retry or the job's
 * ERROR 21. A start Tencent refuses as a repeated SessionId is done. */
void tencent_start(task_ctx *ctx, const char *action, struct json_object *body,
                   const char *file_id, task_result *res);
void kind_sns_confirm(task_ctx *ctx, task_result *res); /* app/worker/sns.c */
void kind_jwplatform_refresh(task_ctx *ctx, task_result *res); /* app/worker/jwplatform.c */
bool kind_jwplatform_serves(const struct config *cfg);
void kind_jwplatform_update(task_ctx *ctx, task_result *res);  /* app/worker/jwplatform.c */
void kind_jwplatform_discard(task_ctx *ctx, task_result *res); /* app/worker/jwplatform.c */
/* upload.expire of slot id, when it is a JW Platform upload's: a video
 * that never got its file, or any whose job was canceled, is deleted on
 * JW and its create 'discarded' (the mirror no longer derives it). Returns 0 when the slot is to lapse
 * as any (its job CANCELED), 1 when the video got its file (res done:
 * nothing lapses), -1 with res set to retry. app/worker/jwplatform.c */
int jwplatform_upload_lapse(task_ctx *ctx, const char *id, task_result *res);
void kind_media_acl(task_ctx *ctx, task_result *res); /* app/worker/media_acl.c */
bool kind_media_acl_serves(const struct config *cfg);

/* The generic encoder kinds (app/worker/encoders.c): create through the
 * row whose create_kind is ctx->kind, the reconciler's poll, cancel. */
void kind_encoder_create(task_ctx *ctx, task_result *res);
void kind_encoder_poll(task_ctx *ctx, task_result *res);
void kind_encoder_cancel(task_ctx *ctx, task_result *res);

/* True when this worker serves k (k->serves). */
bool task_kind_served(const task_kind *k, const struct config *cfg);
void kind_webhook_deliver(task_ctx *ctx, task_result *res);

/* Seconds before the next attempt of a webhook delivery whose attempt
 * (1-based) failed: Standard Webhooks' schedule in units of unit_ms, times
 * 0.8 to 1.2 by jitter01 (0 to 1). Finite at any attempt. */
double webhook_retry_delay(int attempt, long unit_ms, double jitter01);

/* Upload by URL (app/worker/fetch.c). */
void kind_captions_publish(task_ctx *ctx, task_result *res); /* app/worker/captions.c */
void kind_thumbnail_make(task_ctx *ctx, task_result *res);   /* app/worker/thumbnail.c */
void kind_upload_fetch(task_ctx *ctx, task_result *res);
long kind_upload_fetch_timeout(const struct config *cfg);
/* A job's deletion (app/worker/job_delete.c). */
void kind_job_delete(task_ctx *ctx, task_result *res);
void kind_jobs_purge(task_ctx *ctx, task_result *res);
bool kind_jobs_purge_serves(const struct config *cfg);

#endif
