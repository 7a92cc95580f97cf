/* Mux Video webhooks, signed Mux-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
 * "t.body"> with the endpoint's signing secret (verify_hmac_tv1).
 *
 * The job is the asset: its id is the asset id. video.asset.created makes
 * it PROGRESSING (Mux prepares it at once), .ready COMPLETE with the
 * duration, the video track's size, the static renditions and the HLS
 * playlist of the first public playback id, .errored ERROR with Mux's
 * messages. video.upload.asset_created links a direct upload to its asset:
 * the asset's job gets the upload id as input_file, so /media/job_id finds
 * it by the upload (a passthrough, a JSON object with input_file or plain
 * text, names the input instead). An asset mediagate made (the mux
 * encoder, app/encoders/mux.c) has the job's id, a UUID, as passthrough;
 * anyone's own assets may have a UUID there too. The event then carries
 * "mediagate_job" too, which the database applies only when a job
 * mediagate made for Mux has that id: then that job (mediagate_job_id),
 * never a new one, and a signed playback id gives its playlist when there
 * is no public one; else the asset is anyone's, as above.
 * video.upload.errored / .cancelled / .timed_out end the job of a direct
 * upload (app/uploads/mux.c) at once, found the same way (upload_ended).
 * Every other event type is stored and acknowledged, never applied: Mux
 * retries anything but a 2xx for a day. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "notify/notify.h"
#include "request.h"

#define MUX_STREAM "https://stream.mux.com/"
#define MUX_ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* A time as Mux sends it: an ISO-8601 string, or Unix seconds as an
 * integer or as a string of digits (the asset's created_at in the API's
 * answers). Writes an ISO time into out; returns 1, 0 when absent, -1 when
 * malformed. */
static int mux_time(json_object *o, const char *key, char out[40])
{
    const char *s;
    int64_t secs;
    int rc = jstr(o, key, &s);
    if (rc == 1) {
        size_t n = strlen(s);
        if (!*s || n >= 40 || strspn(s, "0123456789-:.TZ+ ") != n)
            return -1;
        if (strspn(s, "0123456789") == n) {
            if (n > 11 || (secs = strtoll(s, NULL, 10)) > 32503680000LL)
                return -1;
            iso_time_ms(secs * 1000, out);
        } else
            snprintf(out, 40, "%s", s);
        return 1;
    }
    if ((rc = jint(o, key, 0, 32503680000LL, &secs)) != 1)
        return rc;
    iso_time_ms(secs * 1000, out);
    return 1;
}

/* The input a passthrough names: a JSON object's input_file, else the
 * passthrough itself; NULL when there is none. */
static const char *passthrough_input(json_object *settings, json_object **keep)
{
    const char *p, *f, *perr;
    if (jstr(settings, "passthrough", &p) != 1 || !*p)
        return NULL;
    json_object *o = parse_json(p, strlen(p), &perr);
    if (o && json_object_is_type(o, json_type_object) && jstr(o, "input_file", &f) == 1 && *f) {
        *keep = o;
        return f;
    }
    json_object_put(o);
    return p;
}

void mux_add_playback(json_object *asset, json_object *ev, bool signed_too)
{
    json_object *ids, *pick = NULL;
    if (jobj(asset, "playback_ids", json_type_array, &ids) != 1)
        return;
    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        json_object *p = json_object_array_get_idx(ids, i);
        const char *policy, *id;
        if (jstr(p, "policy", &policy) != 1 || jstr(p, "id", &id) != 1 || !*id ||
            strlen(id) > 200 || strspn(id, MUX_ID_CHARS) != strlen(id))
            continue;
        if (strcmp(policy, "public") == 0) {
            pick = p;
            break;
        }
        if (!pick && signed_too && strcmp(policy, "signed") == 0)
            pick = p;
    }
    if (!pick)
        return;
    char name[220];
    snprintf(name, sizeof name, "%s.m3u8", jstr_or(pick, "id", ""));
    json_object *pl = json_object_new_object();
    json_object_object_add(pl, ".m3u8", json_object_new_string(name));
    json_object_object_add(ev, "playlists", pl);
    json_object_object_add(ev, "output_path", json_object_new_string(MUX_STREAM));
}

/* The job a passthrough may name: mediagate's assets carry the job's id
 * (a UUID), but so may anyone's own assets (their video's id). NULL when
 * it is no UUID. */
static const char *passthrough_job(json_object *settings)
{
    const char *p;
    if (jstr(settings, "passthrough", &p) != 1 || !uuid_valid(p, strlen(p)))
        return NULL;
    return p;
}

/* video.asset.ready: duration, size, renditions and playlists. */
static int ready(json_object *data, json_object *ev, char *err, size_t errcap)
{
    json_object *v, *tracks, *sr, *files, *outputs = NULL;
    int64_t w_best = -1, h_best = -1, sr_w = -1, sr_h = -1, w, h;
    if (json_object_object_get_ex(data, "duration", &v) && v) {
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            FAIL("data.duration is not a number");
        double secs = json_object_get_double(v);
        if (!(secs >= 0 && secs < 1e9))
            FAIL("data.duration is out of range");
        json_object_object_add(ev, "duration_ms", json_object_new_int64(llround(secs * 1000)));
    }
    if (jobj(data, "tracks", json_type_array, &tracks) == 1)
        for (size_t i = 0; i < json_object_array_length(tracks); i++) {
            json_object *t = json_object_array_get_idx(tracks, i);
            const char *type;
            if (jstr(t, "type", &type) != 1 || strcmp(type, "video") != 0)
                continue;
            if (jint(t, "max_width", 0, 100000, &w) == 1 && w > w_best) {
                w_best = w;
                h_best = jint(t, "max_height", 0, 100000, &h) == 1 ? h : -1;
            }
        }
    if (jobj(data, "static_renditions", json_type_object, &sr) == 1 &&
        jobj(sr, "files", json_type_array, &files) == 1) {
        outputs = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(files); i++) {
            json_object *f = json_object_array_get_idx(files, i), *o;
            const char *s;
            int64_t n;
            if (!json_object_is_type(f, json_type_object))
                FAIL("static_renditions.files[%zu] is not an object", i);
            json_object_array_add(outputs, o = json_object_new_object());
            static const char *strs[] = {"name", "ext", "resolution_tier", "status"};
            for (size_t k = 0; k < 4; k++)
                if (jstr(f, strs[k], &s) == 1)
                    json_object_object_add(o, strs[k], json_object_new_string(s));
            static const char *nums[][2] = {{"width", "width"}, {"height", "height"},
                                            {"bitrate", "bitrate"}, {"filesize", "size"}};
            for (size_t k = 0; k < 4; k++) {
                int rc = jint(f, nums[k][0], 0, INT64_MAX - 1, &n);
                /* Mux sends filesize as a decimal string. */
                if (rc == -1 && jstr(f, nums[k][0], &s) == 1 && *s && strlen(s) < 19 &&
                    strspn(s, "0123456789") == strlen(s)) {
                    n = strtoll(s, NULL, 10);
                    rc = 1;
                }
                if (rc == -1)
                    FAIL("static_renditions.files[%zu].%s is not a non-negative integer", i,
                         nums[k][0]);
                if (rc == 1)
                    json_object_object_add(o, nums[k][1], json_object_new_int64(n));
            }
            if (jint(f, "width", 0, 100000, &w) == 1 && w > sr_w) {
                sr_w = w;
                sr_h = jint(f, "height", 0, 100000, &h) == 1 ? h : -1;
            }
        }
        json_object_object_add(ev, "outputs", outputs);
        outputs = NULL;
    }
    if (w_best < 0) { /* no video track: the widest static rendition */
        w_best = sr_w;
        h_best = sr_h;
    }
    if (w_best >= 0)
        json_object_object_add(ev, "width_px", json_object_new_int64(w_best));
    if (h_best >= 0)
        json_object_object_add(ev, "height_px", json_object_new_int64(h_best));
    mux_add_playback(data, ev, false);
    return 0;
fail:
    json_object_put(outputs);
    return -1;
}

/* video.asset.errored: "type: message; message". */
static void errored(json_object *data, json_object *ev)
{
    json_object *e, *msgs;
    const char *type = NULL, *m;
    char text[1024] = "";
    size_t n = 0;
    if (jobj(data, "errors", json_type_object, &e) == 1) {
        if (jstr(e, "type", &type) == 1 && *type)
            n = (size_t)snprintf(text, sizeof text, "%.200s", type);
        if (jobj(e, "messages", json_type_array, &msgs) == 1)
            for (size_t i = 0; i < json_object_array_length(msgs) && n < sizeof text; i++) {
                json_object *x = json_object_array_get_idx(msgs, i);
                if (!json_object_is_type(x, json_type_string))
                    continue;
                m = json_object_get_string(x);
                n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", n ? (i ? "; " : ": ") : "", m);
            }
    }
    json_object_object_add(ev, "status", json_object_new_string("ERROR"));
    json_object_object_add(ev, "error_message",
                           json_object_new_string(text[0] ? text : "Mux could not process the asset"));
}

/* video.upload.errored, .cancelled, .timed_out: a direct upload that ended
 * without an asset. When its passthrough (new_asset_settings) may be a job
 * mediagate made for it, "mediagate_job" ends that job: ERROR with Mux's
 * "type: message", or CANCELED; else (anyone's upload, or not ours after
 * all: mediagate_notify_apply) the event is only stored. */
static void upload_ended(json_object *data, const char *how, json_object *ev)
{
    json_object *settings, *e, *mine;
    const char *job = NULL, *type = "", *m = "";
    char text[1024];
    json_object_object_add(ev, "no_job", json_object_new_boolean(1));
    if (jobj(data, "new_asset_settings", json_type_object, &settings) != 1 ||
        !(job = passthrough_job(settings)))
        return;
    if (strcmp(how, "errored") == 0) {
        if (jobj(data, "error", json_type_object, &e) == 1) {
            jstr(e, "type", &type);
            jstr(e, "message", &m);
        }
        snprintf(text, sizeof text, "%.200s%s%.800s", type, *type && *m ? ": " : "", m);
        if (!*text)
            snprintf(text, sizeof text, "Mux refused the upload");
    } else
        snprintf(text, sizeof text, "%s",
                 strcmp(how, "timed_out") == 0 ? "the upload URL expired before a file arrived"
                                                : "the upload was cancelled at Mux");
    mine = json_object_new_object();
    json_object_object_add(mine, "mediagate_job_id", json_object_new_string(job));
    json_object_object_add(mine, "status",
                           json_object_new_string(*how == 'e' ? "ERROR" : "CANCELED"));
    json_object_object_add(mine, "error_message", json_object_new_string(text));
    json_object_object_add(ev, "mediagate_job", mine);
}

int mux_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
              size_t errcap)
{
    const char *type, *s, *asset = NULL, *input = NULL, *ours = NULL;
    json_object *data, *obj, *settings, *keep = NULL, *mine = NULL;
    char t[40];
    if (jstr(root, "id", &s) == 1 && *s && strlen(s) < idcap)
        snprintf(id, idcap, "%s", s); /* longer: the body's hash names it */
    if (jstr(root, "type", &type) != 1)
        FAIL("type is missing or not a string");
    bool asset_ev = strncmp(type, "video.asset.", 12) == 0;
    bool linked = strcmp(type, "video.upload.asset_created") == 0;
    static const char *const ended[] = {"errored", "cancelled", "timed_out"};
    for (size_t i = 0; i < 3 && strncmp(type, "video.upload.", 13) == 0; i++)
        if (strcmp(type + 13, ended[i]) == 0) {
            if (jobj(root, "data", json_type_object, &data) != 1)
                FAIL("no data object");
            upload_ended(data, ended[i], ev);
            return 0;
        }
    if (!(asset_ev && (strcmp(type + 12, "created") == 0 || strcmp(type + 12, "ready") == 0 ||
                       strcmp(type + 12, "errored") == 0)) &&
        !linked) {
        /* Not about a job's state: stored and acknowledged. */
        json_object_object_add(ev, "no_job", json_object_new_boolean(1));
        return 0;
    }
    if (jobj(root, "data", json_type_object, &data) != 1)
        FAIL("no data object");
    int rc = mux_time(root, "created_at", t);
    if (rc == 0)
        rc = mux_time(data, "created_at", t);
    if (rc == -1)
        FAIL("created_at is neither an ISO time nor Unix seconds");
    if (rc == 1)
        json_object_object_add(ev, "event_time", json_object_new_string(t));
    if (linked) {
        if (jstr(data, "asset_id", &asset) != 1)
            FAIL("data.asset_id is missing or not a string");
        if (jobj(data, "new_asset_settings", json_type_object, &settings) == 1) {
            ours = passthrough_job(settings);
            input = passthrough_input(settings, &keep);
        }
        if (!input && jstr(data, "id", &s) == 1 && *s)
            input = s;
    } else {
        if (jstr(data, "id", &asset) != 1 &&
            !(jobj(root, "object", json_type_object, &obj) == 1 && jstr(obj, "id", &asset) == 1))
            FAIL("data.id is missing or not a string");
        ours = passthrough_job(data);
        input = passthrough_input(data, &keep);
        if (!input && jstr(data, "upload_id", &s) == 1 && *s)
            input = s;
    }
    if (!*asset || strlen(asset) > 200)
        FAIL("the asset id is not a string of 1 to 200 characters");
    json_object_object_add(ev, "job_id", json_object_new_string(asset));
    json_object_object_add(ev, "backend_job_id", json_object_new_string(asset));
    json_object_object_add(ev, "create", json_object_new_boolean(1));
    if (input)
        json_object_object_add(ev, "input_file", json_object_new_string(input));
    if (ours) {
        /* Whether a UUID is mediagate's job only the database knows
         * (mediagate_notify_apply): if a job mediagate made for Mux has
         * that id (made before its asset), "mediagate_job" replaces create
         * and input_file, and names where it plays (signed too: its ACL
         * chose); else the asset is anyone's, as above. */
        mine = json_object_new_object();
        json_object_object_add(mine, "mediagate_job_id", json_object_new_string(ours));
        json_object_object_add(ev, "mediagate_job", mine);
    }
    json_object_put(keep);
    keep = NULL;
    if (linked)
        return 0;
    if (strcmp(type + 12, "created") == 0) {
        json_object *p;
        int64_t pct;
        json_object_object_add(ev, "status", json_object_new_string("PROGRESSING"));
        if (jobj(data, "progress", json_type_object, &p) == 1 &&
            jint(p, "progress", 0, 100, &pct) == 1)
            json_object_object_add(ev, "progress_rate", json_object_new_int64(pct));
    } else if (strcmp(type + 12, "ready") == 0) {
        json_object_object_add(ev, "status", json_object_new_string("COMPLETE"));
        if (ready(data, ev, err, errcap) != 0)
            goto fail;
        if (mine)
            mux_add_playback(data, mine, true);
    } else {
        errored(data, ev);
    }
    return 0;
fail:
    json_object_put(keep);
    return -1;
}
