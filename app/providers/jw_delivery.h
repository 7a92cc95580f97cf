#ifndef MEDIAGATE_JW_DELIVERY_H
#define MEDIAGATE_JW_DELIVERY_H
#include <stddef.h>

/* JW Platform delivery URL signing (fixtures: jwplatform-signatures.json).
 * Pure functions: the caller passes exp. */

/* The legacy scheme: sig = hex MD5 of "<path without its leading slash>:
 * <exp>:<secret>", sent as ?exp=<exp>&sig=<sig>. */
void jw_sign_md5(const char *path, long long exp, const char *secret, char sig[33]);

/* The /v2/ delivery routes: ?token=<JWT HS256 of {"resource":path,"exp":exp}
 * with the property's API secret>, the header as JW's own libraries write
 * it ({"typ":"JWT","alg":"HS256"}). Returns 0, or -1 when cap is small. */
int jw_sign_jwt(const char *resource, long long exp, const char *secret, char *out, size_t cap);

/* An expiry lifetime seconds from now, rounded up to 180 s as JW's docs and
 * mediaplatform_jwp do, so that answers stay the same for minutes. */
long long jw_expiry(long long now, long lifetime);

#endif
