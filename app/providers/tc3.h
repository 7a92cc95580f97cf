#ifndef MEDIAGATE_TC3_H
#define MEDIAGATE_TC3_H
#include <stddef.h>
#include <time.h>

/* Tencent Cloud API 3.0 signing, TC3-HMAC-SHA256, with libcrypto. The
 * signed headers are content-type and host; the caller sends those two
 * as given here, plus X-TC-Action, X-TC-Timestamp (= timestamp),
 * X-TC-Version and X-TC-Region as the API asks. */
typedef struct tc3_request {
    const char *secret_id, *secret_key;
    const char *service;         /* "vod" */
    const char *host;            /* "vod.tencentcloudapi.com" */
    const char *method;          /* "POST" */
    const char *canonical_uri;   /* "/" */
    const char *canonical_query; /* already canonical; "" for a POST */
    const char *content_type;    /* "application/json; charset=utf-8" */
    const char *payload;         /* NULL is "" */
    size_t payload_len;
    time_t timestamp;            /* its UTC date is the credential scope's */
} tc3_request;

/* Builds the canonical request, the string to sign and the Authorization
 * header value into caller buffers (creq and sts may be NULL). Returns 0,
 * or -1 when a buffer is too small or memory runs out. */
int tc3_sign(const tc3_request *r, char *creq, size_t creq_cap, char *sts, size_t sts_cap,
             char *authz, size_t authz_cap);

#endif
