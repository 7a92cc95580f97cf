/* Zencoder (Brightcove) API v2 job notifications, authenticated by the
 * X-Zencoder-Notification-Secret header. The job is found by Zencoder's job
 * id, or, for a job mediagate created, by its own id that the job carries
 * in pass_through (the notification may come before the create's answer
 * is recorded); an unknown job gets 404. The finished job's outputs say
 * where it is: the playlist output (a "playlist" type, the HLS master)
 * names output_path and playlists, the others are the job's variations. */
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

/* url without the user:password@ an FTP or SFTP destination may carry
 * (never shown to callers), into out (cap bytes). */
static void url_public(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://"), *at, *end;
    if (!scheme) {
        snprintf(out, cap, "%s", url);
        return;
    }
    end = scheme + 3 + strcspn(scheme + 3, "/?#");
    at = memchr(scheme + 3, '@', (size_t)(end - scheme - 3));
    while (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
        at = memchr(at + 1, '@', (size_t)(end - at - 1));
    if (at)
        snprintf(out, cap, "%.*s%s", (int)(scheme + 3 - url), url, at + 1);
    else
        snprintf(out, cap, "%s", url);
}

/* The playlist output o (url public already): its directory becomes the
 * job's output_path, its name the playlist of its extension. */
static void add_playlist(json_object *ev, json_object *playlists, const char *url)
{
    const char *base, *dot;
    char dir[2048];
    split_path(url, dir, sizeof dir, &base);
    dot = strrchr(base, '.');
    if (!json_object_object_get_ex(playlists, dot ? dot : "", NULL))
        json_object_object_add(playlists, dot ? dot : "", json_object_new_string(base));
    if (!json_object_object_get_ex(ev, "output_path", NULL))
        json_object_object_add(ev, "output_path", json_object_new_string(dir));
}

int zencoder_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                   size_t errcap)
{
    const char *state, *s, *ours = NULL;
    json_object *job, *outs, *input, *list = NULL, *playlists = NULL, *jid;
    int64_t n;
    char jobid[32], first_dir[2048] = "";
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
    /* A job mediagate created carries mediagate's job id. */
    if (jstr(job, "pass_through", &s) == 1 && *s && strlen(s) <= 200)
        json_object_object_add(ev, "mediagate_job_id", json_object_new_string(s));
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
    playlists = json_object_new_object();
    for (size_t i = 0; ro == 1 && i < json_object_array_length(outs); i++) {
        json_object *o = json_object_array_get_idx(outs, i), *m;
        int64_t w = -1, h = -1, size = -1;
        const char *type = NULL, *url = NULL;
        char pub[2048];
        if (!json_object_is_type(o, json_type_object))
            FAIL("outputs[%zu] is not an object", i);
        if (jstr(o, "type", &type) == -1 || jstr(o, "url", &url) == -1)
            FAIL("outputs[%zu] has a type or url that is not a string", i);
        if (url)
            url_public(url, pub, sizeof pub);
        /* The playlist output: its type says (a notification), or it is
         * an .m3u8 with no format (a job's details). */
        if ((type && strcmp(type, "playlist") == 0) ||
            (!type && url && jstr(o, "format", &s) == 0 && strstr(url, ".m3u8"))) {
            if (url)
                add_playlist(ev, playlists, pub);
            continue;
        }
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
        if (jstr(o, "label", &s) == 1)
            json_object_object_add(m, "label", json_object_new_string(s));
        if (url) {
            const char *base;
            json_object_object_add(m, "url", json_object_new_string(pub));
            if (!first_dir[0])
                split_path(pub, first_dir, sizeof first_dir, &base);
        }
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
    list = NULL;
    if (strcmp(ours, "COMPLETE") == 0) {
        /* Without a playlist output (one MP4, as Pillar's jobs), the first
         * output's directory holds them. */
        if (!json_object_object_get_ex(ev, "output_path", NULL) && first_dir[0])
            json_object_object_add(ev, "output_path", json_object_new_string(first_dir));
        json_object_object_add(ev, "playlists", playlists);
        playlists = NULL;
    }
    json_object_put(playlists);
    return 0;
fail:
    json_object_put(list);
    json_object_put(playlists);
    return -1;
}
