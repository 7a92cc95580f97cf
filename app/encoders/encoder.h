#ifndef MEDIAGATE_ENCODERS_ENCODER_H
#define MEDIAGATE_ENCODERS_ENCODER_H
#include <stdbool.h>
#include <stddef.h>

#include "profile.h"
#include "worker/kinds.h"

struct config;
struct json_object;

/* The encoders mediagate drives, each a row of encoders[]
 * (app/encoders/encoders.c), each in app/encoders/<name>.c. A job's
 * backend is its encoder's name. The generic kinds (app/worker/encoders.c)
 * load the job and its profile, make the input URL, and call the row:
 * create (the row's create_kind), poll (encoder.poll, the reconciler) and
 * cancel (encoder.cancel). A row never touches the queue or SQL. */

/* What a call knows of the job. Strings are borrowed for the call. */
typedef struct encode_job {
    const char *id;             /* mediagate's job id */
    const char *backend_job_id; /* the encoder's id; NULL until its create answered */
    const char *backend_task_id;
    const char *input_file;     /* as clients name it */
    const char *input_url;      /* create: the signed, expiring URL the encoder fetches;
                                 * NULL when the input is not a file (a Tencent FileId) */
    const char *file_id;        /* Tencent: the FileId to process; NULL otherwise */
    const char *acl;            /* NULL: WORLD */
    const char *status;         /* the job's status now */
    const profile *profile;     /* the job's profile as it was at create */
    const char *notify_url;     /* MEDIAGATE_PUBLIC_URL + "/notifications/<name>" (the
                                 * row adds its own secret), or NULL */
    const char *destination;    /* where outputs go, "s3://bucket/prefix/media/<job id>/",
                                 * or NULL (the encoder keeps them: Mux, Tencent) */
    double age_s;               /* seconds since the job was created */
    double quiet_s;             /* seconds since its last event (or its create) */
} encode_job;

typedef struct encoder {
    const char *name;           /* jobs.backend; also POST /notifications/<name> */
    const char *create_kind;    /* the task kind that creates a job here */
    /* True when this host's settings let it call the encoder. */
    bool (*configured)(const struct config *cfg);
    /* 0 when the encoder can honour every rendition and packaging of p;
     * else -1 and the reason, naming the rendition, in err. Called when a
     * profile is written, never at encode time. */
    int (*check)(const struct config *cfg, const profile *p, char *err, size_t errcap);
    /* Starts the job at the encoder. res: TASK_DONE with res->job_event
     * {"backend_job_id": ..., anything else known}; TASK_RETRY on what a
     * later attempt may not meet (no answer, 5xx, throttling; retry_after
     * from the provider when it says); TASK_FAILED (task_fail) with the
     * provider's code and message on its final errors. Idempotent across
     * attempts: ctx->attempt > 1 means an earlier outcome may be unknown,
     * and a second job must never result (the attempt counts every create
     * call made for the job, an operator's retry of a dead task included).
     * NULL for local (its kind is the encode itself). */
    void (*create)(task_ctx *ctx, const encode_job *job, task_result *res);
    /* Asks the encoder for the job's state (job->backend_job_id set).
     * Returns 0 with *ev a new normalized event as the notification
     * parser makes (backend_job_id, status, progress_rate, outputs...),
     * *body the provider's answer (malloc'd; kept as the notification's
     * body) and its length, and event_id naming this state (equal states
     * dedupe: e.g. "poll:<id>:<status>:<progress>"); 1 when the attempt
     * should be retried later (err says why); -1 when the encoder knows
     * no such job (err says so). NULL: nothing to poll. */
    int (*poll)(task_ctx *ctx, const encode_job *job, struct json_object **ev, char **body,
                size_t *len, char *event_id, size_t idcap, char *err, size_t errcap);
    /* Cancels the job at the encoder. 0 canceled or nothing to cancel
     * (already final there), 1 retry later, -1 failed for good; err says
     * why. job->backend_job_id is NULL when no create's answer named the
     * job (called after every create attempt ended): look for it by
     * mediagate's id as a create's check before a resend does (0 when
     * there is none). NULL: the encoder cannot cancel (the job is only
     * marked). */
    int (*cancel)(task_ctx *ctx, const encode_job *job, char *err, size_t errcap);
    /* The encoder's own limit for a job in progress (MediaConvert: 48 h),
     * in seconds; past it the reconciler makes the job ERROR. 0: none. */
    double max_running_s;
} encoder;

extern const encoder *const encoders[];
extern const size_t encoders_count;

/* The row named name, or NULL. */
const encoder *encoder_find(const char *name);
/* The row whose create_kind is kind, or NULL. */
const encoder *encoder_for_kind(const char *kind);

/* What pick answers for each row (NULL: the row is left out), as a
 * PostgreSQL text[] literal, into out: e.g. the create kinds. */
void encoder_array(char *out, size_t cap, const char *(*pick)(const encoder *e));
/* Picks for encoder_array: a row's create kind; its name when it can
 * cancel (the p_remote of mediagate_job_cancel), else NULL. */
const char *encoder_pick_create_kind(const encoder *e);
const char *encoder_pick_canceler(const encoder *e);

/* The rows (app/encoders/<name>.c). */
extern const encoder encoder_local, encoder_mediaconvert, encoder_zencoder, encoder_mux,
    encoder_tencent;

#endif
