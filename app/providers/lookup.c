/* The site's people directory, for groups and institutions. See lookup.h. */
#include "providers/lookup.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "request.h"

#define CACHE_SLOTS 1024
#define RESPONSE_MAX 262144

typedef struct person {
    bool used;
    unsigned char key[32];
    oauth2_identity id;
} person;

static person people[CACHE_SLOTS];
static char cc_token[2048];
static time_t cc_until;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int in_flight;

/* Copies the ids of list (strings, or objects with id/groupid/instid;
 * objects naming none are skipped): the count, or -1 when an id is not an
 * ACL id (a NUL inside, a space, too long). */
static int read_ids(json_object *o, const char *key, char list[][OAUTH2_ID_MAX])
{
    static const char *const names[] = {"id", "groupid", "instid"};
    json_object *a, *v;
    int n = 0;
    if (jobj(o, key, json_type_array, &a) <= 0)
        return 0;
    for (size_t i = 0; i < json_object_array_length(a) && n < OAUTH2_MAX_LIST; i++) {
        json_object *e = json_object_array_get_idx(a, i), *s = NULL;
        if (json_object_is_type(e, json_type_string))
            s = e;
        for (size_t k = 0; !s && json_object_is_type(e, json_type_object) && k < 3; k++)
            if (jobj(e, names[k], json_type_string, &v) > 0)
                s = v;
        if (s && oauth2_copy_id(s, list[n++]) != 0)
            return -1;
    }
    return n;
}

int lookup_parse(const char *buf, size_t len, oauth2_identity *out)
{
    const char *perr;
    json_object *o = parse_json(buf, len, &perr);
    int ret = -1;
    if (!o || !json_object_is_type(o, json_type_object))
        goto out;
    out->ngroups = read_ids(o, "groups", out->groups);
    out->ninsts = read_ids(o, "institutions", out->insts);
    if (out->ngroups < 0 || out->ninsts < 0) {
        out->ngroups = out->ninsts = 0;
        log_warn("people lookup: the answer names a group or institution that is not an ACL id "
                 "(1 to 128 of A-Z a-z 0-9 . _ @ -); refused");
        goto out;
    }
    ret = 0;
out:
    json_object_put(o);
    return ret;
}

/* mediagate's own bearer token (client credentials) into tok; 0 or -1. */
static int client_token(const config *cfg, http_client *hc, char *tok, size_t cap)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&lock);
    bool have = cc_until > now && cc_token[0];
    if (have)
        snprintf(tok, cap, "%s", cc_token);
    pthread_mutex_unlock(&lock);
    if (have)
        return 0;
    char pair[512], basic[720], body[8192];
    const char *perr;
    char *id = curl_easy_escape(hc->curl, cfg->oauth2_client_id, 0),
         *sec = curl_easy_escape(hc->curl, cfg->oauth2_client_secret, 0);
    snprintf(pair, sizeof pair, "%s:%s", id ? id : "", sec ? sec : "");
    curl_free(id);
    curl_free(sec);
    memcpy(basic, "Authorization: Basic ", 21);
    EVP_EncodeBlock((unsigned char *)basic + 21, (const unsigned char *)pair, (int)strlen(pair));
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                          basic};
    static const char form[] = "grant_type=client_credentials";
    http_request req = {"POST", cfg->oauth2_token_url, hdrs, 3, form, strlen(form), 1000, 3000, false};
    http_response resp = {.body = body, .body_cap = sizeof body};
    http_outcome oc = http_client_do(hc, &req, &resp);
    json_object *o = oc == HTTP_ANSWERED && resp.status == 200
                         ? parse_json(resp.body, resp.body_len, &perr) : NULL, *v;
    int ret = -1;
    if (jobj(o, "access_token", json_type_string, &v) > 0 &&
        (size_t)json_object_get_string_len(v) < sizeof cc_token) {
        int64_t life = 300;
        jint(o, "expires_in", INT64_MIN, INT64_MAX, &life);
        pthread_mutex_lock(&lock);
        snprintf(cc_token, sizeof cc_token, "%s", json_object_get_string(v));
        cc_until = now + (life > 60 ? life - 30 : life / 2);
        snprintf(tok, cap, "%s", cc_token);
        pthread_mutex_unlock(&lock);
        ret = 0;
    } else
        log_warn("client credentials token: %s (HTTP %ld)", oc == HTTP_ANSWERED ? "refused" : resp.err,
                 resp.status);
    json_object_put(o);
    return ret;
}

static int fetch(const config *cfg, const char *user, oauth2_identity *out)
{
    int ret = OAUTH2_UNAVAILABLE;
    http_client hc = {0};
    char tok[2048], auth[2100], *url = NULL, *enc = NULL;
    char *body = malloc(RESPONSE_MAX + 1);
    if (!body || http_client_init(&hc, false) != 0 || client_token(cfg, &hc, tok, sizeof tok) != 0)
        goto out;
    enc = curl_easy_escape(hc.curl, user, 0);
    const char *at = strstr(cfg->lookup_url, "{user}");
    if (!enc || asprintf(&url, "%.*s%s%s", at ? (int)(at - cfg->lookup_url) : (int)strlen(cfg->lookup_url),
                         cfg->lookup_url, enc, at ? at + 6 : "") < 0) {
        url = NULL;
        goto out;
    }
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    const char *hdrs[] = {"Accept: application/json", auth};
    http_request req = {"GET", url, hdrs, 2, NULL, 0, 1000, 3000, false};
    http_response resp = {.body = body, .body_cap = RESPONSE_MAX + 1};
    http_outcome oc = http_client_do(&hc, &req, &resp);
    if (oc == HTTP_ANSWERED && resp.status == 404) {
        out->ngroups = out->ninsts = 0; /* nobody the directory knows */
        ret = OAUTH2_OK;
    } else if (oc == HTTP_ANSWERED && resp.status == 200 &&
               lookup_parse(resp.body, resp.body_len, out) == 0)
        ret = OAUTH2_OK;
    else {
        if (oc == HTTP_ANSWERED && resp.status == 401) {
            pthread_mutex_lock(&lock);
            cc_until = 0; /* our token: get a new one next time */
            pthread_mutex_unlock(&lock);
        }
        log_warn("people lookup failed: %s (HTTP %ld)", oc == HTTP_ANSWERED ? "answered" : resp.err,
                 resp.status);
    }
out:
    OPENSSL_cleanse(tok, sizeof tok);
    free(url);
    curl_free(enc);
    free(body);
    http_client_free(&hc);
    return ret;
}

int lookup_person(const config *cfg, const char *user, oauth2_identity *out)
{
    unsigned char key[32];
    time_t now = time(NULL);
    size_t s;
    sha256_raw(user, strlen(user), key);
    memcpy(&s, key, sizeof s);
    s %= CACHE_SLOTS;
    memset(out, 0, sizeof *out);
    snprintf(out->user, sizeof out->user, "%s", user);
    pthread_mutex_lock(&lock);
    bool hit = people[s].used && memcmp(people[s].key, key, 32) == 0 && people[s].id.until > now;
    if (hit)
        *out = people[s].id;
    pthread_mutex_unlock(&lock);
    if (hit)
        return OAUTH2_OK;
    int cap = cfg->threads / 4 > 1 ? (int)(cfg->threads / 4) : 1;
    if (atomic_fetch_add(&in_flight, 1) >= cap) {
        atomic_fetch_sub(&in_flight, 1);
        return OAUTH2_BUSY;
    }
    int ret = fetch(cfg, user, out);
    atomic_fetch_sub(&in_flight, 1);
    if (ret == OAUTH2_OK) {
        out->until = now + cfg->lookup_people_cache_lifetime;
        out->active = true;
        pthread_mutex_lock(&lock);
        people[s].used = true;
        memcpy(people[s].key, key, 32);
        people[s].id = *out;
        pthread_mutex_unlock(&lock);
    }
    return ret;
}
