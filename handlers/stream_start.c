/* POST /stream/start: a new broadcast with its ingest credentials. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "providers/aws.h"
#include "caller.h"
#include "config.h"
#include "log.h"
#include "providers/sigv4.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "storage/storage.h"
#include "stream.h"

/* The URL browsers POST to, into url: the store's own (its endpoint, with
 * its addressing) when S3_POST's bucket is the bucket of an S3-compatible
 * store (MEDIAGATE_STORAGE_ENDPOINT set), else AWS's for the bucket. */
static void post_url(const config *cfg, char *url, size_t cap)
{
    const char *ep = cfg->storage_endpoint, *host = strstr(ep, "://");
    if (!store_is_s3(cfg) || !*ep || !host || strcmp(cfg->s3_bucket, cfg->storage_bucket) != 0) {
        snprintf(url, cap, "https://%s.s3.%s.amazonaws.com/", cfg->s3_bucket, cfg->s3_region);
        return;
    }
    host += 3;
    int hl = (int)strcspn(host, "/"); /* the endpoint has no path; a final / at most */
    if (strcmp(cfg->storage_addressing, "virtual") == 0)
        snprintf(url, cap, "%.*s%s.%.*s/", (int)(host - ep), ep, cfg->s3_bucket, hl, host);
    else
        snprintf(url, cap, "%.*s/%s/", (int)(host - ep) + hl, ep, cfg->s3_bucket);
}

/* S3_POST: a browser-upload POST policy limited to the stream's prefix,
 * a size range and an expiry; computed locally. */
static json_object *s3_post(const config *cfg, const char *prefix)
{
    time_t now = time(NULL);
    char iso_exp[32], amz[17], iso_now[32], amz_exp[17], date8[9], cred[256], policy[2048];
    char b64[4096], sig[65], url[512];
    aws_times(now, iso_now, amz);
    aws_times(now + cfg->upload_ttl, iso_exp, amz_exp);
    memcpy(date8, amz, 8);
    date8[8] = '\0';
    snprintf(cred, sizeof cred, "%s/%s/%s/s3/aws4_request", cfg->aws_access_key_id, date8,
             cfg->s3_region);
    snprintf(policy, sizeof policy,
             "{\"expiration\":\"%s\",\"conditions\":[{\"bucket\":\"%s\"},"
             "[\"starts-with\",\"$key\",\"%s\"],[\"content-length-range\",1,%ld],"
             "{\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"},{\"x-amz-credential\":\"%s\"},"
             "{\"x-amz-date\":\"%s\"}]}",
             iso_exp, cfg->s3_bucket, prefix, cfg->s3_max_bytes, cred, amz);
    if (sigv4_post_policy(policy, cfg->aws_secret_access_key, date8, cfg->s3_region, b64,
                          sizeof b64, sig) != 0)
        return NULL;
    post_url(cfg, url, sizeof url);
    json_object *o = json_object_new_object(), *f = json_object_new_object();
    char key[600];
    snprintf(key, sizeof key, "%s${filename}", prefix);
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(f, "key", json_object_new_string(key));
    json_object_object_add(f, "policy", json_object_new_string(b64));
    json_object_object_add(f, "x-amz-algorithm", json_object_new_string("AWS4-HMAC-SHA256"));
    json_object_object_add(f, "x-amz-credential", json_object_new_string(cred));
    json_object_object_add(f, "x-amz-date", json_object_new_string(amz));
    json_object_object_add(f, "x-amz-signature", json_object_new_string(sig));
    json_object_object_add(o, "fields", f);
    json_object_object_add(o, "expires", json_object_new_int64((int64_t)(now + cfg->upload_ttl)));
    return o;
}

/* The start's parameters: type (hls, required) and name (up to 200
 * characters, "" when absent) in *name. Returns 0, or the refusal's
 * status. */
static int start_params(request *r, const char **name)
{
    int st;
    const char *type = stream_param(r, "type", &st);
    if (st)
        return st;
    if (!type || !*type)
        return reply_error(r, 400, "Not found parameter type.");
    if (strcmp(type, "hls") != 0)
        return reply_error(r, 400, "Unsupported stream type; type must be hls.");
    *name = stream_param(r, "name", &st);
    if (!*name)
        *name = "";
    long chars = utf8_length(*name, strlen(*name));
    if (chars < 0)
        return reply_error(r, 400, "The parameter name is not valid UTF-8.");
    if (chars > 200)
        return reply_error(r, 400, "The parameter name is longer than 200 characters.");
    return 0;
}

/* What a new stream is made of: its id, its RTMP stream key and HTTP
 * upload token (shown once), where its S3 uploads go, and the temporary S3
 * credentials when MEDIAGATE_STS_ROLE_ARN is set. */
typedef struct start {
    char id[UUID_BUF], key[65], token[65], prefix[512];
    bool want_s3;
    aws_creds creds;
} start;

/* Fills *s; the S3 credentials first, so that no stream is created when
 * STS fails. Returns 0, or the refusal's status. */
static int start_make(request *r, start *s)
{
    uuid_new(s->id);
    if (random_hex(s->key) != 0 || random_hex(s->token) != 0)
        return reply_error(r, 500, "No randomness available.");
    s->want_s3 = *r->cfg->s3_bucket && *r->cfg->sts_role_arn;
    snprintf(s->prefix, sizeof s->prefix, "%s%s/", r->cfg->s3_prefix, s->id);
    if (!s->want_s3)
        return 0;
    char err[300], session[64];
    snprintf(session, sizeof session, "mediagate-%.8s", s->id);
    int rc = aws_assume_role(r->cfg, s->prefix, session, &s->creds, err, sizeof err);
    if (rc != 0)
        log_warn("stream %s: %s", s->id, err);
    if (rc == AWS_BUSY)
        return reply_error(r, 503, "Too many credential requests at once; retry later.");
    if (rc != 0)
        return reply_error(r, 502, "Could not obtain upload credentials; retry later.");
    return 0;
}

/* Records s for owner with name. Returns 0 with *res (STREAM_COLS and the
 * upload token's expiry; the caller PQclears it), or the refusal's status. */
static int start_insert(request *r, const start *s, const char *owner, const char *name,
                        PGresult **res)
{
    char ttl[24];
    unsigned char key_hash[32], token_hash[32];
    sha256_raw(s->key, strlen(s->key), key_hash);
    sha256_raw(s->token, strlen(s->token), token_hash);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_ttl);
    const char *vals[] = {s->id, owner, name, (const char *)key_hash, (const char *)token_hash,
                          ttl};
    int lens[] = {0, 0, 0, 32, 32, 0}, fmts[] = {0, 0, 0, 1, 1, 0};
    int ret = db_exec_params(r->db, STMT_STREAM_START, 6, vals, lens, fmts, res);
    return ret ? reply_db_error(r, ret) : 0;
}

/* The RTMP endpoint: MEDIAGATE_RTMP_URL and the stream key. */
static json_object *rtmp_endpoint(const config *cfg, const start *s)
{
    char sk[128];
    json_object *rtmp = json_object_new_object();
    json_object_object_add(rtmp, "url", json_object_new_string(cfg->rtmp_url));
    snprintf(sk, sizeof sk, "%s?key=%s", s->id, s->key);
    json_object_object_add(rtmp, "stream_key", json_object_new_string(sk));
    return rtmp;
}

/* The HTTP PUT endpoint under MEDIAGATE_UPLOAD_URL, with its token and
 * expiry (a time_t as text); adds its playlist to playback as hls_http. */
static json_object *http_endpoint(const config *cfg, const start *s, const char *expires,
                                  json_object *playback)
{
    char url[1024], bearer[80], playlist[1100];
    json_object *http = json_object_new_object(), *headers = json_object_new_object();
    snprintf(url, sizeof url, "%s/%s/", cfg->upload_url, s->id);
    snprintf(bearer, sizeof bearer, "Bearer %s", s->token);
    json_object_object_add(http, "url", json_object_new_string(url));
    /* What the PUT ingest serves back (the /live/ location, no token):
     * the playlist the broadcaster PUTs as index.m3u8. */
    snprintf(playlist, sizeof playlist, "%sindex.m3u8", url);
    json_object_object_add(http, "playlist_url", json_object_new_string(playlist));
    json_object_object_add(playback, "hls_http", json_object_new_string(playlist));
    json_object_object_add(headers, "Authorization", json_object_new_string(bearer));
    json_object_object_add(http, "headers", headers);
    json_object_object_add(http, "expires", json_object_new_int64(strtoll(expires, NULL, 10)));
    return http;
}

/* The temporary S3 credentials, limited to the stream's prefix. */
static json_object *s3_endpoint(const config *cfg, const start *s)
{
    json_object *s3 = json_object_new_object();
    json_object_object_add(s3, "aws_access_key_id", json_object_new_string(s->creds.access_key_id));
    json_object_object_add(s3, "aws_secret_access_key",
                           json_object_new_string(s->creds.secret_access_key));
    json_object_object_add(s3, "aws_session_token", json_object_new_string(s->creds.session_token));
    json_object_object_add(s3, "aws_expiration", json_object_new_string(s->creds.expiration));
    json_object_object_add(s3, "s3_bucket_name", json_object_new_string(cfg->s3_bucket));
    json_object_object_add(s3, "s3_bucket_path", json_object_new_string(s->prefix));
    json_object_object_add(s3, "s3_bucket_region", json_object_new_string(cfg->s3_region));
    return s3;
}

/* The answer: the stream, its ingest endpoints (the ones configured) and
 * where it plays. res is start_insert()'s. Returns a new object. */
static json_object *start_answer(const config *cfg, const start *s, const PGresult *res)
{
    json_object *o = json_object_new_object();
    json_object *endpoint = json_object_new_object(), *playback = json_object_new_object();
    json_object_object_add(o, "stream", stream_object(res, 0));
    if (*cfg->rtmp_url)
        json_object_object_add(endpoint, "RTMP", rtmp_endpoint(cfg, s));
    if (*cfg->upload_url)
        json_object_object_add(endpoint, "HTTP",
                               http_endpoint(cfg, s, PQgetvalue(res, 0, 6), playback));
    if (s->want_s3)
        json_object_object_add(endpoint, "S3", s3_endpoint(cfg, s));
    if (*cfg->s3_bucket) {
        json_object *post = s3_post(cfg, s->prefix);
        if (post)
            json_object_object_add(endpoint, "S3_POST", post);
    }
    char url[1100];
    if (stream_hls_url(cfg, s->id, url, sizeof url))
        json_object_object_add(playback, "hls", json_object_new_string(url));
    json_object_object_add(o, "endpoint", endpoint);
    json_object_object_add(o, "playback", playback);
    return o;
}

int handle_stream_start(request *r)
{
    int ret;
    const char *owner = r->caller->owner, *name = "";
    PGresult *res = NULL;
    start s;

    if (!owner) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    if ((ret = start_params(r, &name)) != 0 || (ret = start_make(r, &s)) != 0 ||
        (ret = start_insert(r, &s, owner, name, &res)) != 0)
        goto out;
    r->out = start_answer(r->cfg, &s, res);
    r->cache_control = "no-store";
    ret = 200;
out:
    PQclear(res);
    return ret;
}
