/* Webhook signature schemes: Standard Webhooks, Mux/Stripe "t=,v1=" and
 * HS256 JWTs. See webhook_sig.h. */
#include "webhook_sig.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "json.h"

const char *sig_result_text(sig_result r)
{
    switch (r) {
    case SIG_OK:
        return "signature verified";
    case SIG_MISSING:
        return "signature headers are missing";
    case SIG_MALFORMED:
        return "signature is malformed";
    case SIG_STALE:
        return "signature timestamp is outside the 5-minute tolerance";
    case SIG_EXPIRED:
        return "the token has expired (its exp claim)";
    case SIG_NOT_YET:
        return "the token is not valid yet (its nbf claim)";
    case SIG_MISMATCH:
        return "signature does not match";
    case SIG_BAD_SECRET:
        return "the configured secret is unusable";
    }
    return "signature is invalid";
}

/* HMAC-SHA256(key, a || b) into out (EVP_MAC). On a libcrypto failure
 * out is a value no sender computes, so verification fails closed. */
static void mac(const void *key, size_t klen, const void *a, size_t alen, const void *b,
                size_t blen, unsigned char out[32])
{
    size_t n = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!c || !EVP_MAC_init(c, key, klen, params) || !EVP_MAC_update(c, a, alen) ||
        (blen && !EVP_MAC_update(c, b, blen)) || !EVP_MAC_final(c, out, &n, 32) || n != 32)
        memset(out, 0xa5, 32);
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
}

long sig_b64_decode(const char *in, size_t len, bool url, unsigned char *out, size_t cap)
{
    size_t pad = 0;
    if (!url)
        while (len && in[len - 1] == '=' && pad < 2) {
            len--;
            pad++;
        }
    if (len % 4 == 1 || (!url && (len + pad) % 4))
        return -1;
    size_t full = (len + 3) / 4 * 4, n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > cap || full > 8192)
        return -1;
    char tmp[8192 + 1];
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (url && (c == '+' || c == '/'))
            return -1;
        if (url && c == '-')
            c = '+';
        else if (url && c == '_')
            c = '/';
        if (!isalnum((unsigned char)c) && c != '+' && c != '/')
            return -1;
        tmp[i] = c;
    }
    for (size_t i = len; i < full; i++)
        tmp[i] = '=';
    unsigned char dec[8192];
    if (full && EVP_DecodeBlock(dec, (const unsigned char *)tmp, (int)full) < 0)
        return -1;
    memcpy(out, dec, n);
    return (long)n;
}

/* A decimal Unix time within the tolerance of now: SIG_OK, SIG_MALFORMED
 * or SIG_STALE; *t is set on SIG_OK. */
static sig_result timestamp(const char *s, size_t len, time_t now, long long *t)
{
    char buf[24];
    if (!len || len >= sizeof buf || strspn(s, "0123456789") < len)
        return SIG_MALFORMED;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    *t = strtoll(buf, NULL, 10);
    if (errno)
        return SIG_MALFORMED;
    if (*t < (long long)now - SIG_TOLERANCE || *t > (long long)now + SIG_TOLERANCE)
        return SIG_STALE;
    return SIG_OK;
}

int stdwh_key(const char *secret, unsigned char *key, size_t cap)
{
    if (!secret)
        return -1;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    long n = sig_b64_decode(secret, strlen(secret), false, key, cap);
    return n > 0 ? (int)n : -1;
}

int stdwh_sign(const unsigned char *key, size_t klen, const char *id, long long ts,
               const char *body, size_t len, char *out, size_t cap)
{
    char head[512];
    unsigned char d[32];
    int hn = snprintf(head, sizeof head, "%s.%lld.", id, ts);
    if (hn < 0 || (size_t)hn >= sizeof head || cap < 3 + 45)
        return -1;
    mac(key, klen, head, (size_t)hn, body, len, d);
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, d, 32);
    return 0;
}

sig_result stdwh_verify(const char *secret, const char *id, const char *ts, const char *sigs,
                        const char *body, size_t len, time_t now)
{
    unsigned char key[128];
    char want[64];
    long long t;
    int klen = stdwh_key(secret, key, sizeof key);
    if (klen < 0)
        return SIG_BAD_SECRET;
    if (!id || !*id || !ts || !*ts || !sigs || !*sigs)
        return SIG_MISSING;
    if (strlen(id) > 256)
        return SIG_MALFORMED;
    sig_result r = timestamp(ts, strlen(ts), now, &t);
    if (r != SIG_OK)
        return r;
    if (stdwh_sign(key, (size_t)klen, id, t, body, len, want, sizeof want) != 0)
        return SIG_MALFORMED;
    size_t wl = strlen(want);
    bool any = false;
    for (const char *p = sigs; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 3 && strncmp(p, "v1,", 3) == 0) {
            any = true;
            if (n == wl && CRYPTO_memcmp(p, want, wl) == 0)
                return SIG_OK;
        }
        p += n;
        p += strspn(p, " ");
    }
    return any ? SIG_MISMATCH : SIG_MALFORMED;
}

sig_result tv1_verify(const char *secret, const char *header, const char *body, size_t len,
                      time_t now)
{
    const char *t = NULL;
    size_t tlen = 0;
    bool any = false, match = false;
    char want[65];
    unsigned char d[32];
    long long ts;
    if (!secret || !*secret)
        return SIG_BAD_SECRET;
    if (!header || !*header)
        return SIG_MISSING;
    for (const char *p = header; *p;) { /* find t= first: it may come anywhere */
        size_t n = strcspn(p, ",");
        if (n > 2 && strncmp(p, "t=", 2) == 0) {
            t = p + 2;
            tlen = n - 2;
        }
        p += n + (p[n] == ',');
    }
    if (!t)
        return SIG_MALFORMED;
    sig_result r = timestamp(t, tlen, now, &ts);
    if (r != SIG_OK)
        return r;
    char head[32];
    int hn = snprintf(head, sizeof head, "%.*s.", (int)tlen, t);
    mac(secret, strlen(secret), head, (size_t)hn, body, len, d);
    to_hex(d, 32, want);
    for (const char *p = header; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 3 && strncmp(p, "v1=", 3) == 0) {
            any = true;
            match |= n - 3 == 64 && CRYPTO_memcmp(p + 3, want, 64) == 0;
        }
        p += n + (p[n] == ',');
    }
    return match ? SIG_OK : any ? SIG_MISMATCH : SIG_MALFORMED;
}

/* SIG_OK when now is inside exp and nbf (each optional), else SIG_EXPIRED
 * or SIG_NOT_YET; SIG_MALFORMED when either is not a number. */
static sig_result jwt_times(json_object *claims, time_t now)
{
    json_object *v;
    if (json_object_object_get_ex(claims, "exp", &v)) {
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
            return SIG_MALFORMED;
        if ((double)now >= json_object_get_double(v))
            return SIG_EXPIRED;
    }
    if (json_object_object_get_ex(claims, "nbf", &v)) {
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
            return SIG_MALFORMED;
        if ((double)now + 60 < json_object_get_double(v))
            return SIG_NOT_YET;
    }
    return SIG_OK;
}

/* Decodes one base64url JWT part of len chars and parses it as a JSON
 * object: a new reference, or NULL. The text goes to txt (cap bytes). */
static json_object *jwt_part(const char *p, size_t len, char *txt, size_t cap)
{
    long n = sig_b64_decode(p, len, true, (unsigned char *)txt, cap - 1);
    if (n < 0)
        return NULL;
    txt[n] = '\0';
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, txt, (int)n);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != (size_t)n || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

sig_result jwt_hs256_verify(const char *secret, const char *token, time_t now, char *payload,
                            size_t cap)
{
    sig_result ret = SIG_MALFORMED;
    json_object *hdr = NULL, *claims = NULL;
    char htxt[512];
    unsigned char sig[64], d[32];
    if (!secret || !*secret)
        return SIG_BAD_SECRET;
    if (!token || !*token)
        return SIG_MISSING;
    if (strncasecmp(token, "Bearer ", 7) == 0)
        token += 7;
    const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
        goto out;
    hdr = jwt_part(token, (size_t)(dot1 - token), htxt, sizeof htxt);
    if (!hdr || strcmp(jstr_or(hdr, "alg", ""), "HS256") != 0)
        goto out;
    if (sig_b64_decode(dot2 + 1, strlen(dot2 + 1), true, sig, sizeof sig) != 32)
        goto out;
    mac(secret, strlen(secret), token, (size_t)(dot2 - token), NULL, 0, d);
    if (CRYPTO_memcmp(sig, d, 32) != 0) {
        ret = SIG_MISMATCH;
        goto out;
    }
    claims = jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, cap);
    if (!claims)
        goto out;
    ret = jwt_times(claims, now);
out:
    json_object_put(hdr);
    json_object_put(claims);
    if (ret != SIG_OK && ret != SIG_EXPIRED && ret != SIG_NOT_YET && payload && cap)
        payload[0] = '\0';
    return ret;
}
