/* OAuth2 token introspection (RFC 7662) with a small in-process cache. */
#include "providers/oauth2.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "log.h"
#include "request.h"

#define CACHE_SLOTS 4096
#define PROBE 8
#define RESPONSE_MAX 65536

typedef struct slot {
    unsigned char key[32]; /* SHA-256 of the token: the token is never kept */
    bool used;
    oauth2_identity id;
} slot;

static slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int in_flight;

static size_t slot_of(const unsigned char key[32])
{
    size_t h;
    memcpy(&h, key, sizeof h);
    return h % CACHE_SLOTS;
}

/* Copies a cached, still valid identity for key into out: true when found. */
static bool cache_get(const unsigned char key[32], time_t now, oauth2_identity *out)
{
    bool found = false;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0, s = slot_of(key); i < PROBE; i++, s = (s + 1) % CACHE_SLOTS) {
        if (cache[s].used && CRYPTO_memcmp(cache[s].key, key, 32) == 0) {
            if (cache[s].id.until > now) {
                *out = cache[s].id;
                found = true;
            } else
                cache[s].used = false;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

/* Keeps id under key: in a free or expired slot of its window, else over
 * the one that expires first. */
static void cache_put(const unsigned char key[32], time_t now, const oauth2_identity *id)
{
    pthread_mutex_lock(&cache_lock);
    size_t best = slot_of(key);
    for (size_t i = 0, s = slot_of(key); i < PROBE; i++, s = (s + 1) % CACHE_SLOTS) {
        if (!cache[s].used || cache[s].id.until <= now ||
            CRYPTO_memcmp(cache[s].key, key, 32) == 0) {
            best = s;
            break;
        }
        if (cache[s].id.until < cache[best].id.until)
            best = s;
    }
    memcpy(cache[best].key, key, 32);
    cache[best].id = *id;
    cache[best].used = true;
    pthread_mutex_unlock(&cache_lock);
}

void oauth2_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    memset(cache, 0, sizeof cache);
    pthread_mutex_unlock(&cache_lock);
}

/* Copies a claim that is a list of strings (or one string) into list. */
static int read_list(json_object *o, const char *key, char list[][OAUTH2_ID_MAX])
{
    json_object *v;
    int n = 0;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        snprintf(list[0], OAUTH2_ID_MAX, "%s", json_object_get_string(v));
        return 1;
    }
    if (!json_object_is_type(v, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(v) && n < OAUTH2_MAX_LIST; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (json_object_is_type(e, json_type_string) &&
            json_object_get_string_len(e) < OAUTH2_ID_MAX)
            snprintf(list[n++], OAUTH2_ID_MAX, "%s", json_object_get_string(e));
    }
    return n;
}

int oauth2_parse(const config *cfg, const char *buf, size_t len, time_t now, oauth2_identity *out)
{
    const char *perr;
    json_object *o = parse_json(buf, len, &perr), *v;
    int ret = -1;
    memset(out, 0, sizeof *out);
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "active", &v) || !json_object_is_type(v, json_type_boolean))
        goto out;
    ret = 0;
    if (!json_object_get_boolean(v))
        goto out;
    /* A token past its exp is not active, whatever the server says. */
    if (json_object_object_get_ex(o, "exp", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) <= (int64_t)now)
        goto out;
    if (!json_object_object_get_ex(o, cfg->oauth2_user_claim, &v) ||
        !json_object_is_type(v, json_type_string) || !json_object_get_string_len(v) ||
        json_object_get_string_len(v) >= OAUTH2_ID_MAX)
        goto out; /* active but naming nobody: not a caller */
    snprintf(out->user, sizeof out->user, "%s", json_object_get_string(v));
    out->ngroups = read_list(o, "groups", out->groups);
    out->ninsts = read_list(o, "institutions", out->insts);
    out->active = true;
    out->until = now + cfg->oauth2_cache_seconds;
    if (json_object_object_get_ex(o, "exp", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) < (int64_t)out->until)
        out->until = (time_t)json_object_get_int64(v);
out:
    json_object_put(o);
    return ret;
}

/* One introspection call: OAUTH2_OK or OAUTH2_UNAVAILABLE. */
static int call(const config *cfg, const char *token, oauth2_identity *out)
{
    int ret = OAUTH2_UNAVAILABLE;
    http_client hc = {0};
    char *body = malloc(RESPONSE_MAX + 1), *tok = NULL, *form = NULL, *basic = NULL;
    if (!body || http_client_init(&hc, false) != 0)
        goto out;
    tok = curl_easy_escape(hc.curl, token, 0);
    size_t flen = (tok ? strlen(tok) : 0) + 64;
    form = malloc(flen);
    /* RFC 7662 2.1 with RFC 6749 2.3.1: Basic of the form-encoded id and secret. */
    char *id = curl_easy_escape(hc.curl, cfg->oauth2_client_id, 0),
         *sec = curl_easy_escape(hc.curl, cfg->oauth2_client_secret, 0);
    size_t plen = (id ? strlen(id) : 0) + (sec ? strlen(sec) : 0) + 2, blen = 4 * (plen + 2) / 3 + 32;
    char *pair = malloc(plen);
    basic = malloc(blen);
    if (!tok || !form || !id || !sec || !pair || !basic) {
        curl_free(id);
        curl_free(sec);
        free(pair);
        goto out;
    }
    snprintf(pair, plen, "%s:%s", id, sec);
    memcpy(basic, "Authorization: Basic ", 21);
    EVP_EncodeBlock((unsigned char *)basic + 21, (const unsigned char *)pair, (int)strlen(pair));
    curl_free(id);
    curl_free(sec);
    OPENSSL_cleanse(pair, plen);
    free(pair);
    snprintf(form, flen, "token=%s&token_type_hint=access_token", tok);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                          basic};
    /* 1 s to connect, 3 s in all: a request thread waits. */
    http_request req = {"POST", cfg->oauth2_introspection_url, hdrs, 3, form, strlen(form), 1000,
                        3000, false};
    http_response resp = {.body = body, .body_cap = RESPONSE_MAX + 1};
    http_outcome oc = http_client_do(&hc, &req, &resp);
    if (oc != HTTP_ANSWERED || resp.status != 200) {
        log_warn("token introspection failed: %s (HTTP %ld)", oc == HTTP_ANSWERED ? "answered"
                                                                                : resp.err,
                 resp.status);
        goto out;
    }
    if (oauth2_parse(cfg, resp.body, resp.body_len, time(NULL), out) != 0) {
        log_warn("token introspection: the answer is not RFC 7662 JSON");
        goto out;
    }
    ret = OAUTH2_OK;
out:
    if (basic)
        OPENSSL_cleanse(basic, strlen(basic));
    free(basic);
    free(form);
    curl_free(tok);
    free(body);
    http_client_free(&hc);
    return ret;
}

int oauth2_introspect(const config *cfg, const char *token, oauth2_identity *out)
{
    unsigned char key[32];
    time_t now = time(NULL);
    sha256_raw(token, strlen(token), key);
    if (cache_get(key, now, out))
        return OAUTH2_OK;
    /* At most a quarter of the request threads wait on the endpoint, so an
     * outage never takes the read routes' threads. */
    int cap = cfg->threads / 4 > 1 ? (int)(cfg->threads / 4) : 1;
    if (atomic_fetch_add(&in_flight, 1) >= cap) {
        atomic_fetch_sub(&in_flight, 1);
        return OAUTH2_BUSY;
    }
    int ret = call(cfg, token, out);
    atomic_fetch_sub(&in_flight, 1);
    if (ret == OAUTH2_OK && out->active)
        cache_put(key, now, out);
    return ret;
}
