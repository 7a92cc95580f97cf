#ifndef MEDIAGATE_WORKER_HLS_CRYPT_H
#define MEDIAGATE_WORKER_HLS_CRYPT_H
#include <stdbool.h>
#include <stddef.h>

#include "profile.h"
#include "worker/kinds.h"

struct json_object;

/* HLS AES-128 for the local encoder (app/worker/hls_crypt.c): a fresh key
 * per encode attempt, kept in media_keys (job, attempt), every segment of
 * every variant encrypted (AES-128-CBC, PKCS#7, the IV of each playlist's
 * #EXT-X-KEY), and each media playlist naming the key's URI,
 * <MEDIAGATE_PUBLIC_URL>/media/key/<job id>/<attempt> (path-absolute
 * without it), which handlers/media_key.c answers only to callers the
 * job's ACL admits. */

/* Whether ctx's job is encrypted: profile p's encryption (NULL: the
 * defaults), "auto" meaning when the job's ACL does not admit anonymous
 * callers (asked of the database). Returns 0 with *want, or -1 with res set
 * (the database failed: retried). */
int hls_crypt_wanted(task_ctx *ctx, const profile *p, bool *want, task_result *res);

#define HLS_CRYPT_NOSPACE (-2) /* hls_crypt_outputs: the disk is full (res not set) */

/* Encrypts the nvariants variants' segments under dir (dir/v<i>/, each
 * segment through a temporary file renamed over it; then each index.m3u8
 * rewritten, through a temporary file too, with an #EXT-X-KEY naming the
 * key URI and a fresh random IV before each segment), after storing the
 * attempt's key (while the attempt holds the task: else TASK_HANDBACK).
 * Adds "encryption": {"method": "AES-128", "key_uri": ...} to extras.
 * Returns 0; -1 with res set; or HLS_CRYPT_NOSPACE, res untouched: the
 * caller waits for space. On failure dir holds a mix of clear and
 * encrypted files: the caller removes it, publishing nothing. */
int hls_crypt_outputs(task_ctx *ctx, const char *dir, int nvariants, struct json_object *extras,
                      task_result *res);

/* Decrypts one AES-128 segment in (the whole file) into the new file out
 * with key and iv. Returns 0, or -1 with errno (EBADMSG: wrong padding, the
 * wrong key); out is removed on failure. */
int hls_crypt_decrypt_file(const unsigned char key[16], const unsigned char iv[16],
                           const char *in, const char *out);

/* Decodes the hl hex digits at h (either case) into out[0..n). Returns 0, or
 * -1 when hl is not 2n or a character is not a hex digit (no sign, no
 * blank, no "0x"). */
int hls_crypt_unhex(const char *h, size_t hl, unsigned char *out, size_t n);

/* One #EXT-X-KEY line, as hls_crypt_outputs writes it. */
typedef struct hls_key {
    bool aes;             /* METHOD=AES-128; false: METHOD=NONE (clear) */
    int n;                /* the key's encode attempt: the URI's last path segment */
    bool has_iv;          /* an IV attribute was given */
    unsigned char iv[16]; /* its value */
} hls_key;

/* Reads the #EXT-X-KEY line line[0..ln) (the tag included, no newline) into
 * k. Returns 0, or -1 for another method (SAMPLE-AES ...), an AES-128 key
 * whose URI does not end in "/<n>" (1 to 9 digits, no leading zero) or whose
 * IV is not "0x" and 32 hex digits. */
int hls_crypt_key_line(const char *line, size_t ln, hls_key *k);

/* The IV of the segment of media sequence number seq under key k: k's IV,
 * or else seq big-endian, as the HLS spec says. */
void hls_crypt_segment_iv(const hls_key *k, long long seq, unsigned char iv[16]);

/* What decrypts segment name of the media playlist pl[0..len): 1 with *n
 * (the encode attempt whose media_keys row holds the key: the last path
 * segment of the #EXT-X-KEY's URI) and iv (its IV attribute, or else the
 * segment's media sequence number, as the HLS spec says), 0 when the
 * segment is clear (no key, or METHOD=NONE), -1 when the playlist does not
 * list it or its key is not an AES-128 key of this form. */
int hls_crypt_segment_key(const char *pl, size_t len, const char *name, int *n,
                          unsigned char iv[16]);

#endif
