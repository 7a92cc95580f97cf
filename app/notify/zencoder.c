/* Zencoder (Brightcove) API v2 job notifications, authenticated by the
 * X-Zencoder-Notification-Secret header. The job must exist already (it is
 * created when the job is submitted); an unknown job gets 404. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "notify/notify.h"

static const struct {
    const char *zencoder, *ours;
} states[] = {
    {"pending", "SUBMITTED"}, {"waiting", "SUBMITTED"}, {"queued", "SUBMITTED"},
    {"assigning", "SUBMITTED"}, {"processing", "PROGRESSING"}, {"finished", "COMPLETE"},
    {"failed", "ERROR"}, {"cancelled", "CANCELED"},
};

int zencoder_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                 size_t errcap)
{
    const char *state, *s, *ours = NULL;
    json_object *job, *outs, *input, *list = NULL, *jid;
    int64_t n;
    char jobid[32];
    (void)id;
    (void)idcap; /* Zencoder names no event: the body's hash is the id */
    if (jobj(root, "job", json_type_object, &job) != 1)
        FAIL("no job object");
    if (!json_object_object_get_ex(job, "id", &jid) || !jid)
        FAIL("job.id is missing");
    if (json_object_is_type(jid, json_type_int) && jint(job, "id", 0, INT64_MAX - 1, &n) == 1)
        snprintf(jobid, sizeof jobid, "%lld", (long long)n);
    else if (json_object_is_type(jid, json_type_string) && json_object_get_string_len(jid) > 0 &&
             json_object_get_string_len(jid) < (int)sizeof jobid)
        snprintf(jobid, sizeof jobid, "%s", json_object_get_string(jid));
    else
        FAIL("job.id is not a positive integer or a short string");
    if (jstr(job, "state", &state) != 1)
        FAIL("job.state is missing or not a string");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(states[i].zencoder, state) == 0)
            ours = states[i].ours;
    if (!ours)
        FAIL("unknown job.state '%.40s'", state);

    json_object_object_add(ev, "backend_job_id", json_object_new_string(jobid));
    json_object_object_add(ev, "status", json_object_new_string(ours));
    if (jstr(job, "updated_at", &s) == 1)
        json_object_object_add(ev, "event_time", json_object_new_string(s));
    if (jobj(root, "input", json_type_object, &input) == 1) {
        int rc = jint(input, "duration_in_ms", 0, INT64_MAX - 1, &n);
        if (rc == -1)
            FAIL("input.duration_in_ms is not a non-negative integer");
        if (rc == 1)
            json_object_object_add(ev, "duration_ms", json_object_new_int64(n));
    }
    int ro = jobj(root, "outputs", json_type_array, &outs);
    if (ro == -1)
        FAIL("outputs is not an array");
    list = json_object_new_array();
    for (size_t i = 0; ro == 1 && i < json_object_array_length(outs); i++) {
        json_object *o = json_object_array_get_idx(outs, i), *m;
        int64_t w = -1, h = -1, size = -1;
        if (!json_object_is_type(o, json_type_object))
            FAIL("outputs[%zu] is not an object", i);
        if (jstr(o, "format", &s) != 1)
            FAIL("outputs[%zu].format is missing", i);
        if (jint(o, "width", 0, 100000, &w) == -1 || jint(o, "height", 0, 100000, &h) == -1 ||
            jint(o, "file_size_in_bytes", 0, INT64_MAX - 1, &size) == -1)
            FAIL("outputs[%zu] has a bad width, height or file_size_in_bytes", i);
        m = json_object_new_object();
        json_object_object_add(m, "format", json_object_new_string(strcmp(s, "mpeg4") == 0 ? "mp4" : s));
        json_object_object_add(m, "width", w >= 0 ? json_object_new_int64(w) : NULL);
        json_object_object_add(m, "height", h >= 0 ? json_object_new_int64(h) : NULL);
        json_object_object_add(m, "file_size_in_bytes", size >= 0 ? json_object_new_int64(size) : NULL);
        if (jstr(o, "url", &s) == 1)
            json_object_object_add(m, "url", json_object_new_string(s));
        json_object_array_add(list, m);
        if (strcmp(ours, "ERROR") == 0 && jstr(o, "error", &s) == 1 &&
            !json_object_object_get_ex(ev, "error_message", NULL))
            json_object_object_add(ev, "error_message", json_object_new_string(s));
        if (w > 0 && !json_object_object_get_ex(ev, "width_px", NULL)) {
            json_object_object_add(ev, "width_px", json_object_new_int64(w));
            if (h >= 0)
                json_object_object_add(ev, "height_px", json_object_new_int64(h));
        }
    }
    json_object_object_add(ev, "outputs_by_format", list);
    return 0;
fail:
    json_object_put(list);
    return -1;
}
