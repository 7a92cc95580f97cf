#include "providers/tc3.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "providers/sigv4.h"

/* Copies src into dst when it fits (dst NULL: nothing wanted). */
static int copy_out(char *dst, size_t cap, const char *src)
{
    if (!dst)
        return 0;
    size_t len = strlen(src);
    if (len >= cap)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

int tc3_sign(const tc3_request *r, char *creq, size_t creq_cap, char *sts, size_t sts_cap,
             char *authz, size_t authz_cap)
{
    int ret = -1;
    char *cbuf = NULL, *sbuf = NULL, *k = NULL;
    char date[11], phash[65], chash[65], sig[65];
    unsigned char kdate[32], kservice[32], ksigning[32], mac[32];
    struct tm tm;
    if (!gmtime_r(&r->timestamp, &tm) || strftime(date, sizeof date, "%Y-%m-%d", &tm) != 10)
        goto out;
    sha256_hex(r->payload ? r->payload : "", r->payload_len, phash);
    if (asprintf(&cbuf, "%s\n%s\n%s\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s",
                 r->method, r->canonical_uri, r->canonical_query ? r->canonical_query : "",
                 r->content_type, r->host, phash) < 0) {
        cbuf = NULL;
        goto out;
    }
    sha256_hex(cbuf, strlen(cbuf), chash);
    if (asprintf(&sbuf, "TC3-HMAC-SHA256\n%lld\n%s/%s/tc3_request\n%s", (long long)r->timestamp,
                 date, r->service, chash) < 0) {
        sbuf = NULL;
        goto out;
    }
    if (asprintf(&k, "TC3%s", r->secret_key) < 0) {
        k = NULL;
        goto out;
    }
    hmac_sha256(k, strlen(k), date, strlen(date), kdate);
    hmac_sha256(kdate, 32, r->service, strlen(r->service), kservice);
    hmac_sha256(kservice, 32, "tc3_request", 11, ksigning);
    hmac_sha256(ksigning, 32, sbuf, strlen(sbuf), mac);
    to_hex(mac, 32, sig);
    int n = snprintf(authz, authz_cap,
                     "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, "
                     "SignedHeaders=content-type;host, Signature=%s",
                     r->secret_id, date, r->service, sig);
    if (n < 0 || (size_t)n >= authz_cap || copy_out(creq, creq_cap, cbuf) ||
        copy_out(sts, sts_cap, sbuf))
        goto out;
    ret = 0;
out:
    if (k)
        OPENSSL_cleanse(k, strlen(k)); /* the secret key */
    free(k);
    free(sbuf);
    free(cbuf);
    return ret;
}
