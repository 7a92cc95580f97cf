#ifndef MEDIAGATE_WORKER_PUBLISH_H
#define MEDIAGATE_WORKER_PUBLISH_H
#include <stdbool.h>
#include <stddef.h>

#include "storage/storage.h"
#include "worker/kinds.h"
#include "worker/recordings.h"

struct json_object;

/* The object-store side of an encode (MEDIAGATE_STORAGE=s3): inputs are
 * read from the bucket into the attempt's work directory, and the outputs
 * ffmpeg wrote there are published to the bucket.
 *
 * Layout: an attempt writes only under media/<job>/a<attempt>/ (its
 * renditions' playlists and segments, and the other files of its encode:
 * poster.jpg, storyboard.jpg and .vtt, mp4/<height>p.mp4), and the master
 * playlist, media/<job>/master.m3u8, names that attempt's renditions (the
 * captions and thumbnails made later go beside it, under media/<job>/
 * captions/ and thumbs/: no attempt's). Two attempts of one job (a worker
 * that lost its lease and does not know it yet, and the holder) never
 * write the same key but the master, and only the holder writes that,
 * last, after checking its lease: a reader never sees a half-published
 * job, and an attempt that fails removes its own prefix and nothing of
 * another's. */

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

/* How an output file named name (by its ending) is written, into o:
 * its Content-Type (.m3u8, .ts, .m4s, .mp4, .jpg image/jpeg, .vtt
 * text/vtt) and Cache-Control (segments, images and MP4s a year,
 * immutable; playlists and WebVTT files a minute), public_read as given.
 * Returns 0, or -1 for a name of no such kind (o then has no type and the
 * long Cache-Control). */
int publish_put_opts(const char *name, bool public_read, store_put_opts *o);

/* The files of an output directory (publish_list). */
typedef struct out_file {
    char *rel; /* its path under the directory */
    long long size;
    /* Publishing order: 0 media (segments, images, MP4s), 1 the playlists
     * and WebVTT files that name them, 2 the master. */
    int rank;
} out_file;

typedef struct out_files {
    out_file *v;
    size_t n, cap;
} out_files;

/* Lists every regular file under dir into fs (empty), sorted by name
 * (publish_by_name): anything else there but a directory, a symbolic link
 * above all (never followed), is refused. strict (an encode's work
 * directory): also at most a bounded count of files, two levels deep,
 * each of a kind publish_put_opts knows. Returns 0, or -1 with why set. */
int publish_list(const char *dir, bool strict, out_files *fs, char *why, size_t cap);
/* Appends a copy of rel to fs. Returns 0, or -1 when out of memory. */
int publish_files_add(out_files *fs, const char *rel, long long size, int rank);
void publish_files_free(out_files *fs);
/* qsort's and bsearch's orders of out_file: by rel; by rank, then rel. */
int publish_by_name(const void *a, const void *b);
int publish_by_rank(const void *a, const void *b);

/* Publishes every file of dir, the attempt's work directory, under the
 * attempt's prefix: the n renditions (dir/master.m3u8, dir/v<i>/index.m3u8
 * and their segments) and whatever else the encode made beside them (an
 * audio-only rendition, the poster, the storyboard, MP4s), each written
 * as publish_put_opts says. The tree is checked first: regular files only
 * (a symbolic link is refused, never followed), at most a bounded count,
 * two levels deep, names that are keys, of the kinds above, every media
 * playlist naming only files that are there. Then the media, then the
 * playlists and WebVTT files that name them, then, when the lease still
 * holds, the master playlist (its URIs under the attempt's prefix).
 * A store that does not answer is waited for (within the attempt's time)
 * while the lease holds, then the task waits uncounted (TASK_SNOOZE).
 * Returns 0, or -1 with res set (TASK_HANDBACK when the lease was lost)
 * after removing what this attempt wrote. */
int publish_outputs(task_ctx *ctx, struct store *s, const char *dir, int n, task_result *res);

/* Removes everything of job in the store (a dead task's cleanup): every
 * object under media/<job>/, every attempt's files, captions and
 * thumbnails alike. */
void publish_remove_job(struct store *s, const char *job);

#endif
