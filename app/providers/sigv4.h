#ifndef MEDIAGATE_SIGV4_H
#define MEDIAGATE_SIGV4_H
#include <stddef.h>

/* AWS Signature Version 4, with libcrypto's HMAC-SHA256. */

void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                 unsigned char out[32]);

/* kSigning = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region,
 * service, "aws4_request". */
void sigv4_signing_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32]);

typedef struct sigv4_request {
    const char *method;
    const char *path;         /* already URI-encoded, e.g. "/" */
    const char *query;        /* raw "b=2&a=1", already encoded; NULL or "" for none */
    const char *const *headers; /* "Name:value" lines to sign (Host and X-Amz-Date included) */
    size_t nheaders;
    const char *payload;
    size_t payload_len;
    const char *access_key, *secret, *region, *service;
    const char *amz_date;     /* YYYYMMDDTHHMMSSZ */
} sigv4_request;

/* Builds the canonical request, the string to sign and the Authorization
 * header value into caller buffers (creq and sts may be NULL). Returns 0,
 * or -1 when a buffer is too small or an input is malformed. */
int sigv4_sign(const sigv4_request *r, char *creq, size_t creq_cap, char *sts, size_t sts_cap,
               char *authz, size_t authz_cap);

/* Like sigv4_sign (Authorization only), with payload_hash standing for the
 * payload's: the hex SHA-256 of a body that is not in memory, or
 * "UNSIGNED-PAYLOAD". */
int sigv4_sign_hashed(const sigv4_request *r, const char *payload_hash, char *authz,
                      size_t authz_cap);

/* A request signed in its query string (a presigned URL). */
typedef struct sigv4_presign_req {
    const char *method;
    const char *host;         /* the Host header's value, signed */
    const char *path;         /* already URI-encoded */
    const char *query;        /* the operation's parameters, already encoded; NULL or "" */
    const char *const *headers; /* further "name:value" lines the client must send as signed */
    size_t nheaders;
    const char *access_key, *secret, *session_token, *region, *service;
    const char *amz_date;     /* YYYYMMDDTHHMMSSZ */
    long expires_s;           /* 1 .. 604800 */
} sigv4_presign_req;

/* The whole query string of a presigned URL, as botocore makes it: the
 * operation's parameters, then X-Amz-Algorithm, -Credential, -Date,
 * -Expires, -SignedHeaders (host and the headers), -Security-Token (with
 * a session token) and -Signature, into out. The payload is unsigned.
 * Returns 0, or -1 when out is too small or an input is malformed. */
int sigv4_presign(const sigv4_presign_req *r, char *out, size_t cap);

/* A browser-upload POST policy signature: base64 of policy into b64 and
 * hex(HMAC(kSigning, b64)) into sig. Returns 0 or -1. */
int sigv4_post_policy(const char *policy, const char *secret, const char *date8,
                      const char *region, char *b64, size_t b64_cap, char sig[65]);

#endif
