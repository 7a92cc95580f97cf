/* The tencent.process_media kind, two ways in:
 * - a NewFileUpload mediagate did not ask for (app/notify/tencent.c)
 *   queues it with {"job_id", "file_id"} in the transaction that creates
 *   the job: this starts ProcessMedia with MEDIAGATE_TENCENT_DEFINITIONS'
 *   templates, SessionId = the FileId (Tencent's own 3-day dedupe key), so
 *   a retry after a lost answer never starts a second transcode;
 * - a job mediagate creates on the tencent encoder (a profile) queues it
 *   with the create payload {"job_id", "profile", "input"}: the generic
 *   create (app/worker/encoders.c) runs the encoder's row
 *   (app/encoders/tencent.c).
 * ProcedureStateChanged later completes the job. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "encoders/encoder.h"
#include "json.h"
#include "log.h"
#include "providers/tencent_vod.h"
#include "worker/kinds.h"

#define TENCENT_ERROR 21 /* the job's error_code when Tencent refuses for good */

bool kind_tencent_serves(const config *cfg)
{
    return encoder_tencent.configured(cfg);
}

/* The ProcessMedia body for file_id: a new reference. */
static json_object *request_body(const config *cfg, const char *file_id)
{
    json_object *b = json_object_new_object(), *task = json_object_new_object(),
                *set = json_object_new_array();
    char session[51];
    for (int i = 0; i < cfg->tencent_ndefs; i++) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "Definition", json_object_new_int64(cfg->tencent_defs[i]));
        json_object_array_add(set, t);
    }
    json_object_object_add(task, "TranscodeTaskSet", set);
    json_object_object_add(b, "FileId", json_object_new_string(file_id));
    json_object_object_add(b, "MediaProcessTask", task);
    tencent_vod_session_id("", file_id, session);
    json_object_object_add(b, "SessionId", json_object_new_string(session));
    return b;
}

void tencent_start(task_ctx *ctx, const char *action, json_object *body, const char *file_id,
                   task_result *res)
{
    tencent_vod_answer a = {.code = ""};
    const char *job = ctx->job_id ? ctx->job_id : "-";
    tencent_vod_call(ctx->http, ctx->cfg, action, body, &a);
    if (a.result == TENCENT_VOD_FINAL && strcmp(a.code, "InvalidParameterValue.SessionId") == 0) {
        /* A start with this SessionId already happened: ours, whose
         * answer was lost. Not an error; the TaskId stays unknown. */
        log_info("task %lld: %s for %s was started already (SessionId)", ctx->id, action, job);
        res->outcome = TASK_DONE;
        goto out;
    }
    if (a.result != TENCENT_VOD_OK) {
        res->retry_after = a.retry_after;
        task_fail(res, a.result == TENCENT_VOD_RETRY ? TASK_RETRY : TASK_FAILED, TENCENT_ERROR,
                  "%s", a.message);
        goto out;
    }
    const char *task_id = jstr_or(a.response, "TaskId", NULL);
    if (!task_id || !*task_id || strlen(task_id) > 200) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "Tencent %s: an answer without a TaskId",
                  action);
        goto out;
    }
    res->outcome = TASK_DONE;
    res->job_event = json_object_new_object();
    json_object_object_add(res->job_event, "backend_task_id", json_object_new_string(task_id));
    log_info("task %lld: %s started for job %s: TaskId %s", ctx->id, action, job, task_id);
out:
    if (res->outcome == TASK_DONE && file_id) {
        if (!res->job_event)
            res->job_event = json_object_new_object();
        json_object_object_add(res->job_event, "backend_job_id", json_object_new_string(file_id));
    }
    tencent_vod_answer_free(&a);
}

void kind_tencent_process_media(task_ctx *ctx, task_result *res)
{
    const config *cfg = ctx->cfg;
    json_object *body = NULL;
    const char *fid = "";
    if (json_object_object_get_ex(ctx->payload, "profile", NULL)) {
        kind_encoder_create(ctx, res);
        return;
    }
    if (jstr(ctx->payload, "file_id", &fid) <= 0 || !*fid) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "the task names no Tencent FileId");
        goto out;
    }
    if (!cfg->tencent_process) {
        /* No MEDIAGATE_TENCENT_DEFINITIONS: a file mediagate did not ask
         * for is left to Tencent's own task flow. */
        log_info("task %lld: no MEDIAGATE_TENCENT_DEFINITIONS: ProcessMedia for %s is left to "
                 "Tencent's task flow", ctx->id, fid);
        res->outcome = TASK_DONE;
        goto out;
    }
    body = request_body(cfg, fid);
    tencent_start(ctx, "ProcessMedia", body, fid, res);
out:
    json_object_put(body);
}
