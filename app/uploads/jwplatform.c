/* The jwplatform upload target (app/uploads/target.h), as the seed's
 * mediaplatform_jwp did it: the video is created on JW Platform
 * (/v1/videos/create with title, a description JW accepts and
 * custom.sms_acl, the job's ACL) and the browser gets JW's upload link,
 * https forced unless MEDIAGATE_JWPLATFORM_FORCE_HTTPS_UPLOAD is off. The
 * file goes to JW; the mirror picks the video up by JW's webhooks.
 *
 * A create whose answer is lost never leaves a job pointing nowhere: the
 * create is recorded (jwplatform_creates) before JW is called, with a
 * jwplatform.discard task, and the video carries the record's id as
 * custom.mediagate_upload. The job, the uploads row and the video's state
 * are written in one transaction once JW answered; until then nothing is
 * visible, a video of an unanswered create is never derived into a job,
 * and the task deletes it on JW (app/worker/jwplatform.c). The request
 * waits on JW (CALL_MS at most per call), in one of upload_platform_enter's
 * places: when they are all taken, 503 before anything is made. */
#include "uploads/target.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
#include "jwplatform/api.h"
#include "log.h"
#include "request.h"

/* The description of every video: JW refuses a blank one. */
#define JW_DESCRIPTION " "
/* Seconds after which an unanswered create's video is looked for: past
 * any request's life (jw_api_get's 60 s). */
#define DISCARD_AFTER 600
/* The deadline of each call JW is asked inside the request (its create,
 * a discard): a request thread waits that long at most. */
#define CALL_MS 10000

/* True when s is 1 to max bytes of [A-Za-z0-9] and the bytes of extra. */
static bool plain(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    return true;
}

/* JW's answer to /videos/create: the video's key into key (65 bytes) and
 * the upload link, {protocol}://{address}{path}?api_format=json&key=…&token=…,
 * into url (https forced when force). Returns 0, or -1 when the answer
 * lacks a piece or a piece is not plain. */
static int upload_link(json_object *root, bool force, char key[65], char *url, size_t cap)
{
    json_object *media, *link, *query;
    const char *k, *proto, *addr, *path, *qkey, *token;
    if (jobj(root, "media", json_type_object, &media) <= 0 || jstr(media, "key", &k) <= 0 ||
        jobj(root, "link", json_type_object, &link) <= 0 ||
        jobj(link, "query", json_type_object, &query) <= 0 || jstr(link, "protocol", &proto) <= 0 ||
        jstr(link, "address", &addr) <= 0 || jstr(link, "path", &path) <= 0 ||
        jstr(query, "key", &qkey) <= 0 || jstr(query, "token", &token) <= 0)
        return -1;
    if (!plain(k, 64, "_-") || !plain(qkey, 64, "_-") || !plain(token, 256, "_-") ||
        !plain(addr, 253, ".-:") || path[0] != '/' || !plain(path + 1, 512, "/._-~") ||
        (strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0))
        return -1;
    snprintf(key, 65, "%s", k);
    int n = snprintf(url, cap, "%s://%s%s?api_format=json&key=%s&token=%s", force ? "https" : proto,
                     addr, path, qkey, token);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Records the end of create id without a job: state 'failed' (JW refused
 * it) or 'discarded' (its video deleted at once). Best effort: the
 * jwplatform.discard task ends any create left 'creating'. */
static void create_end(request *r, const char *id, const char *state, const char *key)
{
    PGresult *res = NULL;
    const char *vals[] = {id, state, key};
    if (db_exec(r->db, STMT_JW_UPLOAD_END, 3, vals, &res) != 0)
        log_error("upload %s: the JW Platform create could not be marked %s", id, state);
    PQclear(res);
}

/* The video key JW made for a create whose job could not be recorded:
 * deleted on JW at once (best effort; else the task does it later). */
static void discard_now(request *r, jw_api *api, const char *id, const char *key)
{
    json_object *root = NULL;
    char err[300];
    double after;
    jw_param prm[] = {{"video_key", key}};
    jw_outcome oc = jw_api_get(api, "videos/delete", prm, 1, &root, &after, err, sizeof err);
    if (oc == JW_OK || oc == JW_NOT_FOUND)
        create_end(r, id, "discarded", key);
    else
        log_error("upload %s: JW Platform video %s stays until the jwplatform.discard task "
                  "deletes it: %s",
                  id, key, err);
    json_object_put(root);
}

int upload_target_jwplatform_create(request *r, const upload_slot *s)
{
    int ret;
    PGresult *res = NULL;
    http_client hc = {0};
    jw_api api = {0};
    json_object *root = NULL, *u;
    char id[UUID_BUF], after[24], acl[1100], key[65], url[2048], maxbuf[24], err[512];
    double wait;
    bool waiting = false; /* holding an upload_platform_enter place */
    const char *title = s->title && *s->title ? s->title : s->name;
    if (!jw_title_ok(title))
        return reply_error(r, 400, "title must be 1 to 1000 bytes without control characters.");
    /* Both go in the signed query (jw_api_get's cap): 1500 bytes each, encoded. */
    if ((size_t)snprintf(acl, sizeof acl, "acl:%s:", s->acl ? s->acl : "WORLD") >= sizeof acl ||
        !jw_value_fits(title) || !jw_value_fits(acl))
        return reply_error(r, 400,
                           "The title or the ACL is too long for JW Platform (1500 bytes "
                           "each, percent-encoded).");
    if ((ret = upload_platform_enter(r, "JW Platform")) != 0)
        return ret;
    waiting = true;
    if (http_client_init(&hc, r->cfg->outbound_allow_loopback) != 0 ||
        jw_api_init(&api, r->cfg, &hc) != 0) {
        ret = reply_error(r, 500, "Out of memory.");
        goto out;
    }
    hc.ca_file = r->cfg->outbound_ca_file;
    api.timeout_ms = CALL_MS;
    uuid_new(id);
    snprintf(after, sizeof after, "%d", DISCARD_AFTER);
    const char *bv[] = {id, s->owner, after};
    if ((ret = db_exec(r->db, STMT_JW_UPLOAD_BEGIN, 3, bv, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    PQclear(res);
    res = NULL;
    jw_param prm[] = {{"title", title},
                      {"description", JW_DESCRIPTION},
                      {"custom.sms_acl", acl},
                      {"custom.mediagate_upload", id}};
    jw_outcome oc = jw_api_get(&api, "videos/create", prm, 4, &root, &wait, err, sizeof err);
    if (oc == JW_UNREACHED || oc == JW_RATE_LIMITED || oc == JW_SERVER_ERROR) {
        /* JW may have made it: the task looks for it later. */
        log_error("upload %s: JW Platform /videos/create: %s", id, err);
        ret = reply_error(r, 503,
                          "JW Platform did not answer the video's creation; nothing "
                          "was made. Try again.");
        goto out;
    }
    if (oc != JW_OK) {
        log_error("upload %s: JW Platform refused /videos/create: %s", id, err);
        create_end(r, id, "failed", NULL);
        ret = reply_error(r, 502, "JW Platform refused to create the video.");
        goto out;
    }
    if (upload_link(root, r->cfg->jwplatform_force_https_upload, key, url, sizeof url) != 0) {
        log_error("upload %s: JW Platform's /videos/create answer has no usable media.key "
                  "and link",
                  id);
        ret = reply_error(r, 502, "JW Platform's answer has no usable upload link.");
        goto out;
    }
    snprintf(maxbuf, sizeof maxbuf, "%lld", s->max_bytes);
    const char *cv[] = {id, key, s->name, s->content_type, maxbuf, title, acl};
    ret = db_exec(r->db, STMT_JW_UPLOAD_CREATED, 7, cv, &res);
    if (ret || PQgetisnull(res, 0, 0)) {
        discard_now(r, &api, id, key);
        ret = ret ? reply_db_error(r, ret)
                  : reply_error(r, 503, "The video's creation took too long. Try again.");
        goto out;
    }
    char job[80];
    snprintf(job, sizeof job, "jwplatform:%s", key);
    log_info("upload %s: JW Platform video %s, job %s", id, key, job);
    u = json_object_new_object();
    json_object_object_add(u, "id", json_object_new_string(id));
    json_object_object_add(u, "target", json_object_new_string("jwplatform"));
    json_object_object_add(u, "url", json_object_new_string(url));
    json_object_object_add(u, "method", json_object_new_string("POST"));
    json_object_object_add(u, "form_field", json_object_new_string("file"));
    json_object_object_add(u, "expires_at", json_object_new_string(PQgetvalue(res, 0, 0)));
    json_object_object_add(u, "video_key", json_object_new_string(key));
    json_object_object_add(u, "title", json_object_new_string(title));
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(job));
    json_object_object_add(r->out, "upload", u);
    r->location = arena_strdup(r->a, url);
    r->cache_control = "no-store";
    ret = 201;
out:
    if (waiting)
        upload_platform_leave();
    json_object_put(root);
    jw_api_free(&api);
    http_client_free(&hc);
    PQclear(res);
    return ret;
}
