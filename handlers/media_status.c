/* GET /media/status?job_id=<id>: a job's status, progress and results. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "caller.h"
#include "providers/jw_delivery.h"
#include "playback.h"
#include "urlsign.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "hash.h"

enum { C_STATUS, C_PROGRESS, C_DURATION, C_WIDTH, C_HEIGHT, C_OUTPUT, C_PLAYLISTS,
       C_ERR_CODE, C_ERR_MSG, C_VARIATIONS, C_ACL, C_BACKEND, C_BACKEND_JOB, C_STORAGE,
       C_EXTRAS };

/* Adds column col as an integer, or null when the column is NULL. */
static void add_int(json_object *o, const char *key, const PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col))
        json_object_object_add(o, key, NULL);
    else
        json_object_object_add(o, key,
                               json_object_new_int64(strtoll(PQgetvalue(res, 0, col), NULL, 10)));
}

static void add_str(json_object *o, const char *key, const PGresult *res, int col)
{
    json_object_object_add(o, key, PQgetisnull(res, 0, col)
                                        ? NULL
                                        : json_object_new_string(PQgetvalue(res, 0, col)));
}

/* output_path; a local job's, signed with an expiry (app/urlsign.h) when
 * MEDIAGATE_MEDIA_SIGNING_SECRET is set (at least 60 s away: longer than
 * any s-maxage); a job on the store's, as app/playback.h says (null when
 * it cannot be made: never a URL the store would refuse anyway). */
static void add_output(request *r, json_object *o, const char *job, const PGresult *res)
{
    const config *c = r->cfg;
    char signed_path[2048];
    if (!PQgetisnull(res, 0, C_STORAGE) && strcmp(PQgetvalue(res, 0, C_STORAGE), "s3") == 0) {
        const char *acl = PQgetisnull(res, 0, C_ACL) ? NULL : PQgetvalue(res, 0, C_ACL);
        bool ok = playback_output(c, job, acl, (long long)time(NULL), signed_path,
                                  sizeof signed_path) == 0;
        if (!ok)
            log_warn("job %.100s: no playback URL (no signing key, or the id cannot be signed)", job);
        json_object_object_add(o, "output_path", ok ? json_object_new_string(signed_path) : NULL);
        return;
    }
    if (!PQgetisnull(res, 0, C_OUTPUT) && *c->media_signing_secret) {
        long long exp = jw_expiry((long long)time(NULL), c->media_url_lifetime);
        if (urlsign_output(c->media_url, job, PQgetvalue(res, 0, C_OUTPUT), c->media_signing_secret,
                           exp, signed_path, sizeof signed_path) == 0) {
            json_object_object_add(o, "output_path", json_object_new_string(signed_path));
            return;
        }
    }
    add_str(o, "output_path", res, C_OUTPUT);
}

/* Logs a video's malformed ACL entries once per job (a small set of the
 * jobs already named, forgotten when full). */
static void log_bad_acl(const char *job, const char *acl, int bad)
{
    static unsigned long long seen[256];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned char h[32];
    unsigned long long k;
    sha256_raw(job, strlen(job), h);
    memcpy(&k, h, sizeof k);
    k |= 1;
    pthread_mutex_lock(&lock);
    bool fresh = seen[k % 256] != k;
    seen[k % 256] = k;
    pthread_mutex_unlock(&lock);
    if (fresh)
        log_warn("job %.100s: %d ACL entr%s in '%.200s' grant nothing (not WORLD, CAM, USER_, "
                 "GROUP_ or INST_)", job, bad, bad == 1 ? "y" : "ies", acl);
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

int handle_media_status(request *r)
{
    int ret;
    const char *id;
    PGresult *res = NULL;
    json_object *o = NULL;

    ret = require_param(r, "job_id", &id);
    if (ret)
        goto out;
    const char *vals[] = {id};
    ret = db_exec(r->db, STMT_JOB_STATUS, 1, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    /* A job with an ACL answers only the callers it admits; to anyone
     * else it is the same unknown job, so its existence does not leak. */
    bool guarded = PQntuples(res) == 1 && !PQgetisnull(res, 0, C_ACL);
    if (guarded) {
        bool ok;
        if ((ret = caller_admits(r, r->caller, PQgetvalue(res, 0, C_ACL), &ok)) != 0)
            goto out;
        int bad = 0;
        (void)acl_admits(PQgetvalue(res, 0, C_ACL), NULL, &bad);
        if (bad)
            log_bad_acl(id, PQgetvalue(res, 0, C_ACL), bad);
        if (!ok) {
            ret = reply_error(r, 422, "Not found item.");
            goto out;
        }
    }
    if (PQntuples(res) == 0) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    const char *status = PQgetvalue(res, 0, C_STATUS);
    bool complete = strcmp(status, "COMPLETE") == 0;
    bool error = strcmp(status, "ERROR") == 0;
    bool terminal = complete || error || strcmp(status, "CANCELED") == 0;

    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "job_status", json_object_new_string(status));
    add_int(o, "progress_rate", res, C_PROGRESS);
    if (complete) {
        add_int(o, "duration_ms", res, C_DURATION);
        add_int(o, "width_px", res, C_WIDTH);
        add_int(o, "height_px", res, C_HEIGHT);
        add_output(r, o, id, res);
        if (strcmp(PQgetvalue(res, 0, C_BACKEND), "jwplatform") == 0 &&
            !PQgetisnull(res, 0, C_BACKEND_JOB))
            add_jw_sources(r, o, PQgetvalue(res, 0, C_BACKEND_JOB));
        json_object *pl = NULL;
        if (!PQgetisnull(res, 0, C_PLAYLISTS)) {
            const char *err;
            const char *txt = PQgetvalue(res, 0, C_PLAYLISTS);
            pl = parse_json(txt, (size_t)PQgetlength(res, 0, C_PLAYLISTS), &err);
        }
        json_object_object_add(o, "playlists", pl ? pl : json_object_new_object());
        if (!PQgetisnull(res, 0, C_VARIATIONS)) {
            const char *err;
            json_object *v = parse_json(PQgetvalue(res, 0, C_VARIATIONS),
                                        (size_t)PQgetlength(res, 0, C_VARIATIONS), &err);
            if (v)
                json_object_object_add(o, "variations", v);
        }
        /* poster, storyboard, mp4, audio_only, encryption, captions, missing */
        const char *xerr;
        json_object *x = PQgetisnull(res, 0, C_EXTRAS)
                             ? NULL
                             : parse_json(PQgetvalue(res, 0, C_EXTRAS),
                                          (size_t)PQgetlength(res, 0, C_EXTRAS), &xerr);
        if (json_object_is_type(x, json_type_object)) {
            json_object_object_foreach(x, k, v)
            {
                if (!json_object_object_get(o, k))
                    json_object_object_add(o, k, json_object_get(v));
            }
        }
        json_object_put(x);
    }
    if (error) {
        add_int(o, "error_code", res, C_ERR_CODE);
        add_str(o, "error_message", res, C_ERR_MSG);
    }
    r->out = o;
    o = NULL;
    r->etag = true;
    /* Browsers revalidate on every use (max-age=0: a 304 from nginx's
     * copy); a shared cache keeps a public answer s-maxage seconds, so a
     * change of status or ACL reaches every caller within that + 1 s
     * (nginx counts whole seconds). */
    if (guarded) {
        /* Never in a shared cache: it depends on who asks. */
        r->cache_control = "private, no-cache";
        r->etag_extra = arena_strdup(r->a, PQgetvalue(res, 0, C_ACL));
    } else if (terminal) {
        char *cc = arena_alloc(r->a, 64);
        if (cc)
            snprintf(cc, 64, "public, max-age=0, s-maxage=%ld", r->cfg->cache_max_age);
        r->cache_control = cc ? cc : "public, max-age=0, s-maxage=1";
    } else {
        r->cache_control = "public, max-age=0, s-maxage=1";
    }
    ret = 200;
out:
    json_object_put(o);
    PQclear(res);
    return ret;
}
