#ifndef MEDIAGATE_WEBHOOK_SIG_H
#define MEDIAGATE_WEBHOOK_SIG_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Signatures that senders put on webhooks, over libcrypto's HMAC-SHA256.
 * Pure functions: the caller passes the time, so tests replay the
 * providers' published vectors. A timestamp more than SIG_TOLERANCE
 * seconds away from now, either way, is refused (Standard Webhooks and
 * Mux both use 5 minutes). */
#define SIG_TOLERANCE 300

typedef enum sig_result {
    SIG_OK,
    SIG_MISSING,    /* a header the scheme needs is absent or empty */
    SIG_MALFORMED,  /* present but not in the scheme's format */
    SIG_STALE,      /* timestamp outside the tolerance */
    SIG_EXPIRED,    /* a JWT at or past its exp */
    SIG_NOT_YET,    /* a JWT before its nbf (60 s of leeway) */
    SIG_MISMATCH,   /* well-formed, but no signature matches */
    SIG_BAD_SECRET, /* our own secret is unusable (not base64, empty) */
} sig_result;

/* Decodes strict base64 (url: the URL-safe alphabet, padding optional)
 * of len chars (at most 8192) into out (cap bytes). Returns the decoded
 * length, or -1. */
long sig_b64_decode(const char *in, size_t len, bool url, unsigned char *out, size_t cap);

/* A short English reason for r, e.g. "signature does not match". */
const char *sig_result_text(sig_result r);

/* Standard Webhooks (standardwebhooks.com). The secret is "whsec_" plus
 * base64 of the key (the prefix is optional). Decodes it into key (cap
 * bytes); returns the key's length, or -1. */
int stdwh_key(const char *secret, unsigned char *key, size_t cap);

/* "v1," + base64(HMAC-SHA256(key, id "." ts "." body)) into out.
 * Returns 0, or -1 when cap is too small (64 is enough). */
int stdwh_sign(const unsigned char *key, size_t klen, const char *id, long long ts,
               const char *body, size_t len, char *out, size_t cap);

/* Checks the webhook-id, webhook-timestamp and webhook-signature header
 * values (sigs: space-separated "v1,<base64>" entries, one must match). */
sig_result stdwh_verify(const char *secret, const char *id, const char *ts, const char *sigs,
                        const char *body, size_t len, time_t now);

/* The "t=<unix>,v1=<hex>[,v1=<hex>…]" header of Mux (and Stripe): hex
 * HMAC-SHA256(secret, t "." body); any v1 may match, other schemes are
 * ignored. */
sig_result tv1_verify(const char *secret, const char *header, const char *body, size_t len,
                      time_t now);

/* A compact JWT signed HS256 with secret (an optional "Bearer " prefix is
 * skipped). The HMAC is checked over the received header.payload bytes;
 * alg must be HS256 (never "none"); exp and nbf, when present, are checked
 * against now (SIG_EXPIRED, SIG_NOT_YET). On SIG_OK, and on those two, the
 * decoded payload (JSON text, NUL-terminated) is written to payload (cap
 * bytes; a longer one is SIG_MALFORMED), so a refusal can say when. */
sig_result jwt_hs256_verify(const char *secret, const char *token, time_t now, char *payload,
                            size_t cap);

#endif
