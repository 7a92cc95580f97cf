/* AWS Elemental MediaConvert "MediaConvert Job State Change" events, as an
 * EventBridge API destination delivers them: the raw event as the body,
 * authenticated by the API-key header of the destination's connection. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "notify/notify.h"

/* COMPLETE: duration, the largest rendition's size, playlists and the
 * output directory from outputGroupDetails. Returns 0 or -1 with err. */
static int read_outputs(json_object *detail, json_object *ev, char *err, size_t errcap)
{
    json_object *groups, *playlists = json_object_new_object();
    int64_t duration = -1, width = -1, height = -1;
    char outdir[1024] = "";
    if (jobj(detail, "outputGroupDetails", json_type_array, &groups) != 1)
        FAIL("COMPLETE without an outputGroupDetails array");
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g), *paths, *outs;
        if (!json_object_is_type(grp, json_type_object))
            FAIL("outputGroupDetails[%zu] is not an object", g);
        if (jobj(grp, "playlistFilePaths", json_type_array, &paths) == 1)
            for (size_t i = 0; i < json_object_array_length(paths); i++) {
                json_object *p = json_object_array_get_idx(paths, i);
                if (!json_object_is_type(p, json_type_string))
                    FAIL("playlistFilePaths holds a non-string");
                const char *base;
                char dir[1024];
                split_path(json_object_get_string(p), dir, sizeof dir, &base);
                const char *dot = strrchr(base, '.');
                json_object_object_add(playlists, dot ? dot : "", json_object_new_string(base));
                if (!outdir[0])
                    snprintf(outdir, sizeof outdir, "%s", dir);
            }
        if (jobj(grp, "outputDetails", json_type_array, &outs) != 1)
            continue;
        for (size_t i = 0; i < json_object_array_length(outs); i++) {
            json_object *o = json_object_array_get_idx(outs, i), *vd, *files;
            int64_t d, w, h;
            if (!json_object_is_type(o, json_type_object))
                FAIL("outputDetails[%zu] is not an object", i);
            if (jint(o, "durationInMs", 0, INT64_MAX - 1, &d) == -1)
                FAIL("durationInMs is not a non-negative integer");
            if (jint(o, "durationInMs", 0, INT64_MAX - 1, &d) == 1 && d > duration)
                duration = d;
            if (jobj(o, "videoDetails", json_type_object, &vd) == 1) {
                if (jint(vd, "widthInPx", 0, 100000, &w) == -1 ||
                    jint(vd, "heightInPx", 0, 100000, &h) == -1)
                    FAIL("videoDetails has a bad widthInPx or heightInPx");
                if (jint(vd, "widthInPx", 0, 100000, &w) == 1 && w > width) {
                    width = w;
                    height = jint(vd, "heightInPx", 0, 100000, &h) == 1 ? h : -1;
                }
            }
            if (!outdir[0] && jobj(o, "outputFilePaths", json_type_array, &files) == 1 &&
                json_object_array_length(files) > 0 &&
                json_object_is_type(json_object_array_get_idx(files, 0), json_type_string)) {
                const char *base;
                split_path(json_object_get_string(json_object_array_get_idx(files, 0)), outdir,
                           sizeof outdir, &base);
            }
        }
    }
    if (duration >= 0)
        json_object_object_add(ev, "duration_ms", json_object_new_int64(duration));
    if (width >= 0)
        json_object_object_add(ev, "width_px", json_object_new_int64(width));
    if (height >= 0)
        json_object_object_add(ev, "height_px", json_object_new_int64(height));
    if (outdir[0])
        json_object_object_add(ev, "output_path", json_object_new_string(outdir));
    json_object_object_add(ev, "playlists", playlists);
    return 0;
fail:
    json_object_put(playlists);
    return -1;
}

int mediaconvert_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                 size_t errcap)
{
    const char *s, *job, *status;
    json_object *detail, *x;
    int64_t ts = -1, pct;
    if (jstr(root, "detail-type", &s) == 1 && strcmp(s, "MediaConvert Job State Change") != 0)
        FAIL("detail-type '%.80s' is not a MediaConvert Job State Change", s);
    if (jobj(root, "detail", json_type_object, &detail) != 1)
        FAIL("no detail object");
    if (jstr(detail, "jobId", &job) != 1 || !*job || strlen(job) > 200)
        FAIL("detail.jobId is missing or not a string of 1 to 200 characters");
    if (jstr(detail, "status", &status) != 1)
        FAIL("detail.status is missing or not a string");
    if (jint(detail, "timestamp", 0, 32503680000000LL, &ts) == -1)
        FAIL("detail.timestamp is not a time in milliseconds");
    if (ts >= 0)
        snprintf(id, idcap, "%s:%s:%lld", job, status, (long long)ts);
    else if (jstr(root, "id", &s) == 1 && strlen(s) < idcap)
        snprintf(id, idcap, "%s", s); /* longer: the body's hash names it */

    json_object_object_add(ev, "job_id", json_object_new_string(job));
    json_object_object_add(ev, "backend_job_id", json_object_new_string(job));
    json_object_object_add(ev, "create", json_object_new_boolean(1));
    if (ts >= 0) {
        char t[32];
        iso_time_ms(ts, t);
        json_object_object_add(ev, "event_time", json_object_new_string(t));
    }
    if (jobj(detail, "userMetadata", json_type_object, &x) == 1) {
        if (jstr(x, "input_file", &s) == 1)
            json_object_object_add(ev, "input_file", json_object_new_string(s));
        /* A job mediagate created names itself: its events find it even
         * before the create's answer is recorded. */
        if (jstr(x, "mediagate_job_id", &s) == 1 && *s && strlen(s) <= 64)
            json_object_object_add(ev, "mediagate_job_id", json_object_new_string(s));
    }

    if (strcmp(status, "SUBMITTED") == 0 || strcmp(status, "PROGRESSING") == 0 ||
        strcmp(status, "CANCELED") == 0) {
        json_object_object_add(ev, "status", json_object_new_string(status));
    } else if (strcmp(status, "STATUS_UPDATE") == 0) {
        json_object_object_add(ev, "status", json_object_new_string("PROGRESSING"));
        if (jobj(detail, "jobProgress", json_type_object, &x) == 1) {
            int rc = jint(x, "jobPercentComplete", 0, 100, &pct);
            if (rc == -1)
                FAIL("jobProgress.jobPercentComplete is not an integer from 0 to 100");
            if (rc == 1)
                json_object_object_add(ev, "progress_rate", json_object_new_int64(pct));
        }
    } else if (strcmp(status, "INPUT_INFORMATION") == 0) {
        json_object *inputs;
        if (jobj(detail, "inputDetails", json_type_array, &inputs) == 1 &&
            json_object_array_length(inputs) > 0 &&
            jstr(json_object_array_get_idx(inputs, 0), "uri", &s) == 1)
            json_object_object_add(ev, "input_file", json_object_new_string(s));
    } else if (strcmp(status, "COMPLETE") == 0) {
        json_object_object_add(ev, "status", json_object_new_string("COMPLETE"));
        if (read_outputs(detail, ev, err, errcap) != 0)
            goto fail;
    } else if (strcmp(status, "ERROR") == 0) {
        int64_t code;
        int rc = jint(detail, "errorCode", INT32_MIN + 1, INT32_MAX, &code);
        json_object_object_add(ev, "status", json_object_new_string("ERROR"));
        if (rc == -1)
            FAIL("detail.errorCode is not an integer");
        if (rc == 1)
            json_object_object_add(ev, "error_code", json_object_new_int64(code));
        if (jstr(detail, "errorMessage", &s) == 1)
            json_object_object_add(ev, "error_message", json_object_new_string(s));
    } else {
        FAIL("unknown detail.status '%.40s'", status);
    }
    return 0;
fail:
    return -1;
}
