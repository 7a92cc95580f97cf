/* OAuth2 token introspection (RFC 7662) with a small in-process cache. */
#include "providers/oauth2.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
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

void oauth2_notice(const config *cfg)
{
    if (*cfg->oauth2_introspection_url && cfg->oauth2_audience && strcmp(cfg->oauth2_audience, "*") == 0)
        log_warn("MEDIAGATE_OAUTH2_AUDIENCE is *: active access tokens of any audience at the "
                 "authorization server identify callers, also those issued for other services");
}

void oauth2_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    memset(cache, 0, sizeof cache);
    pthread_mutex_unlock(&cache_lock);
}

int oauth2_copy_id(json_object *s, char dst[OAUTH2_ID_MAX])
{
    if (!json_object_is_type(s, json_type_string))
        return -1;
    const char *v = json_object_get_string(s);
    size_t len = (size_t)json_object_get_string_len(s);
    /* json-c keeps \u0000 inside a string: a C copy would stop there. */
    if (strlen(v) != len || !acl_id_ok(v, len))
        return -1;
    memcpy(dst, v, len + 1);
    return 0;
}

/* Copies a claim that is a list of ids (or one id) into list: the count
 * (0 when absent or null), or -1 when it holds anything but ids. Past
 * OAUTH2_MAX_LIST the rest is not read (it could only grant more). */
static int read_list(json_object *o, const char *key, char list[][OAUTH2_ID_MAX])
{
    json_object *v;
    int n = 0;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return oauth2_copy_id(v, list[0]) == 0 ? 1 : -1;
    for (size_t i = 0; i < json_object_array_length(v) && n < OAUTH2_MAX_LIST; i++)
        if (oauth2_copy_id(json_object_array_get_idx(v, i), list[n++]) != 0)
            return -1;
    return n;
}

/* A NumericDate claim (RFC 7519 section 2: a JSON number, possibly with a
 * fraction) into *t: 1, 0 when absent, -1 when it is anything else. */
static int numeric_date(json_object *o, const char *key, double *t)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return -1;
    *t = json_object_get_double(v);
    return isfinite(*t) ? 1 : -1;
}

/* The claims that say what kind of token it is: token_type (RFC 7662) must
 * be there; Hydra's token_use and Keycloak's typ, where sent, must name an
 * access token too. Compared without regard to case (RFC 6749 7.1). */
static const struct {
    const char *claim;
    bool required;
    const char *ok[3];
} token_kinds[] = {
    {"token_type", true, {"Bearer"}},
    {"token_use", false, {"access_token"}},
    {"typ", false, {"Bearer", "at+jwt", "application/at+jwt"}},
};

static bool is_access_token(json_object *o)
{
    json_object *v;
    for (size_t i = 0; i < sizeof token_kinds / sizeof token_kinds[0]; i++) {
        if (!json_object_object_get_ex(o, token_kinds[i].claim, &v)) {
            if (token_kinds[i].required)
                return false;
            continue;
        }
        bool ok = false;
        for (size_t k = 0; k < 3 && token_kinds[i].ok[k]; k++)
            ok |= json_object_is_type(v, json_type_string) &&
                  strcasecmp(json_object_get_string(v), token_kinds[i].ok[k]) == 0 &&
                  strlen(token_kinds[i].ok[k]) == (size_t)json_object_get_string_len(v);
        if (!ok)
            return false;
    }
    return true;
}

/* True when one of aud's names (a string or an array of strings) is in
 * want, a list separated by spaces or commas; "*" admits any. */
static bool audience_ok(json_object *o, const char *want)
{
    json_object *aud;
    if (strcmp(want, "*") == 0)
        return true;
    if (!json_object_object_get_ex(o, "aud", &aud) || !aud)
        return false;
    bool one = !json_object_is_type(aud, json_type_array);
    size_t n = one ? 1 : json_object_array_length(aud);
    for (size_t i = 0; i < n; i++) {
        json_object *a = one ? aud : json_object_array_get_idx(aud, i);
        if (!json_object_is_type(a, json_type_string))
            continue;
        const char *s = json_object_get_string(a);
        size_t len = (size_t)json_object_get_string_len(a);
        for (const char *p = want; *p;) {
            size_t w = strcspn(p, " ,");
            if (w && w == len && memcmp(p, s, len) == 0)
                return true;
            p += w;
            p += strspn(p, " ,");
        }
    }
    return false;
}

int oauth2_parse(const config *cfg, const char *buf, size_t len, time_t now, oauth2_identity *out)
{
    const char *perr;
    json_object *o = parse_json(buf, len, &perr), *v;
    int ret = -1;
    double exp = 0, nbf = 0, iat = 0;
    memset(out, 0, sizeof *out);
    if (!o || !json_object_is_type(o, json_type_object) ||
        jobj(o, "active", json_type_boolean, &v) <= 0)
        goto out;
    ret = 0;
    if (!json_object_get_boolean(v))
        goto out;
    /* Past its exp (or not yet valid) it is not active, whatever the server
     * says; a time that is no number is unreadable, so not active either.
     * exp is taken at the whole second before it, so the answer and its
     * cached copy end no later than exp. */
    int has_exp = numeric_date(o, "exp", &exp), has_nbf = numeric_date(o, "nbf", &nbf),
        has_iat = numeric_date(o, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
        out->refused = "The bearer token's exp, nbf or iat is not a NumericDate.";
        goto out;
    }
    if ((has_exp && floor(exp) <= (double)now) ||
        (has_nbf && nbf > (double)now + OAUTH2_LEEWAY) || (has_iat && iat > (double)now + OAUTH2_LEEWAY))
        goto out;
    if (!is_access_token(o)) {
        out->refused = "The bearer token is not an access token (its token_type must be Bearer).";
        goto out;
    }
    if (!audience_ok(o, cfg->oauth2_audience ? cfg->oauth2_audience : "")) {
        out->refused = "The bearer token is not meant for this service (its aud).";
        goto out;
    }
    if (!json_object_object_get_ex(o, cfg->oauth2_user_claim, &v) || !v) {
        out->refused = "The bearer token names no user.";
        goto out; /* active but naming nobody: not a caller */
    }
    if (oauth2_copy_id(v, out->user) != 0 ||
        (out->ngroups = read_list(o, "groups", out->groups)) < 0 ||
        (out->ninsts = read_list(o, "institutions", out->insts)) < 0) {
        memset(out, 0, sizeof *out);
        out->refused = "The bearer token's user, groups or institutions are not ids "
                       "(1 to 128 of A-Z a-z 0-9 . _ @ -).";
        goto out;
    }
    out->active = true;
    out->until = now + cfg->oauth2_cache_seconds;
    if (has_exp && floor(exp) < (double)out->until)
        out->until = (time_t)floor(exp);
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
    else if (ret == OAUTH2_OK && out->refused)
        log_info("bearer token refused: %s", out->refused);
    return ret;
}
