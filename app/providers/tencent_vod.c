/* Tencent Cloud VOD API 3.0 calls: signing, the envelope, the errors. */
#include "providers/tencent_vod.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
#include "providers/tc3.h"
#include "request.h"

#define RESPONSE_MAX 65536
#define CONTENT_TYPE "application/json; charset=utf-8"

/* The Host header of url ("host" or "host:port"), which TC3 signs.
 * Returns 0 or -1. */
static int url_host(const char *url, char *out, size_t cap)
{
    int ret = -1;
    char *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL; /* the scheme's default: not in Host */
    int n = snprintf(out, cap, "%s%s%s", host, port ? ":" : "", port ? port : "");
    ret = n > 0 && (size_t)n < cap ? 0 : -1;
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ret;
}

/* True for the error codes that a later attempt may not meet: Tencent's
 * internal errors, rate limits, and a signature that expired in flight. */
static bool transient_code(const char *code)
{
    static const char *const prefixes[] = {"InternalError", "RequestLimitExceeded",
                                           "ResourceUnavailable", "AuthFailure.SignatureExpire"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(code, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* Reads Tencent's answer (status, the body in a) into a. */
static void read_answer(const char *action, long status, long retry_after, tencent_vod_answer *a)
{
    const char *perr;
    json_object *resp, *err;
    a->root = parse_json(a->body, a->body_len, &perr);
    if (jobj(a->root, "Response", json_type_object, &resp) <= 0) {
        /* Not Tencent's envelope: a proxy's or load balancer's answer. */
        if (status >= 500 || status == 429) {
            a->result = TENCENT_VOD_RETRY;
            a->retry_after = retry_after > 0 ? (double)retry_after : 0;
            snprintf(a->message, sizeof a->message, "Tencent %s: HTTP %ld", action, status);
        } else {
            a->result = TENCENT_VOD_FINAL;
            snprintf(a->message, sizeof a->message, "Tencent %s: HTTP %ld without an API response",
                     action, status);
        }
        return;
    }
    if (jobj(resp, "Error", json_type_object, &err) > 0) {
        a->code = jstr_or(err, "Code", "UnknownError");
        a->result = transient_code(a->code) ? TENCENT_VOD_RETRY : TENCENT_VOD_FINAL;
        snprintf(a->message, sizeof a->message, "Tencent %s: %.80s: %.360s", action, a->code,
                 jstr_or(err, "Message", ""));
        return;
    }
    a->result = TENCENT_VOD_OK;
    a->response = resp;
}

void tencent_vod_call(struct http_client *http, const config *cfg, const char *action,
                      json_object *body, tencent_vod_answer *a)
{
    char host[300], authz[1024], h_host[320], h_ts[48], h_authz[1100], h_region[96],
        h_action[80];
    *a = (tencent_vod_answer){.result = TENCENT_VOD_FINAL, .code = ""};
    if (cfg->tencent_subappid > 0)
        json_object_object_add(body, "SubAppId", json_object_new_int64(cfg->tencent_subappid));
    if (url_host(cfg->tencent_api_url, host, sizeof host) != 0) {
        snprintf(a->message, sizeof a->message, "MEDIAGATE_TENCENT_API_URL has no host");
        return;
    }
    const char *payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    time_t now = time(NULL);
    tc3_request sr = {cfg->tencent_secret_id, cfg->tencent_secret_key, "vod", host, "POST", "/", "",
                      CONTENT_TYPE, payload, strlen(payload), now};
    if (tc3_sign(&sr, NULL, 0, NULL, 0, authz, sizeof authz) != 0) {
        snprintf(a->message, sizeof a->message, "the %s call could not be signed", action);
        return;
    }
    snprintf(h_host, sizeof h_host, "Host: %s", host);
    snprintf(h_ts, sizeof h_ts, "X-TC-Timestamp: %lld", (long long)now);
    snprintf(h_authz, sizeof h_authz, "Authorization: %s", authz);
    snprintf(h_region, sizeof h_region, "X-TC-Region: %s", cfg->tencent_region);
    snprintf(h_action, sizeof h_action, "X-TC-Action: %s", action);
    const char *hdrs[] = {"Content-Type: " CONTENT_TYPE, h_host, h_action,
                          "X-TC-Version: 2018-07-17", h_ts, h_authz, h_region};
    size_t nh = *cfg->tencent_region ? 7 : 6;
    a->body = malloc(RESPONSE_MAX + 1);
    if (!a->body) {
        snprintf(a->message, sizeof a->message, "out of memory");
        return;
    }
    http_request req = {"POST", cfg->tencent_api_url, hdrs, nh, payload, strlen(payload),
                        5000, 20000, false};
    http_response resp = {.body = a->body, .body_cap = RESPONSE_MAX + 1};
    http_outcome oc = http && http->curl ? http_client_do(http, &req, &resp) : HTTP_BAD_REQUEST;
    a->body_len = resp.body_len;
    switch (oc) {
    case HTTP_ANSWERED:
        read_answer(action, resp.status, resp.retry_after, a);
        break;
    case HTTP_NO_ANSWER:
    case HTTP_TOO_LARGE:
        /* Maybe it happened: each caller's SessionId makes the retry safe. */
        a->result = TENCENT_VOD_RETRY;
        snprintf(a->message, sizeof a->message, "Tencent %s: %s (%s)", action,
                 http_outcome_name(oc), resp.err);
        break;
    default:
        snprintf(a->message, sizeof a->message, "Tencent %s: %s (%s)", action,
                 http_outcome_name(oc), resp.err);
        break;
    }
}

void tencent_vod_answer_free(tencent_vod_answer *a)
{
    json_object_put(a->root);
    free(a->body);
    *a = (tencent_vod_answer){.code = ""};
}

void tencent_vod_session_id(const char *prefix, const char *key, char out[51])
{
    size_t lp = strnlen(prefix, 10), lk = strlen(key);
    char hex[65];
    if (lp + lk > 50) {
        sha256_hex(key, lk, hex);
        key = hex;
        lk = 50 - lp;
    }
    memcpy(out, prefix, lp);
    memcpy(out + lp, key, lk);
    out[lp + lk] = '\0';
}
