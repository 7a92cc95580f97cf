/* POST /stream/start: a new broadcast with its ingest credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "config.h"
#include "db.h"
#include "handlers.h"
#include "stream.h"

int handle_stream_start(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;
    json_object *o = NULL;

    ret = stream_caller(r, &owner);
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
    if (strlen(name) > 200) {
        ret = reply_error(r, 400, "The parameter name is longer than 200 characters.");
        goto out;
    }
    uuid_t u;
    char id[37], key[65], token[65], ttl[24];
    unsigned char key_hash[32], token_hash[32];
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    if (random_hex(key) != 0 || random_hex(token) != 0) {
        ret = reply_error(r, 500, "No randomness available.");
        goto out;
    }
    sha256_raw(key, key_hash);
    sha256_raw(token, token_hash);
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
        json_object_object_add(headers, "Authorization", json_object_new_string(bearer));
        json_object_object_add(http, "headers", headers);
        json_object_object_add(http, "expires",
                               json_object_new_int64(strtoll(PQgetvalue(res, 0, 5), NULL, 10)));
        json_object_object_add(endpoint, "HTTP", http);
    }
    if (*r->cfg->hls_url) {
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
