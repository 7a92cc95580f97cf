#ifndef MEDIAGATE_HASH_H
#define MEDIAGATE_HASH_H
#include <stdbool.h>
#include <stddef.h>

/* SHA-256 (libcrypto) of len bytes: raw, or as 64 lower-case hex digits. */
void sha256_raw(const void *buf, size_t len, unsigned char out[32]);
void sha256_hex(const void *buf, size_t len, char out[65]);

/* n bytes as 2n lower-case hex digits and a NUL. */
void to_hex(const unsigned char *b, size_t n, char *out);

/* 32 random bytes (RAND_bytes) as 64 hex digits. Returns 0, or -1 when no
 * randomness is available. */
int random_hex(char out[65]);

/* A UUID as text: 8-4-4-4-12 lower-case hex digits, as uuid_unparse_lower
 * writes it and PostgreSQL prints it. UUID_LEN characters; UUID_BUF holds
 * one with its NUL. */
#define UUID_LEN 36
#define UUID_BUF (UUID_LEN + 1)

/* True when buf[0..len) is one UUID in that form. Upper case is refused:
 * ids are issued in lower case and name files (recordings, uploads). */
bool uuid_valid(const char *buf, size_t len);

/* A new random (version 4) UUID in out, as text (uuid_valid holds). */
void uuid_new(char out[UUID_BUF]);

#endif
