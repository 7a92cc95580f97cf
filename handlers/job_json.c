/* A job as JSON: what /media/status answers, and the library's items
 * (job_json.h). */
#include "job_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caller.h"
#include "config.h"
#include "playback.h"
#include "providers/jw_delivery.h"
#include "urlsign.h"
#include "log.h"

/* Adds column col of row as an integer, or null when it is NULL. */
static void add_int(json_object *o, const char *key, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        json_object_object_add(o, key, NULL);
    else
        json_object_object_add(o, key,
                               json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10)));
}

static void add_str(json_object *o, const char *key, const PGresult *res, int row, int col)
{
    json_object_object_add(o, key, PQgetisnull(res, row, col)
                                        ? NULL
                                        : json_object_new_string(PQgetvalue(res, row, col)));
}

/* output_path; a local job's, signed with an expiry (app/urlsign.h) when
 * MEDIAGATE_MEDIA_SIGNING_SECRET is set (at least 60 s away: longer than
 * any s-maxage); a job on the store's, as app/playback.h says (null when
 * it cannot be made: never a URL the store would refuse anyway). */
static void add_output(request *r, json_object *o, const char *job, const PGresult *res, int row)
{
    const config *c = r->cfg;
    char signed_path[2048];
    if (!PQgetisnull(res, row, JC_STORAGE) && strcmp(PQgetvalue(res, row, JC_STORAGE), "s3") == 0) {
        const char *acl = PQgetisnull(res, row, JC_ACL) ? NULL : PQgetvalue(res, row, JC_ACL);
        bool ok = playback_output(c, job, acl, (long long)time(NULL), signed_path,
                                  sizeof signed_path) == 0;
        if (!ok)
            log_warn("job %.100s: no playback URL (no signing key, or the id cannot be signed)", job);
        json_object_object_add(o, "output_path", ok ? json_object_new_string(signed_path) : NULL);
        return;
    }
    if (!PQgetisnull(res, row, JC_OUTPUT) && *c->media_signing_secret) {
        long long exp = jw_expiry((long long)time(NULL), c->media_url_lifetime);
        if (urlsign_output(c->media_url, job, PQgetvalue(res, row, JC_OUTPUT),
                           c->media_signing_secret, exp, signed_path, sizeof signed_path) == 0) {
            json_object_object_add(o, "output_path", json_object_new_string(signed_path));
            return;
        }
    }
    add_str(o, "output_path", res, row, JC_OUTPUT);
}

/* A JW Platform video's COMPLETE answer: its sources (the HLS manifest and
 * the /v2/ media playlist listing every rendition) and the player embed,
 * signed the platform's way (app/providers/jw_delivery.h). */
static void add_jw_sources(request *r, json_object *o, const char *key)
{
    const config *c = r->cfg;
    char path[256], sig[33], url[2048], tok[1024];
    if (!*c->jwplatform_api_secret || strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                  "0123456789_-") != strlen(key) || strlen(key) > 64)
        return;
    long long exp = jw_expiry((long long)time(NULL), c->jwplatform_signature_lifetime);
    json_object *src = json_object_new_array(), *e;
    snprintf(path, sizeof path, "/manifests/%s.m3u8", key);
    jw_sign_md5(path, exp, c->jwplatform_api_secret, sig);
    snprintf(url, sizeof url, "%s%s?exp=%lld&sig=%s", c->jwplatform_delivery_url, path, exp, sig);
    e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string("application/vnd.apple.mpegurl"));
    json_object_object_add(e, "file", json_object_new_string(url));
    json_object_array_add(src, e);
    snprintf(path, sizeof path, "/v2/media/%s", key);
    if (jw_sign_jwt(path, exp, c->jwplatform_api_secret, tok, sizeof tok) == 0) {
        snprintf(url, sizeof url, "%s%s?token=%s", c->jwplatform_delivery_url, path, tok);
        e = json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string("application/json"));
        json_object_object_add(e, "file", json_object_new_string(url));
        json_object_array_add(src, e);
    }
    json_object_object_add(o, "sources", src);
    if (*c->jwplatform_player_key) {
        snprintf(path, sizeof path, "/players/%s-%s.html", key, c->jwplatform_player_key);
        jw_sign_md5(path, exp, c->jwplatform_api_secret, sig);
        snprintf(url, sizeof url, "%s%s?exp=%lld&sig=%s", c->jwplatform_delivery_url, path, exp, sig);
        json_object_object_add(o, "embed_url", json_object_new_string(url));
    }
}

/* Parses JSON column col of row; NULL when it is NULL or not JSON. */
static json_object *col_json(const PGresult *res, int row, int col)
{
    const char *err;
    if (PQgetisnull(res, row, col))
        return NULL;
    return parse_json(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), &err);
}

void job_status_add(request *r, json_object *o, const PGresult *res, int row)
{
    const char *id = PQgetvalue(res, row, JC_ID);
    const char *status = PQgetvalue(res, row, JC_STATUS);
    json_object_object_add(o, "job_status", json_object_new_string(status));
    add_int(o, "progress_rate", res, row, JC_PROGRESS);
    if (strcmp(status, "COMPLETE") == 0) {
        add_int(o, "duration_ms", res, row, JC_DURATION);
        add_int(o, "width_px", res, row, JC_WIDTH);
        add_int(o, "height_px", res, row, JC_HEIGHT);
        add_output(r, o, id, res, row);
        if (strcmp(PQgetvalue(res, row, JC_BACKEND), "jwplatform") == 0 &&
            !PQgetisnull(res, row, JC_BACKEND_JOB))
            add_jw_sources(r, o, PQgetvalue(res, row, JC_BACKEND_JOB));
        json_object *pl = col_json(res, row, JC_PLAYLISTS);
        json_object_object_add(o, "playlists", pl ? pl : json_object_new_object());
        json_object *v = col_json(res, row, JC_VARIATIONS);
        if (v)
            json_object_object_add(o, "variations", v);
        /* poster, storyboard, mp4, audio_only, encryption, captions, missing */
        json_object *x = col_json(res, row, JC_EXTRAS);
        if (json_object_is_type(x, json_type_object)) {
            json_object_object_foreach(x, k, xv)
            {
                if (!json_object_object_get(o, k))
                    json_object_object_add(o, k, json_object_get(xv));
            }
        }
        json_object_put(x);
    }
    if (strcmp(status, "ERROR") == 0) {
        add_int(o, "error_code", res, row, JC_ERR_CODE);
        add_str(o, "error_message", res, row, JC_ERR_MSG);
    }
}

/* An ACL as the library shows it: "E1,E2"; a JW video's "acl:E1,E2:"
 * without its wrapper; NULL for none (WORLD). */
static json_object *acl_json(const PGresult *res, int row)
{
    if (PQgetisnull(res, row, JC_ACL))
        return NULL;
    const char *a = PQgetvalue(res, row, JC_ACL);
    size_t n = strlen(a);
    if (n >= 5 && strncmp(a, "acl:", 4) == 0 && a[n - 1] == ':') {
        if (n - 5 == 5 && strncmp(a + 4, "WORLD", 5) == 0)
            return NULL;
        return json_object_new_string_len(a + 4, (int)(n - 5));
    }
    return json_object_new_string(a);
}

json_object *job_item_json(request *r, const PGresult *res, int row)
{
    json_object *o = json_object_new_object();
    job_status_add(r, o, res, row);
    const char *owner = PQgetisnull(res, row, JC_OWNER) ? NULL : PQgetvalue(res, row, JC_OWNER);
    bool mine = owner && r->caller->owner && strcmp(owner, r->caller->owner) == 0;
    add_str(o, "job_id", res, row, JC_ID);
    add_str(o, "name", res, row, JC_NAME);
    add_str(o, "backend", res, row, JC_BACKEND);
    add_str(o, "created_at", res, row, JC_CREATED);
    add_str(o, "updated_at", res, row, JC_UPDATED);
    json_object_object_add(o, "mine", json_object_new_boolean(mine));
    if (mine)
        json_object_object_add(o, "acl", acl_json(res, row));
    return o;
}
