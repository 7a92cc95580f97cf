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

/* Encrypts the nvariants variants' segments under dir (dir/v<i>/, each
 * index.m3u8 rewritten with its #EXT-X-KEY), after storing the attempt's
 * key. Adds "encryption" to extras. Returns 0, or -1 with res set. */
int hls_crypt_outputs(task_ctx *ctx, const char *dir, int nvariants, struct json_object *extras,
                      task_result *res);

/* Decrypts one AES-128 segment in (the whole file) into out with key and
 * iv. Returns 0, or -1 (unreadable, wrong padding: the wrong key). */
int hls_crypt_decrypt_file(const unsigned char key[16], const unsigned char iv[16],
                           const char *in, const char *out);

#endif
