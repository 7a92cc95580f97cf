#ifndef MEDIAGATE_PLAYBACK_H
#define MEDIAGATE_PLAYBACK_H
#include <stdbool.h>
#include <stddef.h>

/* Playback of jobs whose outputs live in an S3 bucket (jobs.storage 's3',
 * objects under media/<job id>/, app/storage/storage.h).
 *
 * A public job (no ACL, or one that admits anonymous callers, and
 * MEDIAGATE_MEDIA_SIGNING_SECRET unset) is published with public-read
 * objects: output_path is the public base URL of media/<job id>/, and
 * players fetch the playlists and segments there unsigned.
 *
 * Every other job's objects are private in the bucket, so the store itself
 * refuses an unsigned URL. output_path is then mediagate's playlist route,
 *   <prefix>/media/hls/<sig>/<exp>/<job id>/
 * sig = 32 lower-case hex digits: the first 128 bits of HMAC-SHA256 with
 * the playback key over "<exp>/<job id>". The signature covers the job's
 * directory: the master playlist's relative URIs of its renditions resolve
 * under it and stay signed, and the route answers each media playlist with
 * its segments' URIs replaced by presigned GET URLs of the store that
 * expire at exp too (playback_rewrite). The job's other files (poster,
 * storyboard, MP4s) are reachable in the same directory: the route answers
 * a WebVTT file as stored and anything else with a redirect to a presigned
 * GET URL of its object expiring at exp (playback_file_kind). */

struct config;

#define PLAYBACK_SIG_LEN 32

/* The characters of a job id in a URL path (the signed route, the key
 * route): a job id is 1 to 100 of them. */
#define PLAYBACK_JOB_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* True when a job with that ACL text (NULL: none) plays unsigned from the
 * bucket: no signing secret, and the ACL admits anonymous callers. */
bool playback_public(const struct config *cfg, const char *acl);

/* True when the objects of a job with that ACL text may be public-read in
 * the store: unsigned_rec is the database's record of the signing decision
 * (mediagate_media_unsigned(), sql/021: "t" only when serve recorded
 * unsigned playback), and it must agree with playback_public. Anything
 * else (NULL, "f") is private: no host's own settings make objects public. */
bool playback_public_read(const struct config *cfg, const char *acl, const char *unsigned_rec);

/* The playback key: HMAC-SHA256 of a fixed label with
 * MEDIAGATE_MEDIA_SIGNING_SECRET, or, when that is unset, with the store's
 * secret access key (MEDIAGATE_STORAGE_SECRET_ACCESS_KEY, else
 * AWS_SECRET_ACCESS_KEY): every host that serves the bucket has it.
 * Returns 0, or -1 when there is neither. */
int playback_key(const struct config *cfg, unsigned char key[32]);

/* A job on the store's output_path into out: the public base URL of
 * media/<job>/ for a public job (acl: the job's ACL text, NULL for none),
 * else the signed route's directory, expiring MEDIAGATE_MEDIA_URL_LIFETIME
 * after now, rounded up to 180 s (so answers stay the same for minutes).
 * Returns 0, or -1 when the job id cannot be signed (not 1 to 100 of
 * [A-Za-z0-9_-]), there is no playback key, or out is too small. */
int playback_output(const struct config *cfg, const char *job, const char *acl, long long now,
                    char *out, size_t cap);

/* Writes the signature of (job, exp) under key into sig (and a NUL). */
void playback_sign(const unsigned char key[32], const char *job, long long exp,
                   char sig[PLAYBACK_SIG_LEN + 1]);

/* A signed route's path after "/media/hls/", "<sig>/<exp>/<job id>/<file>",
 * split: the file is a relative path of [A-Za-z0-9._/-] with no empty or
 * dot-led segment (any file of the job's directory: a playlist, a WebVTT
 * file, an image, an MP4, a segment); the job id is 1 to 100 of
 * [A-Za-z0-9_-]. Returns 0 with the parts copied into job (cap 101), file
 * (cap 512) and sig, or -1 for any other path. */
int playback_parse(const char *path, size_t len, char sig[PLAYBACK_SIG_LEN + 1], long long *exp,
                   char job[101], char file[512]);

/* True when sig is (job, exp)'s under key, compared in constant time, and
 * exp is after now. */
bool playback_valid(const unsigned char key[32], const char *job, long long exp, const char *sig,
                    long long now);

struct store;

/* Makes every object under media/<job>/ public-read or private (a job
 * whose ACL, or whose place, changed). Returns the store's status (STORE_OK
 * when all followed; else the first failure, store_err says which key);
 * *done counts the objects changed. */
int playback_follow(struct store *s, const char *job, bool public_read, long *done);

/* How the signed route answers a file of a job's directory, by its name:
 * a playlist (".m3u8") rewritten by playback_rewrite, a WebVTT file
 * (".vtt") as stored (its relative references, a storyboard's images,
 * resolve under the same signed directory), anything else a redirect to a
 * presigned GET URL of its object. */
typedef enum playback_kind { PLAYBACK_PLAYLIST, PLAYBACK_VTT, PLAYBACK_OBJECT } playback_kind;
playback_kind playback_file_kind(const char *file);

/* Gives the URL of the object at key (a presigned GET) into url. Returns 0
 * or -1. */
typedef int (*playback_url_fn)(void *arg, const char *key, char *url, size_t cap);

/* The next line of a playlist buf[*pos, len): true with *line and *ln (its
 * length without "\n" or "\r\n"), *pos moved past it; false at the end. */
bool playback_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *ln);

/* The base every HLS key URI starts with (app/worker/hls_crypt.h):
 * MEDIAGATE_PUBLIC_URL, or else MEDIAGATE_PREFIX (path-absolute URIs;
 * "" at the root). Borrowed from cfg; may end in '/'. */
const char *playback_key_base(const struct config *cfg);

/* The URI of the key of encode attempt n of job, "<base>/media/key/<job>/<n>"
 * (base: playback_key_base without its trailing '/'), into out. Returns 0,
 * or -1 when it does not fit. */
int playback_key_uri(const struct config *cfg, const char *job, int n, char *out, size_t cap);

/* Rewrites the HLS playlist buf[0..len), read from the key prefix dir
 * ("media/<job id>/...", ending in '/'): every URI that names a media object
 * (a URI line, or a URI="..." attribute) and is not a playlist (".m3u8")
 * becomes fn's URL for dir + URI; playlists' URIs stay as they are
 * (relative: they resolve under the signed route's directory). An
 * #EXT-X-KEY's URI that is this job's key route, <base>/media/key/<job id>/<n>
 * under any base it was encoded with (a path, or an http(s) URL: the settings
 * may have changed since), becomes <key_base>/media/key/<job id>/<n>, the
 * route of today's settings (key_base as playback_key_base gives it; NULL:
 * no key URI is kept).
 * Returns 0 with a malloc'd, NUL-terminated text in *out (its length in
 * *outlen), or -1 with a reason in why: not a playlist (#EXTM3U first), a
 * URI that is not a relative key inside dir (an absolute URL, another
 * job's key, a path with "..", a query), fn failing. */
int playback_rewrite(const char *buf, size_t len, const char *dir, const char *key_base,
                     playback_url_fn fn, void *arg, char **out, size_t *outlen, char *why,
                     size_t whycap);

#endif
