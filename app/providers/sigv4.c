#include "providers/sigv4.h"

#include "hash.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                 unsigned char out[32])
{
    unsigned int n = 32;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n))
        memset(out, 0, 32);
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32])
{
    char k[256];
    unsigned char a[32], b[32];
    snprintf(k, sizeof k, "AWS4%s", secret);
    hmac_sha256(k, strlen(k), date8, strlen(date8), a);
    hmac_sha256(a, 32, region, strlen(region), b);
    hmac_sha256(b, 32, service, strlen(service), a);
    hmac_sha256(a, 32, "aws4_request", 12, out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct kv {
    char *k, *v;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Appends to out at *n; returns -1 on overflow. */
static int add(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (*n + len + 1 > cap)
        return -1;
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = '\0';
    return 0;
}
#define ADDS(s) add(buf, cap, &n, (s), strlen(s))

/* The canonical request: method, path, sorted query, sorted lower-case
 * headers with trimmed values, the signed-header list, the payload hash. */
static int canonical(const sigv4_request *r, const char *payload_hash, char *buf, size_t cap,
                     char *signed_hdrs, size_t shcap)
{
    int ret = -1;
    size_t n = 0, nq = 0;
    kv *q = NULL, *h = calloc(r->nheaders + 1, sizeof *h);
    char *qcopy = strdup(r->query ? r->query : "");
    char phash[80];
    if (!h || !qcopy)
        goto out;
    q = calloc(strlen(qcopy) / 2 + 2, sizeof *q);
    if (!q)
        goto out;
    char *save = NULL;
    for (char *t = strtok_r(qcopy, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq)
            *eq = '\0';
        q[nq].k = t;
        q[nq++].v = eq ? eq + 1 : "";
    }
    qsort(q, nq, sizeof *q, cmp_kv);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *line = r->headers[i], *colon = strchr(line, ':');
        if (!colon)
            goto out;
        h[i].k = strndup(line, (size_t)(colon - line));
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        h[i].v = strdup(v);
        if (!h[i].k || !h[i].v)
            goto out;
        for (char *p = h[i].k; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        size_t vl = strlen(h[i].v);
        while (vl && (h[i].v[vl - 1] == ' ' || h[i].v[vl - 1] == '\t'))
            h[i].v[--vl] = '\0';
    }
    qsort(h, r->nheaders, sizeof *h, cmp_kv);

    if (ADDS(r->method) || ADDS("\n") || ADDS(r->path) || ADDS("\n"))
        goto out;
    for (size_t i = 0; i < nq; i++)
        if ((i && ADDS("&")) || ADDS(q[i].k) || ADDS("=") || ADDS(q[i].v))
            goto out;
    if (ADDS("\n"))
        goto out;
    size_t sn = 0;
    signed_hdrs[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        if (ADDS(h[i].k) || ADDS(":") || ADDS(h[i].v) || ADDS("\n"))
            goto out;
        if ((i && add(signed_hdrs, shcap, &sn, ";", 1)) ||
            add(signed_hdrs, shcap, &sn, h[i].k, strlen(h[i].k)))
            goto out;
    }
    if (payload_hash)
        snprintf(phash, sizeof phash, "%s", payload_hash);
    else
        sha256_hex(r->payload ? r->payload : "", r->payload_len, phash);
    if (ADDS("\n") || ADDS(signed_hdrs) || ADDS("\n") || ADDS(phash))
        goto out;
    ret = 0;
out:
    for (size_t i = 0; h && i < r->nheaders; i++) {
        free(h[i].k);
        free(h[i].v);
    }
    free(h);
    free(q);
    free(qcopy);
    return ret;
}

/* sigv4_sign, with a payload hash given or (NULL) computed. */
static int sign(const sigv4_request *r, const char *payload_hash, char *creq, size_t creq_cap,
                char *sts, size_t sts_cap, char *authz, size_t authz_cap)
{
    char cbuf[8192], sbuf[1024], signed_hdrs[1024], chash[65], date8[9], sig[65];
    unsigned char key[32], mac[32];
    if (!r->amz_date || strlen(r->amz_date) != 16)
        return -1;
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    if (canonical(r, payload_hash, cbuf, sizeof cbuf, signed_hdrs, sizeof signed_hdrs) != 0)
        return -1;
    sha256_hex(cbuf, strlen(cbuf), chash);
    int n = snprintf(sbuf, sizeof sbuf, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                     r->amz_date, date8, r->region, r->service, chash);
    if (n < 0 || (size_t)n >= sizeof sbuf)
        return -1;
    sigv4_signing_key(r->secret, date8, r->region, r->service, key);
    hmac_sha256(key, 32, sbuf, strlen(sbuf), mac);
    to_hex(mac, 32, sig);
    n = snprintf(authz, authz_cap,
                 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                 "Signature=%s",
                 r->access_key, date8, r->region, r->service, signed_hdrs, sig);
    if (n < 0 || (size_t)n >= authz_cap)
        return -1;
    if (creq && (size_t)snprintf(creq, creq_cap, "%s", cbuf) >= creq_cap)
        return -1;
    if (sts && (size_t)snprintf(sts, sts_cap, "%s", sbuf) >= sts_cap)
        return -1;
    return 0;
}

int sigv4_sign(const sigv4_request *r, char *creq, size_t creq_cap, char *sts, size_t sts_cap,
               char *authz, size_t authz_cap)
{
    return sign(r, NULL, creq, creq_cap, sts, sts_cap, authz, authz_cap);
}

int sigv4_sign_hashed(const sigv4_request *r, const char *payload_hash, char *authz,
                      size_t authz_cap)
{
    return sign(r, payload_hash, NULL, 0, NULL, 0, authz, authz_cap);
}

/* Appends "&name=value" to out at *n, the value percent-encoded as SigV4
 * wants (RFC 3986: all but A-Za-z0-9-._~, which is libcurl's escaping).
 * Returns 0, or -1 on overflow. */
static int add_param(char *out, size_t cap, size_t *n, const char *name, const char *value)
{
    char *enc = curl_easy_escape(NULL, value, 0);
    int k = enc ? snprintf(out + *n, cap - *n, "%s%s=%s", *n ? "&" : "", name, enc) : -1;
    curl_free(enc);
    if (k < 0 || (size_t)k >= cap - *n)
        return -1;
    *n += (size_t)k;
    return 0;
}

int sigv4_presign(const sigv4_presign_req *r, char *buf, size_t cap)
{
    char date8[9], cred[512], expires[24], names[512], authz[2048];
    const char *hdrs[17];
    size_t n = 0, nn = 0, nl = 0;
    char *lower[17];
    int ret = -1;
    if (!r->amz_date || strlen(r->amz_date) != 16 || r->nheaders > 16 || r->expires_s < 1 ||
        r->expires_s > 604800 || cap == 0)
        goto out;
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    snprintf(cred, sizeof cred, "%s/%s/%s/%s/aws4_request", r->access_key, date8, r->region,
             r->service);
    snprintf(expires, sizeof expires, "%ld", r->expires_s);
    /* The signed headers' names, sorted as the canonical request sorts them. */
    char host[300];
    snprintf(host, sizeof host, "host:%s", r->host);
    hdrs[0] = host;
    for (size_t i = 0; i < r->nheaders; i++)
        hdrs[i + 1] = r->headers[i];
    sigv4_request q = {r->method, r->path, NULL, hdrs, r->nheaders + 1, NULL, 0, r->access_key,
                       r->secret, r->region, r->service, r->amz_date};
    for (size_t i = 0; i <= r->nheaders; i++) {
        const char *colon = strchr(hdrs[i], ':');
        if (!colon || !(lower[nl] = strndup(hdrs[i], (size_t)(colon - hdrs[i]))))
            goto out;
        for (char *p = lower[nl]; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        nl++;
    }
    qsort(lower, nl, sizeof *lower, cmp_str);
    for (size_t i = 0; i < nl; i++) {
        int k = snprintf(names + nn, sizeof names - nn, "%s%s", i ? ";" : "", lower[i]);
        if (k < 0 || (size_t)k >= sizeof names - nn)
            goto out;
        nn += (size_t)k;
    }
    buf[0] = '\0';
    if (r->query && *r->query) {
        int k = snprintf(buf, cap, "%s", r->query);
        if (k < 0 || (size_t)k >= cap)
            goto out;
        n = (size_t)k;
    }
    if (add_param(buf, cap, &n, "X-Amz-Algorithm", "AWS4-HMAC-SHA256") ||
        add_param(buf, cap, &n, "X-Amz-Credential", cred) ||
        add_param(buf, cap, &n, "X-Amz-Date", r->amz_date) ||
        add_param(buf, cap, &n, "X-Amz-Expires", expires) ||
        add_param(buf, cap, &n, "X-Amz-SignedHeaders", names) ||
        (r->session_token && *r->session_token &&
         add_param(buf, cap, &n, "X-Amz-Security-Token", r->session_token)))
        goto out;
    q.query = buf;
    if (sigv4_sign_hashed(&q, "UNSIGNED-PAYLOAD", authz, sizeof authz) != 0)
        goto out;
    const char *sig = strstr(authz, "Signature=");
    if (!sig || add_param(buf, cap, &n, "X-Amz-Signature", sig + strlen("Signature=")))
        goto out;
    ret = 0;
out:
    for (size_t i = 0; i < nl; i++)
        free(lower[i]);
    if (ret != 0 && cap)
        buf[0] = '\0';
    return ret;
}

int sigv4_post_policy(const char *policy, const char *secret, const char *date8,
                      const char *region, char *b64, size_t b64_cap, char sig[65])
{
    size_t len = strlen(policy);
    if (b64_cap < 4 * ((len + 2) / 3) + 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)policy, (int)len);
    unsigned char key[32], mac[32];
    sigv4_signing_key(secret, date8, region, "s3", key);
    hmac_sha256(key, 32, b64, strlen(b64), mac);
    to_hex(mac, 32, sig);
    return 0;
}
