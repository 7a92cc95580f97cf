/* JW Platform management API v1 signatures. See jwplatform.h. */
#include "providers/jwplatform.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JW_MAX_PARAMS 32

int jw_percent_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (o + need >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (int)o;
}

/* One encoded "name=value" pair; split at its '='. */
typedef struct enc_pair {
    char *text;
    size_t name_len;
} enc_pair;

static int pair_cmp(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return strcmp(x->text + x->name_len, y->text + y->name_len);
}

/* Writes the base string of params into out (cap bytes). Returns its
 * length or -1. */
static int base_string(const jw_param *params, size_t n, char *out, size_t cap)
{
    enc_pair pairs[JW_MAX_PARAMS];
    size_t made = 0, o = 0;
    int ret = -1;
    if (n > JW_MAX_PARAMS || cap == 0)
        return -1;
    for (; made < n; made++) {
        size_t nl = strlen(params[made].name) * 3 + 1, vl = strlen(params[made].value) * 3 + 1;
        char *t = malloc(nl + vl + 1);
        if (!t)
            goto out;
        int a = jw_percent_encode(params[made].name, t, nl);
        t[a] = '=';
        jw_percent_encode(params[made].value, t + a + 1, vl);
        pairs[made] = (enc_pair){t, (size_t)a};
    }
    qsort(pairs, n, sizeof pairs[0], pair_cmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? "&" : "", pairs[i].text);
        if (w < 0 || (size_t)w >= cap - o)
            goto out;
        o += (size_t)w;
    }
    ret = (int)o;
out:
    for (size_t i = 0; i < made; i++)
        free(pairs[i].text);
    return ret;
}

int jw_v1_sign(const jw_param *params, size_t n, const char *secret, char *sbs, size_t sbs_cap,
               char sig[41])
{
    int ret = -1;
    size_t cap = 64;
    for (size_t i = 0; i < n && i < JW_MAX_PARAMS; i++)
        cap += 3 * (strlen(params[i].name) + strlen(params[i].value)) + 2;
    char *buf = malloc(cap);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    int len = buf ? base_string(params, n, buf, cap) : -1;
    if (len < 0 || !md || !EVP_DigestInit_ex(md, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(md, buf, (size_t)len) || !EVP_DigestUpdate(md, secret, strlen(secret)) ||
        !EVP_DigestFinal_ex(md, d, &dl) || dl != 20)
        goto out;
    if (sbs) {
        if ((size_t)len >= sbs_cap)
            goto out;
        memcpy(sbs, buf, (size_t)len + 1);
    }
    for (unsigned i = 0; i < 20; i++)
        snprintf(sig + 2 * i, 3, "%02x", d[i]);
    ret = 0;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    return ret;
}

int jw_v1_signed_query(const jw_param *params, size_t n, const char *secret, char *out,
                       size_t cap)
{
    char sig[41];
    if (jw_v1_sign(params, n, secret, out, cap, sig) != 0)
        return -1;
    size_t l = strlen(out);
    int w = snprintf(out + l, cap - l, "&api_signature=%s", sig);
    return w < 0 || (size_t)w >= cap - l ? -1 : (int)(l + (size_t)w);
}
