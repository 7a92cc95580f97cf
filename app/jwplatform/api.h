#ifndef MEDIAGATE_JWPLATFORM_API_H
#define MEDIAGATE_JWPLATFORM_API_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "providers/jwplatform.h"

struct config;
struct http_client;

/* Calls of the JW Platform management API v1 (MEDIAGATE_JWPLATFORM_API_URL),
 * signed with api_key, api_timestamp, api_nonce and api_signature
 * (app/providers/jwplatform.c), sent through the one outbound client. */

typedef enum jw_outcome {
    JW_OK,          /* "status": "ok"; *out is the parsed answer */
    JW_NOT_FOUND,   /* 404 / code NotFound: the platform has no such resource */
    JW_RATE_LIMITED, /* 429 / RateLimitExceeded: wait retry_after s */
    JW_UNREACHED,   /* never reached the server (DNS, connect, timeout): retryable */
    JW_SERVER_ERROR, /* 5xx: the platform's own fault; reached it, so not retried */
    JW_REFUSED,     /* any other error answer (signature, parameters, permission) */
} jw_outcome;

typedef struct jw_api {
    const struct config *cfg;
    struct http_client *http;
    char *buf;      /* response buffer, JW_API_MAX + 1 bytes, owned */
    unsigned long calls;
    long timeout_ms; /* a call's whole deadline; 0 (jw_api_init's): 60 s */
} jw_api;

#define JW_API_MAX (32u << 20) /* the largest answer read: a page of 1000 videos is ~1 MB */

/* The longest title of a video made or changed here, in bytes. */
#define JW_TITLE_MAX 1000

/* True when title is one mediagate sends JW and jobs.title keeps: 1 to
 * JW_TITLE_MAX bytes of UTF-8 without a control character: C0, DEL, C1
 * (U+0080..U+009F) and the line and paragraph separators U+2028, U+2029
 * (what PostgreSQL's [[:cntrl:]] may match, whatever the locale). */
bool jw_title_ok(const char *title);

/* The longest a title or custom.sms_acl sent to JW may be once
 * percent-encoded: both go in one signed query (jw_api_get). */
#define JW_VALUE_ENCODED_MAX 1500

/* True when value percent-encodes to at most JW_VALUE_ENCODED_MAX bytes. */
bool jw_value_fits(const char *value);

/* Returns 0, or -1 when out of memory. jw_api_free frees buf only. */
int jw_api_init(jw_api *a, const struct config *cfg, struct http_client *http);
void jw_api_free(jw_api *a);

/* One signed GET of /v1/<call> with the n params (plus api_format=json and
 * the signing params). On JW_OK, *out is a new reference the caller puts.
 * Otherwise *out is NULL, err holds a reason fit for an operator (never the
 * secret or the signed URL), and *retry_after the seconds to wait for
 * JW_RATE_LIMITED (Retry-After, else the answer's rate_limit.reset, else 0). */
jw_outcome jw_api_get(jw_api *a, const char *call, const jw_param *prm, size_t n,
                      json_object **out, double *retry_after, char *err, size_t errcap);

/* The same, waiting out 429s (at most 20) and retrying calls that never
 * reached the server (at most 5 times, 0.25 s doubling). */
jw_outcome jw_api_get_retrying(jw_api *a, const char *call, const jw_param *prm, size_t n,
                               json_object **out, char *err, size_t errcap);

#endif
