/* JW Platform management API v1 calls. See api.h. */
#include "jwplatform/api.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "http_client.h"
#include "json.h"
#include "request.h"

#define JW_MAX_EXTRA 8
#define UNREACHED_TRIES 5
#define RATE_LIMIT_WAITS 20

bool jw_title_ok(const char *title)
{
    size_t n = title ? strlen(title) : 0;
    if (n == 0 || n > JW_TITLE_MAX || utf8_length(title, n) < 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)title; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
            (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)))
            return false;
    return true;
}

bool jw_value_fits(const char *value)
{
    char enc[JW_VALUE_ENCODED_MAX + 1];
    return jw_percent_encode(value, enc, sizeof enc) >= 0;
}

int jw_api_init(jw_api *a, const config *cfg, http_client *http)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->http = http;
    a->buf = malloc(JW_API_MAX + 1);
    return a->buf ? 0 : -1;
}

void jw_api_free(jw_api *a)
{
    free(a->buf);
    a->buf = NULL;
}

/* Reads the error envelope {"status":"error","code","title","message"}
 * into err; returns the code or "". */
static const char *error_text(json_object *root, long status, char *err, size_t errcap)
{
    const char *code = jstr_or(root, "code", ""), *msg = jstr_or(root, "message", "");
    if (!*msg)
        msg = jstr_or(root, "title", "");
    snprintf(err, errcap, "HTTP %ld%s%.60s%s%.200s", status, *code ? " " : "", code,
             *msg ? ": " : "", msg);
    return code;
}

/* Seconds until the answer's rate_limit.reset, or 0. */
static double reset_wait(json_object *root)
{
    json_object *rl;
    int64_t reset;
    if (jobj(root, "rate_limit", json_type_object, &rl) <= 0 ||
        jint(rl, "reset", INT64_MIN, INT64_MAX, &reset) <= 0)
        return 0;
    long long d = (long long)reset - (long long)time(NULL);
    return d > 0 && d <= 120 ? (double)d : 0;
}

jw_outcome jw_api_get(jw_api *a, const char *call, const jw_param *prm, size_t n,
                      json_object **out, double *retry_after, char *err, size_t errcap)
{
    const config *cfg = a->cfg;
    jw_param all[JW_MAX_EXTRA + 4];
    char ts[24], nonce[16], url[4096], query[3500], hdr_accept[] = "Accept: application/json";
    unsigned char rnd[4];
    json_object *root = NULL;
    jw_outcome ret = JW_REFUSED;
    *out = NULL;
    *retry_after = 0;
    err[0] = '\0';
    if (n > JW_MAX_EXTRA || !cfg->jwplatform_mirror) {
        snprintf(err, errcap, "the JW Platform API key and secret are not set");
        goto out;
    }
    /* 9 digits, as the official clients send (zero-filled). */
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errcap, "no randomness for api_nonce");
        goto out;
    }
    unsigned long r = ((unsigned long)rnd[0] << 24 | (unsigned long)rnd[1] << 16 |
                       (unsigned long)rnd[2] << 8 | rnd[3]) % 1000000000UL;
    snprintf(nonce, sizeof nonce, "%09lu", r);
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    memcpy(all, prm, n * sizeof *prm);
    all[n++] = (jw_param){"api_format", "json"};
    all[n++] = (jw_param){"api_key", cfg->jwplatform_api_key};
    all[n++] = (jw_param){"api_nonce", nonce};
    all[n++] = (jw_param){"api_timestamp", ts};
    size_t base = strlen(cfg->jwplatform_api_url);
    while (base && cfg->jwplatform_api_url[base - 1] == '/')
        base--;
    if (jw_v1_signed_query(all, n, cfg->jwplatform_api_secret, query, sizeof query) < 0 ||
        snprintf(url, sizeof url, "%.*s/v1/%s?%s", (int)base, cfg->jwplatform_api_url, call,
                 query) >= (int)sizeof url) {
        snprintf(err, errcap, "the request to /v1/%s is too long", call);
        goto out;
    }
    const char *hdrs[] = {hdr_accept};
    http_request req = {"GET", url, hdrs, 1, NULL, 0, 5000, a->timeout_ms > 0 ? a->timeout_ms : 60000,
                        false};
    http_response resp = {.body = a->buf, .body_cap = JW_API_MAX + 1};
    a->calls++;
    http_outcome oc = http_client_do(a->http, &req, &resp);
    if (oc == HTTP_NO_ANSWER) {
        snprintf(err, errcap, "no answer (%s)", resp.err);
        ret = JW_UNREACHED;
        goto out;
    }
    if (oc != HTTP_ANSWERED) {
        snprintf(err, errcap, "%s (%s)", http_outcome_name(oc), resp.err);
        ret = oc == HTTP_TOO_LARGE ? JW_SERVER_ERROR : JW_REFUSED;
        goto out;
    }
    const char *perr;
    root = parse_json(resp.body, resp.body_len, &perr);
    if (resp.status == 200 && strcmp(jstr_or(root, "status", ""), "ok") == 0) {
        *out = root;
        root = NULL;
        ret = JW_OK;
        goto out;
    }
    const char *code = error_text(root, resp.status, err, errcap);
    if (resp.status == 429 || strcmp(code, "RateLimitExceeded") == 0) {
        *retry_after = resp.retry_after >= 0 ? (double)resp.retry_after : reset_wait(root);
        ret = JW_RATE_LIMITED;
    } else if (resp.status == 404 || strcmp(code, "NotFound") == 0) {
        ret = JW_NOT_FOUND;
    } else if (resp.status >= 500) {
        ret = JW_SERVER_ERROR;
    } else if (resp.status == 200 && !root) {
        snprintf(err, errcap, "HTTP 200 but the answer is not JSON: %s", perr);
    }
out:
    json_object_put(root);
    return ret;
}

static void nap(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

jw_outcome jw_api_get_retrying(jw_api *a, const char *call, const jw_param *prm, size_t n,
                               json_object **out, char *err, size_t errcap)
{
    int unreached = 0, limited = 0;
    double wait = 0.25, after = 0;
    for (;;) {
        jw_outcome oc = jw_api_get(a, call, prm, n, out, &after, err, errcap);
        if (oc == JW_UNREACHED && unreached++ < UNREACHED_TRIES) {
            nap(wait);
            wait *= 2;
            continue;
        }
        if (oc == JW_RATE_LIMITED && limited++ < RATE_LIMIT_WAITS) {
            /* The list call allows 30 a minute: without a hint, 2 s doubling to 60 s. */
            double w = after > 0 ? after : 2.0 * (1 << (limited < 5 ? limited - 1 : 5));
            nap(w > 60 ? 60 : w);
            continue;
        }
        return oc;
    }
}
