/* POST /stream/start: a new broadcast with its ingest credentials. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "providers/aws.h"
#include "config.h"
#include "log.h"
#include "providers/sigv4.h"
#include "db.h"
#include "handlers.h"
#include "stream.h"

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
    snprintf(url, sizeof url, "https://%s.s3.%s.amazonaws.com/", cfg->s3_bucket, cfg->s3_region);
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

int handle_stream_start(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;
    json_object *o = NULL;

    owner = r->owner; /* the route is AUTH_CALLER */
    ret = owner ? 0 : reply_error(r, 500, "The route has no caller.");
    if (ret)
        goto out;
    const char *type = stream_param(r, "type", &st);
    if (st) {
        ret = st;
        goto out;
    }
    if (!type || !*type) {
        ret = reply_error(r, 400, "Not found parameter type.");
        goto out;
    }
    if (strcmp(type, "hls") != 0) {
        ret = reply_error(r, 400, "Unsupported stream type; type must be hls.");
        goto out;
    }
    const char *name = stream_param(r, "name", &st);
    if (!name)
        name = "";
    long chars = utf8_length(name, strlen(name));
    if (chars < 0) {
        ret = reply_error(r, 400, "The parameter name is not valid UTF-8.");
        goto out;
    }
    if (chars > 200) {
        ret = reply_error(r, 400, "The parameter name is longer than 200 characters.");
        goto out;
    }
    uuid_t u;
    char id[UUID_BUF], key[65], token[65], ttl[24];
    unsigned char key_hash[32], token_hash[32];
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    if (random_hex(key) != 0 || random_hex(token) != 0) {
        ret = reply_error(r, 500, "No randomness available.");
        goto out;
    }
    /* S3 credentials first: if STS fails, no stream is created. */
    char prefix[512];
    aws_creds creds;
    bool want_s3 = *r->cfg->s3_bucket && *r->cfg->sts_role_arn;
    snprintf(prefix, sizeof prefix, "%s%s/", r->cfg->s3_prefix, id);
    if (want_s3) {
        char err[300], session[64];
        snprintf(session, sizeof session, "mediagate-%.8s", id);
        int rc = aws_assume_role(r->cfg, prefix, session, &creds, err, sizeof err);
        if (rc == AWS_BUSY) {
            log_warn("stream %s: %s", id, err);
            ret = reply_error(r, 503, "Too many credential requests at once; retry later.");
            goto out;
        }
        if (rc != 0) {
            log_warn("stream %s: %s", id, err);
            ret = reply_error(r, 502, "Could not obtain upload credentials; retry later.");
            goto out;
        }
    }
    sha256_raw(key, strlen(key), key_hash);
    sha256_raw(token, strlen(token), token_hash);
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->upload_ttl);
    const char *vals[] = {id, owner, name, (const char *)key_hash, (const char *)token_hash, ttl};
    int lens[] = {0, 0, 0, 32, 32, 0}, fmts[] = {0, 0, 0, 1, 1, 0};
    ret = db_exec_params(r->db, STMT_STREAM_START, 6, vals, lens, fmts, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    o = json_object_new_object();
    json_object_object_add(o, "stream", stream_object(res, 0));
    json_object *endpoint = json_object_new_object(), *playback = json_object_new_object();
    if (*r->cfg->rtmp_url) {
        json_object *rtmp = json_object_new_object();
        json_object_object_add(rtmp, "url", json_object_new_string(r->cfg->rtmp_url));
        char sk[128];
        snprintf(sk, sizeof sk, "%s?key=%s", id, key);
        json_object_object_add(rtmp, "stream_key", json_object_new_string(sk));
        json_object_object_add(endpoint, "RTMP", rtmp);
    }
    if (*r->cfg->upload_url) {
        char url[1024], bearer[80];
        json_object *http = json_object_new_object(), *headers = json_object_new_object();
        snprintf(url, sizeof url, "%s/%s/", r->cfg->upload_url, id);
        snprintf(bearer, sizeof bearer, "Bearer %s", token);
        json_object_object_add(http, "url", json_object_new_string(url));
        /* What the PUT ingest serves back (the /live/ location, no token):
         * the playlist the broadcaster PUTs as index.m3u8. */
        char playlist[1100];
        snprintf(playlist, sizeof playlist, "%sindex.m3u8", url);
        json_object_object_add(http, "playlist_url", json_object_new_string(playlist));
        json_object_object_add(playback, "hls_http", json_object_new_string(playlist));
        if (!*r->cfg->rtmp_url || !*r->cfg->hls_url)
            json_object_object_add(playback, "hls", json_object_new_string(playlist));
        json_object_object_add(headers, "Authorization", json_object_new_string(bearer));
        json_object_object_add(http, "headers", headers);
        json_object_object_add(http, "expires",
                               json_object_new_int64(strtoll(PQgetvalue(res, 0, 6), NULL, 10)));
        json_object_object_add(endpoint, "HTTP", http);
    }
    if (want_s3) {
        json_object *s3 = json_object_new_object();
        json_object_object_add(s3, "aws_access_key_id", json_object_new_string(creds.access_key_id));
        json_object_object_add(s3, "aws_secret_access_key", json_object_new_string(creds.secret_access_key));
        json_object_object_add(s3, "aws_session_token", json_object_new_string(creds.session_token));
        json_object_object_add(s3, "aws_expiration", json_object_new_string(creds.expiration));
        json_object_object_add(s3, "s3_bucket_name", json_object_new_string(r->cfg->s3_bucket));
        json_object_object_add(s3, "s3_bucket_path", json_object_new_string(prefix));
        json_object_object_add(s3, "s3_bucket_region", json_object_new_string(r->cfg->s3_region));
        json_object_object_add(endpoint, "S3", s3);
    }
    if (*r->cfg->s3_bucket) {
        json_object *post = s3_post(r->cfg, prefix);
        if (post)
            json_object_object_add(endpoint, "S3_POST", post);
    }
    if (*r->cfg->hls_url && *r->cfg->rtmp_url) {
        char url[1024];
        snprintf(url, sizeof url, "%s/%s.m3u8", r->cfg->hls_url, id);
        json_object_object_add(playback, "hls", json_object_new_string(url));
    }
    json_object_object_add(o, "endpoint", endpoint);
    json_object_object_add(o, "playback", playback);
    r->out = o;
    o = NULL;
    r->cache_control = "no-store";
    ret = 200;
out:
    json_object_put(o);
    PQclear(res);
    return ret;
}
