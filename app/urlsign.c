/* Signed URLs of local job outputs. See urlsign.h. */
#include "urlsign.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void urlsign_job(const char *secret, const char *job, long long exp, char sig[23])
{
    unsigned char d[16];
    unsigned int n = 0;
    char *s = NULL, b[32];
    if (asprintf(&s, "%lld/%s %s", exp, job, secret) < 0 ||
        !EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL) || n != 16)
        memset(d, 0, sizeof d);
    free(s);
    EVP_EncodeBlock((unsigned char *)b, d, 16); /* 24 characters, "==" last */
    for (int i = 0; i < 22; i++)
        sig[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    sig[22] = '\0';
}

int urlsign_output(const char *media_url, const char *job, const char *path, const char *secret,
                   long long exp, char *out, size_t cap)
{
    size_t ml = strlen(media_url), jl = strlen(job);
    if (strncmp(path, media_url, ml) != 0 || path[ml] != '/' || strncmp(path + ml + 1, job, jl) != 0 ||
        path[ml + 1 + jl] != '/')
        return -1;
    char sig[23];
    urlsign_job(secret, job, exp, sig);
    int n = snprintf(out, cap, "%s/s/%s/%lld/%s", media_url, sig, exp, path + ml + 1);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}
