/* JW Platform delivery URL signing. See jw_delivery.h. */
#include "providers/jw_delivery.h"

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

void jw_sign_md5(const char *path, long long exp, const char *secret, char sig[33])
{
    unsigned char d[16];
    unsigned int n = 0;
    char *s = NULL;
    if (*path == '/')
        path++;
    if (asprintf(&s, "%s:%lld:%s", path, exp, secret) < 0 ||
        !EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL) || n != 16)
        memset(d, 0, sizeof d);
    to_hex(d, 16, sig);
    free(s);
}

/* base64url without padding of len bytes into out (cap bytes). */
static int b64url(const unsigned char *in, size_t len, char *out, size_t cap)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (need > cap)
        return -1;
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return n;
}

int jw_sign_jwt(const char *resource, long long exp, const char *secret, char *out, size_t cap)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    int ret = -1;
    char *claims = NULL;
    unsigned char mac[32];
    size_t maclen = 0;
    json_object *r = json_object_new_string(resource);
    const char *rs = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    if (asprintf(&claims, "{\"resource\":%s,\"exp\":%lld}", rs, exp) < 0) {
        claims = NULL;
        goto out;
    }
    int h = b64url((const unsigned char *)header, strlen(header), out, cap);
    if (h < 0 || (size_t)h + 1 >= cap)
        goto out;
    out[h] = '.';
    int c = b64url((const unsigned char *)claims, strlen(claims), out + h + 1, cap - (size_t)h - 1);
    if (c < 0)
        goto out;
    size_t signed_len = (size_t)h + 1 + (size_t)c;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                   (const unsigned char *)out, signed_len, mac, sizeof mac, &maclen) ||
        maclen != 32 || signed_len + 1 >= cap)
        goto out;
    out[signed_len] = '.';
    if (b64url(mac, 32, out + signed_len + 1, cap - signed_len - 1) < 0)
        goto out;
    ret = 0;
out:
    free(claims);
    json_object_put(r);
    if (ret && cap)
        out[0] = '\0';
    return ret;
}

long long jw_expiry(long long now, long lifetime)
{
    long long t = now + lifetime;
    return (t + 179) / 180 * 180;
}
