#ifndef MEDIAGATE_WORKER_PUBLISH_H
#define MEDIAGATE_WORKER_PUBLISH_H
#include <stdbool.h>
#include <stddef.h>

#include "worker/kinds.h"
#include "worker/recordings.h"

struct json_object;
struct store;

/* The object-store side of an encode (MEDIAGATE_STORAGE=s3): inputs are
 * read from the bucket into the attempt's work directory, and the outputs
 * ffmpeg wrote there are published to the bucket.
 *
 * Layout: an attempt writes only under media/<job>/a<attempt>/ (its
 * renditions' playlists and segments), and the master playlist,
 * media/<job>/master.m3u8, names that attempt's renditions. Two attempts of
 * one job (a worker that lost its lease and does not know it yet, and the
 * holder) never write the same key but the master, and only the holder
 * writes that, last, after checking its lease: a reader never sees a
 * half-published job, and an attempt that fails removes its own prefix and
 * nothing of another's. */

/* Makes the streamed transfers of s keep ctx's lease (a large input or
 * output takes longer than a lease) and end once ctx is canceled or lost
 * its lease. */
void publish_bind(struct store *s, task_ctx *ctx);

/* The key prefix of attempt's objects of job, into buf: "media/<job>/a<n>/". */
void publish_attempt_prefix(const char *job, int attempt, char *buf, size_t cap);

/* Removes what attempts 1 .. attempt-1 of job wrote (a killed worker's
 * objects), before attempt writes its own. Failures are logged only. */
void publish_clear_earlier(task_ctx *ctx, struct store *s, const char *job, int attempt);

/* Reads the object key into the new file path, at most max_bytes, exactly
 * the object whose ETag is etag when etag is not NULL. Returns 0, or an
 * error code of the job with res set (1 the object is gone or changed,
 * 9 it is over max_bytes, 3 the store failed: retried, or, when it did not
 * answer, TASK_SNOOZE: the task waits, the attempt not counted). */
int publish_fetch(task_ctx *ctx, struct store *s, const char *key, const char *etag,
                  const char *path, long long max_bytes, task_result *res);

/* The recordings of stream sid, read into dir as inputs (FLV and MPEG-TS
 * objects, each one input): the keys listed (a JSON array, in broadcast
 * order), or else every object under recordings/<sid>/ in key order
 * (numbers compared as numbers). Returns 0 with out filled (empty when the
 * store holds none), or an error code with res set (3: the store failed,
 * 9: over max_bytes in all, 1: a listed key is gone). */
int publish_fetch_recordings(task_ctx *ctx, struct store *s, const char *sid,
                             struct json_object *keys, const char *dir, long long max_bytes,
                             rec_files *out, task_result *res);

/* Publishes the n renditions in dir (verified: dir/master.m3u8 and
 * dir/v<i>/index.m3u8 with their segments) under the attempt's prefix:
 * segments (long-lived Cache-Control), then each rendition's playlist, then,
 * when the lease still holds, the master playlist (short Cache-Control).
 * A store that does not answer is waited for (within the attempt's time)
 * while the lease holds, then the task waits uncounted (TASK_SNOOZE).
 * Returns 0, or -1 with res set (TASK_HANDBACK when the lease was lost)
 * after removing what this attempt wrote. */
int publish_outputs(task_ctx *ctx, struct store *s, const char *dir, int n, task_result *res);

/* Removes everything of job in the store (a dead task's cleanup). */
void publish_remove_job(struct store *s, const char *job);

#endif
