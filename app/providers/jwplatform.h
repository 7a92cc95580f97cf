#ifndef MEDIAGATE_JWPLATFORM_SIG_H
#define MEDIAGATE_JWPLATFORM_SIG_H
#include <stddef.h>

/* JW Platform management API v1 request signing: api_signature is the hex
 * SHA-1 of the signature base string followed by the API secret. The base
 * string is every parameter but api_signature as enc(name)=enc(value),
 * sorted by encoded name (then value) in byte order and joined with '&';
 * enc is UTF-8 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (so
 * a space is %20, never '+'). Pure: tested on JW's published example
 * (tests/fixtures/providers/jwplatform-signatures.json). */

typedef struct jw_param {
    const char *name;
    const char *value;
} jw_param;

/* Writes the percent-encoding of s into out (cap bytes, NUL-terminated).
 * Returns its length, or -1 when cap is too small. */
int jw_percent_encode(const char *s, char *out, size_t cap);

/* Signs the n params (at most 32) with secret: the base string into sbs
 * (sbs_cap bytes; NULL for none) and the 40 hex digits into sig. The
 * query to send is the base string + "&api_signature=" + sig, which
 * jw_v1_signed_query writes. Returns 0, or -1 when a buffer is too small
 * or n is over 32. */
int jw_v1_sign(const jw_param *params, size_t n, const char *secret, char *sbs, size_t sbs_cap,
               char sig[41]);

/* The whole signed query string (no leading '?') into out. Returns its
 * length, or -1. */
int jw_v1_signed_query(const jw_param *params, size_t n, const char *secret, char *out,
                       size_t cap);

#endif
