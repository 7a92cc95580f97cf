/* The task-kind table: every kind of background work is one row. */
#include "worker/kinds.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

const task_kind task_kinds[] = {
    /* An encode is expensive and a bad input does not get better. */
    {"local.encode", kind_local_encode, 3, 0, 5, 600, kind_local_encode_dead, NULL},
    /* A stopped stream that lost a callback: make its VOD job. */
    {"stream.settle", kind_stream_settle, 10, 60, 5, 300, NULL, NULL},
    /* A direct upload URL expired unused: its job is CANCELED. */
    {"upload.expire", kind_upload_expire, 10, 60, 5, 300, NULL, NULL},
    /* Tencent VOD ProcessMedia for a NewFileUpload: a call that may meet
     * Tencent's rate limit or an outage, retried for about a day. */
    {"tencent.process_media", kind_tencent_process_media, 12, 60, 5, 3600, NULL,
     kind_tencent_serves},
    /* A customer's webhook: Standard Webhooks' eight attempts over about a
     * day; the kind picks each delay itself (app/worker/webhook.c). */
    {"webhook.deliver", kind_webhook_deliver, 8, 60, 5, 36000, NULL, NULL},
    /* Confirm an SNS subscription: GET its SubscribeURL, valid 3 days. */
    {"sns.confirm", kind_sns_confirm, 10, 60, 5, 900, NULL, NULL},
    /* A JW Platform webhook named a video or channel: fetch it into the
     * mirror. Rate limits and outages are retried for about an hour. */
    {"jwplatform.refresh", kind_jwplatform_refresh, 10, 60, 2, 600, NULL, kind_jwplatform_serves},
    /* Nothing: for measuring the queue itself (bench/queue.sh). */
    {"noop", kind_noop, 3, 10, 1, 60, NULL, NULL},
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
    return k->timeout_s > 0 ? k->timeout_s : (double)cfg->encode_timeout;
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
