/* Tencent Cloud VOD v3 event notifications ("normal callbacks").
 *
 * Tencent signs nothing in a normal callback: the body carries no signature
 * and no signing header is documented. So the callback URL configured in
 * the VOD console carries a secret: /notifications/tencent?token=<secret>,
 * compared in constant time. Use HTTPS so that the token stays secret. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "notify/notify.h"

/* Adds "mediagate_job_id" to ev when ctx (a SourceContext or
 * SessionContext mediagate sent) names one of its jobs: a job id is at
 * most 200 printable characters. Returns 1 when added. */
static int tie_back(json_object *ev, const char *ctx)
{
    if (!ctx || !*ctx || strlen(ctx) > 200)
        return 0;
    for (const char *c = ctx; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return 0;
    json_object_object_add(ev, "mediagate_job_id", json_object_new_string(ctx));
    return 1;
}

/* NewFileUpload: a new job for the file, with ProcessMedia wanted; a
 * file that mediagate's PullUpload brought (its SourceContext names the
 * job) is that job's, and gets the job's profile's ProcessMedia. */
static int new_file(json_object *root, json_object *ev, char *err, size_t errcap)
{
    json_object *e, *info = NULL, *src;
    const char *fid, *url = NULL, *ctx = NULL;
    if (jobj(root, "FileUploadEvent", json_type_object, &e) != 1)
        FAIL("NewFileUpload without a FileUploadEvent object");
    if (jstr(e, "FileId", &fid) != 1 || !*fid || strlen(fid) > 100)
        FAIL("FileUploadEvent.FileId is missing or not a string");
    if (jobj(e, "MediaBasicInfo", json_type_object, &info) == 1 && jstr(info, "MediaUrl", &url) == -1)
        FAIL("MediaBasicInfo.MediaUrl is not a string");
    if (jobj(info, "SourceInfo", json_type_object, &src) == 1 &&
        jstr(src, "SourceContext", &ctx) == -1)
        FAIL("SourceInfo.SourceContext is not a string");
    json_object_object_add(ev, "job_id", json_object_new_string(fid));
    json_object_object_add(ev, "backend_job_id", json_object_new_string(fid));
    json_object_object_add(ev, "create", json_object_new_boolean(1));
    json_object_object_add(ev, "status", json_object_new_string("SUBMITTED"));
    if (!tie_back(ev, ctx))
        json_object_object_add(ev, "input_file", json_object_new_string(url && *url ? url : fid));
    json_object_object_add(ev, "want_process", json_object_new_boolean(1));
    return 0;
fail:
    return -1;
}

/* PullComplete (a PullUpload finished; also DescribeTaskDetail's
 * PullUploadTask): for a pull mediagate started (SessionContext names the
 * job), the job's file, or its ERROR. Others' pulls are left to their
 * NewFileUpload. */
static int pulled(json_object *root, json_object *ev, char *err, size_t errcap)
{
    json_object *e;
    const char *fid = NULL, *ctx = NULL, *status = "FINISH";
    int64_t code = 0;
    if (jobj(root, "PullCompleteEvent", json_type_object, &e) != 1)
        FAIL("PullComplete without a PullCompleteEvent object");
    if (jstr(e, "FileId", &fid) == -1 || (fid && strlen(fid) > 100))
        FAIL("PullCompleteEvent.FileId is not a string");
    if (jint(e, "ErrCode", INT32_MIN + 1, INT32_MAX, &code) == -1)
        FAIL("PullCompleteEvent.ErrCode is not an integer");
    if (jstr(e, "Status", &status) == -1 || jstr(e, "SessionContext", &ctx) == -1)
        FAIL("PullCompleteEvent.Status or SessionContext is not a string");
    if (!tie_back(ev, ctx)) {
        /* Not ours: at most a job already known by the file hears of it. */
        if (!fid || !*fid)
            FAIL("a PullComplete without a FileId or a mediagate job (SessionContext)");
        json_object_object_add(ev, "backend_job_id", json_object_new_string(fid));
        json_object_object_add(ev, "status", json_object_new_string("SUBMITTED"));
        return 0;
    }
    if (strcmp(status, "FINISH") != 0) {
        json_object_object_add(ev, "status", json_object_new_string("SUBMITTED"));
    } else if (code != 0 || !fid || !*fid) {
        const char *m = "the pull failed";
        jstr(e, "Message", &m);
        json_object_object_add(ev, "status", json_object_new_string("ERROR"));
        json_object_object_add(ev, "error_code", json_object_new_int64(code ? code : 21));
        json_object_object_add(ev, "error_message", json_object_new_string(m));
    } else {
        json_object_object_add(ev, "backend_job_id", json_object_new_string(fid));
        json_object_object_add(ev, "status", json_object_new_string("SUBMITTED"));
        json_object_object_add(ev, "want_process", json_object_new_boolean(1));
    }
    return 0;
fail:
    return -1;
}

/* One transcoding output (out, at url) as a variation in vars; the widest
 * HLS one (wider than *w_hls) is playlists' ".m3u8", by its name in the
 * output directory. */
static void variation(json_object *vars, json_object *playlists, json_object *out, const char *url,
                      int64_t *w_hls)
{
    const char *dot = strrchr(url, '.'), *base;
    bool hls = dot && strcmp(dot, ".m3u8") == 0;
    int64_t n;
    json_object *v = json_object_new_object();
    json_object_object_add(v, "format", json_object_new_string(hls ? "hls" : "mp4"));
    static const char *const nums[] = {"Width", "Height", "Bitrate", "Size"};
    static const char *const names[] = {"width", "height", "bitrate", "size"};
    for (size_t k = 0; k < 4; k++)
        if (jint(out, nums[k], 0, INT64_MAX - 1, &n) == 1)
            json_object_object_add(v, names[k], json_object_new_int64(n));
    json_object_object_add(v, "url", json_object_new_string(url));
    json_object_array_add(vars, v);
    if (hls && (jint(out, "Width", 0, 100000, &n) != 1 || n > *w_hls)) {
        char dir[1024];
        *w_hls = jint(out, "Width", 0, 100000, &n) == 1 ? n : 0;
        split_path(url, dir, sizeof dir, &base);
        json_object_object_add(playlists, ".m3u8", json_object_new_string(base));
    }
}

/* ProcedureStateChanged: every transcoding output, then COMPLETE or ERROR;
 * COMPLETE also says where the outputs are: output_path (the widest
 * output's directory), playlists (the widest HLS output's playlist) and
 * one variation per successful output. */
static int procedure(json_object *root, json_object *ev, char *err, size_t errcap)
{
    json_object *e, *set = NULL, *outputs = json_object_new_array(), *meta;
    json_object *vars = json_object_new_array(), *playlists = json_object_new_object();
    const char *fid, *status, *s, *ctx = NULL;
    int64_t code = 0, n, w_best = -1, w_hls = -1;
    const char *fail_msg = NULL;
    int64_t fail_code = 0;
    if (jobj(root, "ProcedureStateChangeEvent", json_type_object, &e) != 1)
        FAIL("ProcedureStateChanged without a ProcedureStateChangeEvent object");
    if (jstr(e, "FileId", &fid) != 1 || !*fid)
        FAIL("ProcedureStateChangeEvent.FileId is missing or not a string");
    if (jstr(e, "Status", &status) != 1)
        FAIL("ProcedureStateChangeEvent.Status is missing or not a string");
    if (jint(e, "ErrCode", INT32_MIN + 1, INT32_MAX, &code) == -1)
        FAIL("ProcedureStateChangeEvent.ErrCode is not an integer");
    if (jstr(e, "SessionContext", &ctx) == -1)
        FAIL("ProcedureStateChangeEvent.SessionContext is not a string");
    tie_back(ev, ctx);
    json_object_object_add(ev, "backend_job_id", json_object_new_string(fid));
    if (jobj(e, "MediaProcessResultSet", json_type_array, &set) == -1)
        FAIL("MediaProcessResultSet is not an array");
    for (size_t i = 0; set && json_object_is_type(set, json_type_array) &&
                       i < json_object_array_length(set); i++) {
        json_object *item = json_object_array_get_idx(set, i), *t, *in, *out;
        if (jstr(item, "Type", &s) != 1 || strcmp(s, "Transcode") != 0)
            continue;
        if (jobj(item, "TranscodeTask", json_type_object, &t) != 1)
            FAIL("a Transcode result without a TranscodeTask object");
        const char *tstatus = "";
        jstr(t, "Status", &tstatus);
        if (strcmp(tstatus, "FAIL") == 0 && !fail_msg) {
            fail_code = 0;
            jint(t, "ErrCode", INT32_MIN + 1, INT32_MAX, &fail_code);
            fail_msg = "transcoding failed";
            jstr(t, "Message", &fail_msg);
        }
        if (jobj(t, "Output", json_type_object, &out) != 1)
            continue;
        json_object *o = json_object_new_object();
        json_object_array_add(outputs, o);
        if (jstr(out, "Url", &s) == 1)
            json_object_object_add(o, "url", json_object_new_string(s));
        if (jobj(t, "Input", json_type_object, &in) == 1 && jint(in, "Definition", 0, INT32_MAX, &n) == 1)
            json_object_object_add(o, "definition", json_object_new_int64(n));
        static const char *nums[][2] = {{"Size", "size"}, {"Bitrate", "bitrate"},
                                        {"Width", "width"}, {"Height", "height"}};
        for (size_t k = 0; k < 4; k++) {
            int rc = jint(out, nums[k][0], 0, INT64_MAX - 1, &n);
            if (rc == -1)
                FAIL("TranscodeTask.Output.%s is not a non-negative integer", nums[k][0]);
            if (rc == 1)
                json_object_object_add(o, nums[k][1], json_object_new_int64(n));
        }
        int64_t w, h;
        if (strcmp(tstatus, "FAIL") != 0 && jstr(out, "Url", &s) == 1)
            variation(vars, playlists, out, s, &w_hls);
        if (jint(out, "Width", 0, 100000, &w) == 1 && w > w_best && strcmp(tstatus, "FAIL") != 0) {
            w_best = w;
            json_object_object_add(ev, "width_px", json_object_new_int64(w));
            if (jint(out, "Height", 0, 100000, &h) == 1)
                json_object_object_add(ev, "height_px", json_object_new_int64(h));
            if (jstr(out, "Url", &s) == 1) {
                char dir[1024];
                const char *base;
                split_path(s, dir, sizeof dir, &base);
                json_object_object_add(ev, "output_path", json_object_new_string(dir));
            }
        }
    }
    json_object_object_add(ev, "outputs", outputs);
    outputs = NULL;
    if (jobj(e, "MetaData", json_type_object, &meta) == 1) {
        json_object *d;
        if (json_object_object_get_ex(meta, "Duration", &d) &&
            (json_object_is_type(d, json_type_double) || json_object_is_type(d, json_type_int))) {
            double secs = json_object_get_double(d);
            if (secs >= 0 && secs < 1e9)
                json_object_object_add(ev, "duration_ms", json_object_new_int64((int64_t)(secs * 1000 + 0.5)));
        }
    }
    if (strcmp(status, "PROCESSING") == 0) {
        json_object_object_add(ev, "status", json_object_new_string("PROGRESSING"));
    } else if (strcmp(status, "FINISH") == 0) {
        if (code != 0 || fail_msg) {
            const char *m = "task flow failed";
            jstr(e, "Message", &m);
            json_object_object_add(ev, "status", json_object_new_string("ERROR"));
            json_object_object_add(ev, "error_code", json_object_new_int64(code ? code : fail_code));
            json_object_object_add(ev, "error_message", json_object_new_string(fail_msg && !code ? fail_msg : m));
        } else {
            json_object_object_add(ev, "status", json_object_new_string("COMPLETE"));
            json_object_object_add(ev, "variations", vars);
            json_object_object_add(ev, "playlists", playlists);
            vars = playlists = NULL;
        }
    } else if (strcmp(status, "WAITING") == 0) {
        json_object_object_add(ev, "status", json_object_new_string("SUBMITTED"));
    } else {
        FAIL("unknown ProcedureStateChangeEvent.Status '%.40s'", status);
    }
    json_object_put(vars);
    json_object_put(playlists);
    return 0;
fail:
    json_object_put(outputs);
    json_object_put(vars);
    json_object_put(playlists);
    return -1;
}

int tencent_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                 size_t errcap)
{
    const char *type, *s;
    if (jstr(root, "EventHandle", &s) == 1 && *s && strlen(s) < idcap)
        snprintf(id, idcap, "%s", s); /* longer: the body's hash names it */
    if (jstr(root, "EventType", &type) != 1)
        FAIL("EventType is missing or not a string");
    if (strcmp(type, "NewFileUpload") == 0) {
        if (new_file(root, ev, err, errcap) != 0)
            goto fail;
    } else if (strcmp(type, "PullComplete") == 0) {
        if (pulled(root, ev, err, errcap) != 0)
            goto fail;
    } else if (strcmp(type, "ProcedureStateChanged") == 0) {
        if (procedure(root, ev, err, errcap) != 0)
            goto fail;
    } else {
        FAIL("EventType '%.60s' is not handled", type);
    }
    return 0;
fail:
    return -1;
}
