/* POST /notifications/rtmp: nginx-rtmp's on_publish, on_publish_done and
 * on_update callbacks (form-encoded), a route of its own: they are nginx's
 * questions, not events to store, so none of the senders' common path
 * (handlers/notifications.c) applies. A broadcaster publishes to
 * <stream id>?key=<secret> (the stream_key /stream/start hands out), so the
 * stream name, and the HLS files named after it, show only the public id.
 * Only the key of a started, not stopped stream may publish. on_update
 * refuses a stopped stream, and nginx-rtmp then drops the publisher. nginx
 * allows this location from loopback only (nginx/mediagate.conf).
 *
 * With MEDIAGATE_RECORDINGS_DIR set, nginx-rtmp records each publish
 * (record all) and on_record_done reports the file; it arrives after
 * publish_done. Once the stream is stopped and its last recording closed,
 * mediagate_stream_vod() queues the VOD encode (sql/005_stream_vod.sql). */
#include <string.h>

#include <stdio.h>

#include "config.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "notify/notify.h"
#include "stream.h"

/* A recording nginx-rtmp reports: <MEDIAGATE_RECORDINGS_DIR>/<stream id><suffix>,
 * one plain file name. */
static bool recording_path_ok(const char *dir, const char *id, const char *path)
{
    size_t dl = strlen(dir);
    return *dir && strncmp(path, dir, dl) == 0 && path[dl] == '/' &&
           strncmp(path + dl + 1, id, UUID_LEN) == 0 && stream_plain_name(path + dl + 1);
}

/* One callback from nginx on this host: its answer's status, with r->out
 * set. */
static int callback(request *r)
{
    const config *c = r->cfg;
    int ret, st;
    PGresult *res = NULL;
    const char *call = stream_param(r, "call", &st);
    const char *name = stream_param(r, "name", &st);
    if (st) {
        ret = st;
        goto out;
    }
    if (!call || !name || !*name) {
        ret = reply_error(r, 400, "Not an nginx-rtmp callback: call and name are required.");
        goto out;
    }
    if (!uuid_valid(name, strlen(name))) {
        ret = reply_error(r, 403, "Not a stream id.");
        goto out;
    }
    const char *vals[] = {name};
    /* nginx-rtmp's id of the session (a number); NULL when it sends none. */
    const char *client = stream_param(r, "clientid", &st);
    if (st) {
        ret = st;
        goto out;
    }
    if (client && (!*client || strlen(client) > 20 || strspn(client, "0123456789") != strlen(client))) {
        ret = reply_error(r, 400, "clientid is not a number.");
        goto out;
    }
    if (strcmp(call, "publish") == 0) {
        /* The broadcaster publishes to <stream id>?key=<secret>; nginx-rtmp
         * passes the query along as form fields. */
        const char *key = stream_param(r, "key", &st);
        unsigned char h[32];
        sha256_raw(key ? key : "", strlen(key ? key : ""), h);
        const char *pv[] = {name, (const char *)h, client};
        int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
        ret = db_exec_params(r->db, STMT_RTMP_PUBLISH, 3, pv, lens, fmts, &res);
        if (ret)
            ret = reply_db_error(r, ret);
        else if (!key || PQntuples(res) != 1)
            ret = reply_error(r, 403, "Unknown or stopped stream, or wrong key.");
        else
            ret = 200;
    } else if (strcmp(call, "publish_done") == 0) {
        /* When nginx-rtmp records, the stream is written until record_done. */
        /* Only a session whose publish was accepted counts: nginx-rtmp
         * reports refused ones too (sql/009_rtmp_publishers.sql). */
        const char *dv[] = {name, *c->recordings_dir ? "t" : "f", c->vod_rtmp ? "t" : "f",
                            c->vod_put ? "t" : "f", client};
        ret = db_exec(r->db, STMT_RTMP_DONE, 5, dv, &res);
        ret = ret ? reply_db_error(r, ret) : 200;
    } else if (strcmp(call, "record_done") == 0) {
        const char *path = stream_param(r, "path", &st);
        if (!*c->recordings_dir) {
            ret = 200; /* recordings are not kept: nothing to do */
        } else if (!path || !recording_path_ok(c->recordings_dir, name, path)) {
            log_warn("stream %s: record_done path outside MEDIAGATE_RECORDINGS_DIR: %.200s", name,
                     path ? path : "(none)");
            ret = reply_error(r, 400, "The recording lies outside MEDIAGATE_RECORDINGS_DIR.");
        } else {
            const char *rv[] = {name, path, c->vod_rtmp ? "t" : "f", c->vod_put ? "t" : "f"};
            ret = db_exec(r->db, STMT_RTMP_RECORDED, 4, rv, &res);
            ret = ret ? reply_db_error(r, ret) : 200;
        }
    } else if (strcmp(call, "update_publish") == 0) {
        ret = db_exec(r->db, STMT_RTMP_UPDATE, 1, vals, &res);
        if (ret)
            ret = reply_db_error(r, ret);
        else if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "STOPPED") == 0)
            ret = reply_error(r, 403, "The stream is stopped.");
        else
            ret = 200;
    } else {
        ret = reply_error(r, 400, "Unsupported nginx-rtmp call.");
        goto out;
    }
    if (ret == 200) {
        r->out = json_object_new_object();
        json_object_object_add(r->out, "success", json_object_new_boolean(1));
    }
out:
    PQclear(res);
    return ret;
}

int handle_rtmp(request *r)
{
    char why[128], msg[160];
    int ret = notify_loopback(r, "rtmp", why, sizeof why);
    if (ret) {
        snprintf(msg, sizeof msg, "%s.", why);
        ret = reply_error(r, ret, msg);
    } else {
        ret = callback(r);
    }
    /* Counted as the senders are, under the backend name it always had. */
    metrics_notification("rtmp", notify_outcome(ret, NULL));
    return ret;
}
