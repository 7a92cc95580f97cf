#ifndef MEDIAGATE_HASH_H
#define MEDIAGATE_HASH_H
#include <stddef.h>

/* SHA-256 (libcrypto) of len bytes: raw, or as 64 lower-case hex digits. */
void sha256_raw(const void *buf, size_t len, unsigned char out[32]);
void sha256_hex(const void *buf, size_t len, char out[65]);

/* n bytes as 2n lower-case hex digits and a NUL. */
void to_hex(const unsigned char *b, size_t n, char *out);

/* 32 random bytes (RAND_bytes) as 64 hex digits. Returns 0, or -1 when no
 * randomness is available. */
int random_hex(char out[65]);

#endif
