/* The tencent encoder's row: Tencent Cloud VOD (API 3.0, 2018-07-17).
 * - create: a FileId (a file already at Tencent) gets ProcessMedia with
 *   one TranscodeTaskSet entry per rendition and packaging, each a preset
 *   transcoding template (presets[] below), SessionContext = the job id
 *   (echoed in ProcedureStateChanged) and SessionId = "pm-<job id>"
 *   (Tencent's 3-day dedupe: a retry after a lost answer starts nothing
 *   new). An input elsewhere gets PullUpload (upload by URL) of the signed
 *   input URL with SourceContext = the job id (echoed in NewFileUpload's
 *   MediaBasicInfo.SourceInfo) and SessionId = "pull-<job id>"; its
 *   NewFileUpload (or PullComplete) ties back to the job and queues the
 *   ProcessMedia step (mediagate_apply_job_event).
 * - poll: DescribeTaskDetail of the job's task (the pull's, then the
 *   transcode's), read as the matching event. A job whose TaskId never
 *   reached mediagate (the start's answer was lost, and its retry met the
 *   SessionId repeat) finds it first with DescribeTasks (the job's FileId,
 *   when known): the task whose SessionId is the job's ("pm-", else
 *   "pull-").
 * - cancel: Tencent's API has no call that stops a started media
 *   processing task, so the row has none: the job is only marked
 *   CANCELED, and Tencent's later events change nothing. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "encoders/encoder.h"
#include "json.h"
#include "notify/notify.h"
#include "providers/tencent_vod.h"

#define TENCENT_ERROR 21 /* the job's error_code when Tencent refuses for good */

/* Tencent's preset transcoding templates (H.264, AAC), by short side:
 * the "Preset Transcoding Templates" page of Tencent Cloud VOD. */
static const struct preset {
    int width, height; /* landscape; a portrait input's long side follows */
    int hls, mp4;      /* template ids */
} presets[] = {
    {640, 360, 100210, 100010},   {960, 540, 100220, 100020},   {1280, 720, 100230, 100030},
    {1920, 1080, 100240, 100040}, {2560, 1440, 100270, 100070}, {3840, 2160, 100280, 100080},
};
#define NPRESETS (sizeof presets / sizeof presets[0])
#define MAX_DEFS (2 * PROFILE_MAX_RENDITIONS)

static bool configured(const config *cfg)
{
    return *cfg->tencent_secret_id && *cfg->tencent_secret_key;
}

/* The preset for rendition r, or NULL with the reason in err. */
static const struct preset *preset_for(const rendition *r, int i, char *err, size_t errcap)
{
    if (strcmp(r->codec, "h264") != 0 && *r->codec) {
        snprintf(err, errcap, "rendition %d: Tencent's preset templates are H.264, not %s", i + 1,
                 r->codec);
        return NULL;
    }
    if (r->video_kbps != 0 || r->audio_kbps != 0) {
        snprintf(err, errcap,
                 "rendition %d: Tencent's preset templates set their own bitrates and keep the "
                 "audio: give video_kbps and audio_kbps 0",
                 i + 1);
        return NULL;
    }
    for (size_t k = 0; k < NPRESETS; k++)
        if ((!r->height || r->height == presets[k].height) &&
            (!r->width || r->width == presets[k].width))
            return &presets[k];
    snprintf(err, errcap,
             "rendition %d: Tencent has no preset template of %dx%d (heights 360, 540, 720, "
             "1080, 1440, 2160; widths 640, 960, 1280, 1920, 2560, 3840)",
             i + 1, r->width, r->height);
    return NULL;
}

/* The template ids of p into defs (at most MAX_DEFS): HLS first, then
 * MP4. Returns their count, or -1 with err. */
static int definitions(const profile *p, int *defs, char *err, size_t errcap)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0 && !p->hls) || (pass == 1 && !p->mp4))
            continue;
        for (int i = 0; i < p->nrend; i++) {
            const struct preset *t = preset_for(&p->rend[i], i, err, errcap);
            if (!t)
                return -1;
            defs[n++] = pass == 0 ? t->hls : t->mp4;
        }
    }
    if (n == 0) {
        snprintf(err, errcap, "the profile asks for no HLS or MP4 output");
        return -1;
    }
    return n;
}

static int check(const config *cfg, const profile *p, char *err, size_t errcap)
{
    int defs[MAX_DEFS];
    (void)cfg;
    return definitions(p, defs, err, errcap) < 0 ? -1 : 0;
}

/* The ProcessMedia or PullUpload body for job: a new reference, or NULL
 * with err. */
static json_object *create_body(const encode_job *job, const char **action, char *err,
                                size_t errcap)
{
    char session[51];
    json_object *b = json_object_new_object();
    if (job->file_id) {
        int defs[MAX_DEFS], n = definitions(job->profile, defs, err, errcap);
        if (n < 0)
            goto fail;
        json_object *task = json_object_new_object(), *set = json_object_new_array();
        for (int i = 0; i < n; i++) {
            json_object *t = json_object_new_object();
            json_object_object_add(t, "Definition", json_object_new_int(defs[i]));
            json_object_array_add(set, t);
        }
        json_object_object_add(task, "TranscodeTaskSet", set);
        json_object_object_add(b, "FileId", json_object_new_string(job->file_id));
        json_object_object_add(b, "MediaProcessTask", task);
        tencent_vod_session_id("pm-", job->id, session);
        *action = "ProcessMedia";
    } else if (job->input_url) {
        json_object_object_add(b, "MediaUrl", json_object_new_string(job->input_url));
        const char *dot = job->input_file ? strrchr(job->input_file, '.') : NULL;
        if (dot && dot[1] && strlen(dot + 1) <= 8 && !strchr(dot, '/'))
            json_object_object_add(b, "MediaType", json_object_new_string(dot + 1));
        json_object_object_add(b, "SourceContext", json_object_new_string(job->id));
        tencent_vod_session_id("pull-", job->id, session);
        *action = "PullUpload";
    } else {
        snprintf(err, errcap, "the job has neither a Tencent FileId nor an input URL");
        goto fail;
    }
    json_object_object_add(b, "SessionContext", json_object_new_string(job->id));
    json_object_object_add(b, "SessionId", json_object_new_string(session));
    return b;
fail:
    json_object_put(b);
    return NULL;
}

static void create(task_ctx *ctx, const encode_job *job, task_result *res)
{
    char err[300];
    const char *action = "";
    json_object *body = NULL;
    if (job->status && strcmp(job->status, "CANCELED") == 0) {
        /* A retry after the job was canceled: Tencent cannot be asked
         * whether an earlier attempt started it (nor cancel it), and a new
         * start must not happen. */
        res->outcome = TASK_DONE;
        return;
    }
    body = create_body(job, &action, err, sizeof err);
    if (!body) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "%s", err);
        return;
    }
    tencent_start(ctx, action, body, job->file_id, res);
    json_object_put(body);
}

/* DescribeTaskDetail's answer r as the event a push would carry: a new
 * reference, or NULL with err. */
static json_object *as_event(json_object *r, char *err, size_t errcap)
{
    const char *type = jstr_or(r, "TaskType", "");
    json_object *task, *root = json_object_new_object();
    const char *member = strcmp(type, "Procedure") == 0    ? "ProcedureTask"
                         : strcmp(type, "PullUpload") == 0 ? "PullUploadTask"
                                                           : NULL;
    if (!member || jobj(r, member, json_type_object, &task) != 1) {
        snprintf(err, errcap, "DescribeTaskDetail: TaskType '%.40s' without its task", type);
        json_object_put(root);
        return NULL;
    }
    bool proc = member[0] == 'P' && member[1] == 'r';
    json_object_object_add(root, "EventType",
                           json_object_new_string(proc ? "ProcedureStateChanged" : "PullComplete"));
    json_object_object_add(root, proc ? "ProcedureStateChangeEvent" : "PullCompleteEvent",
                           json_object_get(task));
    return root;
}

/* The TaskId of job's newest start (ProcessMedia's, else PullUpload's),
 * found by its SessionId with DescribeTasks: 0 with it in out, 1 when
 * Tencent has none (yet) or did not answer (err says why). */
static int find_task(task_ctx *ctx, const encode_job *job, char *out, size_t cap, char *err,
                     size_t errcap)
{
    int ret = 1, best = 0;
    tencent_vod_answer a = {.code = ""};
    json_object *req = json_object_new_object(), *set;
    char pm[51], pull[51];
    tencent_vod_session_id("pm-", job->id, pm);
    tencent_vod_session_id("pull-", job->id, pull);
    const char *fid = job->backend_job_id ? job->backend_job_id : job->file_id;
    if (fid)
        json_object_object_add(req, "FileId", json_object_new_string(fid));
    json_object_object_add(req, "Limit", json_object_new_int(100));
    tencent_vod_call(ctx->http, ctx->cfg, "DescribeTasks", req, &a);
    if (a.result != TENCENT_VOD_OK) {
        snprintf(err, errcap, "no Tencent TaskId is known for the job; DescribeTasks: %s",
                 a.message);
        goto out;
    }
    if (jobj(a.response, "TaskSet", json_type_array, &set) != 1)
        set = NULL;
    for (size_t i = 0; set && i < json_object_array_length(set); i++) {
        json_object *t = json_object_array_get_idx(set, i);
        const char *sid = jstr_or(t, "SessionId", ""), *tid = jstr_or(t, "TaskId", "");
        int rank = strcmp(sid, pm) == 0 ? 2 : strcmp(sid, pull) == 0 ? 1 : 0;
        if (rank > best && *tid && strlen(tid) < cap) {
            best = rank;
            snprintf(out, cap, "%s", tid);
        }
    }
    if (best)
        ret = 0;
    else
        snprintf(err, errcap, "no Tencent TaskId is known for the job, and DescribeTasks lists "
                              "none of its starts yet");
out:
    json_object_put(req);
    tencent_vod_answer_free(&a);
    return ret;
}

static int poll(task_ctx *ctx, const encode_job *job, json_object **ev, char **body, size_t *len,
                char *event_id, size_t idcap, char *err, size_t errcap)
{
    int ret = 1;
    tencent_vod_answer a = {.code = ""};
    json_object *req = NULL, *root = NULL;
    char id[8], found[201];
    const char *task_id = job->backend_task_id;
    *ev = NULL;
    if (!task_id) {
        if (find_task(ctx, job, found, sizeof found, err, errcap) != 0)
            goto out;
        task_id = found;
    }
    req = json_object_new_object();
    json_object_object_add(req, "TaskId", json_object_new_string(task_id));
    tencent_vod_call(ctx->http, ctx->cfg, "DescribeTaskDetail", req, &a);
    if (a.result != TENCENT_VOD_OK) {
        snprintf(err, errcap, "%s", a.message);
        if (strncmp(a.code, "ResourceNotFound", 16) == 0 ||
            strcmp(a.code, "InvalidParameterValue.TaskId") == 0)
            ret = -1;
        goto out;
    }
    root = as_event(a.response, err, errcap);
    if (!root)
        goto out;
    *ev = json_object_new_object();
    if (tencent_parse(root, *ev, id, sizeof id, err, errcap) != 0) {
        json_object_put(*ev);
        *ev = NULL;
        goto out;
    }
    snprintf(event_id, idcap, "poll:%s:%s:%s:%lld", task_id,
             jstr_or(a.response, "Status", ""), jstr_or(*ev, "status", ""),
             (long long)json_object_get_int64(json_object_object_get(*ev, "progress_rate")));
    *body = a.body;
    *len = a.body_len;
    a.body = NULL;
    ret = 0;
out:
    json_object_put(root);
    json_object_put(req);
    tencent_vod_answer_free(&a);
    return ret;
}

const encoder encoder_tencent = {.name = "tencent",
                                 .create_kind = "tencent.process_media",
                                 .configured = configured,
                                 .check = check,
                                 .create = create,
                                 .poll = poll,
                                 .cancel = NULL,
                                 .max_running_s = 0};
