/* The mux upload target (app/uploads/target.h): a Mux direct upload
 * (POST /video/v1/uploads), whose URL the browser PUTs the file to.
 *
 * The job and its uploads row are made first, in one transaction; then
 * Mux is asked, with new_asset_settings as the mux encoder gives an asset
 * (app/encoders/mux.h: playback policy from the job's ACL, the profile's
 * tier and MP4, passthrough = the job id), timeout = MEDIAGATE_UPLOAD_SLOT_TTL
 * and cors_origin = the page's allowed Origin (without one, the origin of
 * MEDIAGATE_PUBLIC_URL; with neither, 400). Mux's upload id is recorded
 * (uploads.platform_upload_id, and the job's input_file). Mux has no
 * idempotency key: an answer lost on the way leaves at most a Mux upload
 * nobody holds the URL of, which times out by itself; the job is an ERROR
 * at once. Any asset Mux makes of the upload names the job in its
 * passthrough, so video.upload.asset_created and video.asset.* reach this
 * job (app/notify/mux.c), never a new one. At the slot's expiry
 * (UPLOAD_PLATFORM_GRACE_S after Mux's timeout) a slot whose asset never
 * came is canceled at Mux (PUT /video/v1/uploads/<id>/cancel) and its job
 * CANCELED (app/worker/upload.c). The create waits on Mux in the request:
 * at most upload_platform_enter's share of the threads do (others 503). */
#include "uploads/target.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "encoders/mux.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "profile.h"
#include "providers/mux_api.h"
#include "request.h"

#define CREATE_MS 15000 /* the create call's deadline: a browser waits for it */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* True when id is a Mux id that may go into a URL path. */
static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n && n <= 200 && strspn(id, ID_CHARS) == n;
}

/* The origin (scheme://host[:port]) of MEDIAGATE_PUBLIC_URL into out, or
 * "" when it is not set. */
static void public_origin(const config *c, char *out, size_t cap)
{
    const char *u = c->public_url, *p = strstr(u, "://");
    size_t n = p ? (size_t)(p + 3 - u) + strcspn(p + 3, "/") : 0;
    snprintf(out, cap, "%.*s", (int)n, u);
}

/* The create body for job of slot s: a new reference, or NULL with the
 * reason in err (a profile snapshot that does not parse). */
static json_object *create_body(const config *c, const upload_slot *s, const char *job,
                                const char *origin, char *err, size_t errcap)
{
    profile p;
    const char *perr, *name = "";
    json_object *spec = parse_json(s->profile_snap, strlen(s->profile_snap), &perr), *b = NULL;
    jstr(spec, "name", &name);
    if (!spec || profile_parse(name, spec, &p, err, errcap) != 0)
        goto out;
    b = json_object_new_object();
    json_object_object_add(b, "new_asset_settings", mux_asset_settings(&p, s->acl, job));
    json_object_object_add(b, "cors_origin", json_object_new_string(origin));
    json_object_object_add(b, "timeout", json_object_new_int64(c->upload_slot_ttl));
out:
    json_object_put(spec);
    return b;
}

/* Asks Mux for the direct upload. Returns 0 with its id and URL (in r's
 * arena), or the status to reply (502: Mux refused; 503: no answer) with
 * why. */
static int ask_mux(request *r, const char *body, const char **id, const char **url, char *why,
                   size_t cap)
{
    int ret = 503;
    http_client hc = {0};
    http_response resp = {0};
    json_object *root = NULL, *d;
    const char *perr, *v, *u;
    if (http_client_init(&hc, false) != 0) {
        snprintf(why, cap, "no outbound client");
        goto out;
    }
    hc.ca_file = r->cfg->outbound_ca_file;
    http_outcome oc =
        mux_api_call(&hc, r->cfg, "POST", "/video/v1/uploads", body, CREATE_MS, true, &resp);
    if (oc != HTTP_ANSWERED) {
        snprintf(why, cap, "%s (%s)", http_outcome_name(oc), resp.err);
        goto out;
    }
    if (resp.status != 201 && resp.status != 200) {
        mux_api_error_text(&resp, why, cap);
        ret = resp.status == 429 || resp.status >= 500 ? 503 : 502;
        goto out;
    }
    root = parse_json(resp.body, resp.body_len, &perr);
    if (jobj(root, "data", json_type_object, &d) != 1 || jstr(d, "id", &v) != 1 || !id_ok(v) ||
        jstr(d, "url", &u) != 1 || strncmp(u, "https://", 8) != 0 || strlen(u) > 8192) {
        snprintf(why, cap, "an answer without an upload id and an https url");
        ret = 502;
        goto out;
    }
    *id = arena_strdup(r->a, v);
    *url = arena_strdup(r->a, u);
    ret = *id && *url ? 0 : 500;
    if (ret)
        snprintf(why, cap, "out of memory");
out:
    json_object_put(root);
    free(resp.body);
    http_client_free(&hc);
    return ret;
}

int upload_target_mux_create(request *r, const upload_slot *s)
{
    int ret;
    PGresult *res = NULL;
    json_object *body = NULL;
    const config *c = r->cfg;
    const char *mux_id = NULL, *url = NULL;
    bool waiting = false; /* holding an upload_platform_enter place */
    char id[UUID_BUF], job[UUID_BUF], origin[512], why[600], msg[700];
    char expires_at[32];
    if (s->origin)
        snprintf(origin, sizeof origin, "%s", s->origin);
    else
        public_origin(c, origin, sizeof origin);
    if (!*origin)
        return reply_error(r, 400, "A Mux direct upload is made for the page that uploads: send "
                                   "this request from it (an Origin MEDIAGATE_ALLOWED_ORIGINS "
                                   "allows), or set MEDIAGATE_PUBLIC_URL.");
    uuid_new(id);
    uuid_new(job);
    if (!(body = create_body(c, s, job, origin, why, sizeof why))) {
        snprintf(msg, sizeof msg, "The job's profile cannot make a Mux upload: %s.", why);
        return reply_error(r, 500, msg);
    }
    if ((ret = upload_platform_enter(r, "Mux")) != 0) {
        json_object_put(body);
        return ret;
    }
    waiting = true;
    if ((ret = upload_target_record(r, s, "mux", id, job, time(NULL), c->upload_slot_ttl,
                                    expires_at)) != 0)
        goto out;
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    if ((ret = ask_mux(r, text, &mux_id, &url, why, sizeof why)) != 0) {
        snprintf(msg, sizeof msg, "Mux: creating the direct upload: %s", why);
        log_error("upload %s: %s", id, msg);
        const char *fv[] = {job, msg};
        if (db_exec(r->db, STMT_UPLOAD_PLATFORM_FAILED, 2, fv, &res) != 0)
            log_error("upload %s: job %s could not be marked ERROR", id, job);
        ret = reply_error(r, ret, ret == 503 ? "Mux is unavailable: the upload could not be "
                                               "made. Try again."
                                             : msg);
        goto out;
    }
    upload_platform_leave();
    waiting = false;
    const char *pv[] = {id, mux_id};
    if (db_exec(r->db, STMT_UPLOAD_PLATFORM_ID, 2, pv, &res) != 0)
        /* The upload works all the same: its asset names the job
         * (passthrough); only its cancel at expiry is lost. */
        log_error("upload %s: Mux upload %s could not be recorded", id, mux_id);
    log_info("upload %s: Mux direct upload %s for job %s", id, mux_id, job);
    json_object *u = json_object_new_object();
    json_object_object_add(u, "id", json_object_new_string(mux_id));
    json_object_object_add(u, "target", json_object_new_string("mux"));
    json_object_object_add(u, "url", json_object_new_string(url));
    json_object_object_add(u, "method", json_object_new_string("PUT"));
    json_object_object_add(u, "expires_at", json_object_new_string(expires_at));
    ret = upload_target_created(r, job, u);
out:
    if (waiting)
        upload_platform_leave();
    json_object_put(body);
    PQclear(res);
    return ret;
}

int upload_target_mux_cancel(http_client *hc, const config *cfg, const char *mux_id, char *err,
                             size_t cap)
{
    char path[256];
    http_response resp = {0};
    int ret = 1;
    if (!id_ok(mux_id)) {
        snprintf(err, cap, "not a Mux upload id");
        return -1;
    }
    snprintf(path, sizeof path, "/video/v1/uploads/%s/cancel", mux_id);
    http_outcome oc = mux_api_call(hc, cfg, "PUT", path, NULL, CREATE_MS, false, &resp);
    if (oc != HTTP_ANSWERED)
        snprintf(err, cap, "Mux: %s (%s)", http_outcome_name(oc), resp.err);
    else if ((resp.status >= 200 && resp.status < 300) || resp.status == 404 ||
             resp.status == 400)
        ret = 0; /* canceled; gone; or no longer waiting (timed out, errored) */
    else {
        mux_api_error_text(&resp, err, cap);
        ret = resp.status == 408 || resp.status == 429 || resp.status >= 500 ? 1 : -1;
    }
    free(resp.body);
    return ret;
}
