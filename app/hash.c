#include "hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <uuid/uuid.h>

void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void sha256_raw(const void *buf, size_t len, unsigned char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL))
        memset(md, 0, 32);
    memcpy(out, md, 32);
}

void sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char md[32];
    sha256_raw(buf, len, md);
    to_hex(md, 32, out);
}

int random_hex(char out[65])
{
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    to_hex(b, 32, out);
    return 0;
}

bool uuid_valid(const char *buf, size_t len)
{
    if (len != UUID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

void uuid_new(char out[UUID_BUF])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}
