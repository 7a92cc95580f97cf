/* The thumbnail.make kind: one thumbnails row (job, time, width) made from
 * the job's outputs (the segment of its top rendition that holds the time,
 * decrypted when the job is encrypted) with ffmpeg, stored beside them,
 * and the row marked made (or failed, with why).
 *
 * Payload: {"job_id", "time_ms", "width"} (sql/functions/
 * mediagate_thumbnail_request.sql queues it with the row). The outputs are
 * read through the store (app/storage/storage.h), so local and S3 jobs are
 * one path: media/<job>/master.m3u8 names the top rendition's playlist
 * (v0/index.m3u8, or a<attempt>/v0/index.m3u8 in a bucket), the segment
 * comes into a work directory, and the JPEG goes to
 * media/<job>/thumbs/<time_ms>-<width>.jpg (a local write is a temporary
 * file renamed into place; an object gets the job's ACL). Rerun-safe: a row
 * no longer queued, or gone with its job, is done. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "playback.h"
#include "proc.h"
#include "storage/storage.h"
#include "worker/ffmpeg.h"
#include "worker/hls_crypt.h"
#include "worker/kinds.h"
#include "worker/publish.h"
#include "worker/wsql.h"

#define SEGMENT_CAP (512LL << 20) /* one segment of ours is far smaller */
#define JPEG_CAP (4u << 20)
#define SPACE_LOW (1LL << 20) /* a disk with less free than this is full: a thumbnail waits */
#define SPACE_WAIT 10         /* seconds between a full disk's tries */

/* The segment of a media playlist that holds a time. */
typedef struct thumb_seg {
    char name[128]; /* relative to the playlist */
    double offset;  /* seconds into the segment */
    double duration;
    bool encrypted; /* METHOD=AES-128 */
    int key_n;      /* the key's attempt (the URI's last segment) */
    unsigned char iv[16];
} thumb_seg;

/* The segment of the media playlist buf (len bytes, checked with
 * hls_check_media) that holds time t (seconds), by the cumulative
 * #EXTINF, with its key (hls_crypt_segment_key); a time past the last
 * segment takes its last frame's neighbourhood. Returns 0 with *out, or -1
 * (a key line it cannot use). */
static int thumb_locate(const char *buf, size_t len, double t, thumb_seg *out)
{
    thumb_seg cur = {0};
    double at = 0, d = 0;
    bool found = false;
    *out = cur;
    const char *p = buf, *end = buf + len;
    while (p < end && !found) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(n && p[n - 1] == '\r' ? n - 1 : n), p);
        p += n + 1;
        if (strncmp(line, "#EXTINF:", 8) == 0) {
            d = strtod(line + 8, NULL);
        } else if (line[0] && line[0] != '#') {
            snprintf(cur.name, sizeof cur.name, "%.*s", (int)sizeof cur.name - 1, line);
            cur.duration = d;
            cur.offset = t - at;
            *out = cur;
            found = t < at + d;
            at += d;
        }
    }
    if (out->offset > out->duration - 0.05) /* past the end: near the last frame */
        out->offset = out->duration > 0.1 ? out->duration - 0.1 : 0;
    int k = hls_crypt_segment_key(buf, len, out->name, &out->key_n, out->iv);
    out->encrypted = k == 1;
    return k < 0 ? -1 : 0;
}

/* The width and height of the JPEG buf (its first SOF marker) when it is a
 * whole JPEG (SOI first, EOI last). Returns 0, or -1. */
static int jpeg_size(const unsigned char *b, size_t n, int *w, int *h)
{
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8 || b[n - 2] != 0xFF || b[n - 1] != 0xD9)
        return -1;
    for (size_t i = 2; i + 9 < n;) {
        if (b[i] != 0xFF)
            return -1;
        unsigned m = b[i + 1], seglen = (unsigned)b[i + 2] << 8 | b[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *h = b[i + 5] << 8 | b[i + 6];
            *w = b[i + 7] << 8 | b[i + 8];
            return 0;
        }
        if (m == 0xD9 || m == 0xDA || seglen < 2)
            return -1;
        i += 2 + seglen;
    }
    return -1;
}

typedef struct thumb {
    task_ctx *ctx;
    task_result *res;
    store *s;
    const char *job;
    int64_t time_ms, width;
    char dir[256]; /* the work directory */
} thumb;

/* Ends the attempt: the row failed for good with msg (client-safe) when
 * permanent or at the kind's last attempt, else retried. A row that cannot
 * be marked is retried (the task's death marks it too). */
__attribute__((format(printf, 3, 4))) static void thumb_fail(thumb *t, bool permanent,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->res->message, sizeof t->res->message, fmt, ap);
    va_end(ap);
    const task_kind *k = task_kind_find("thumbnail.make");
    bool last = permanent || !k || t->ctx->attempt >= k->max_attempts;
    t->res->outcome = TASK_RETRY;
    if (!last)
        return;
    char tm[24], w[16];
    snprintf(tm, sizeof tm, "%lld", (long long)t->time_ms);
    snprintf(w, sizeof w, "%lld", (long long)t->width);
    const char *v[] = {t->job, tm, w, t->res->message};
    PGresult *r = NULL;
    if (db_exec(t->ctx->db, W_THUMB_FAILED, 4, v, &r) == 0)
        t->res->outcome = TASK_FAILED;
    PQclear(r);
}

/* Whether the file system of dir has less than SPACE_LOW free. */
static bool low_space(const char *dir)
{
    struct statvfs v;
    return *dir && statvfs(dir, &v) == 0 && (long long)v.f_bavail * (long long)v.f_frsize < SPACE_LOW;
}

/* Ends the attempt uncounted when a disk it writes (the work directory,
 * the local media directory) is full: not the thumbnail's fault, tried
 * again SPACE_WAIT s on, the row left queued. Returns whether it did. */
static bool snooze_if_full(thumb *t, const char *what)
{
    const config *cfg = t->ctx->cfg;
    const char *full = low_space(t->dir) ? "the worker's temporary disk"
                       : !store_is_s3(cfg) && low_space(cfg->media_dir) ? "the media disk"
                                                                        : NULL;
    if (!full)
        return false;
    snprintf(t->res->message, sizeof t->res->message, "%s is full (%s): waiting for space", full,
             what);
    t->res->outcome = TASK_SNOOZE;
    t->res->retry_after = SPACE_WAIT;
    return true;
}

/* A store failure st in reading or writing what: the outputs gone
 * (NOT_FOUND) fail the row; a store that did not answer (RETRY) or a full
 * disk is waited for uncounted (TASK_SNOOZE); anything else is retried. */
static void store_failed(thumb *t, store_status st, const char *what)
{
    log_warn("task %lld: %s: %s: %s", t->ctx->id, what, store_status_name(st), store_err(t->s));
    if (st == STORE_NOT_FOUND) {
        thumb_fail(t, true, "the job's outputs are gone (%s is missing)", what);
    } else if (st == STORE_RETRY) {
        snprintf(t->res->message, sizeof t->res->message,
                 "the object store did not answer (%s): waiting for it", what);
        t->res->outcome = TASK_SNOOZE;
        t->res->retry_after = store_retry_after(t->s) > 0 ? (double)store_retry_after(t->s) : 0;
    } else if (!snooze_if_full(t, what)) {
        thumb_fail(t, false, "the store failed (%s: %s)", what, store_status_name(st));
    }
}

/* The top rendition's playlist key named by master (the first variant's
 * URI) into key. Returns 0, or -1. */
static int top_playlist(const char *job, const char *master, size_t len, char *key, size_t cap)
{
    bool inf = false;
    for (const char *p = master, *end = master + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t raw = nl ? (size_t)(nl - p) : (size_t)(end - p), n = raw;
        if (n && p[n - 1] == '\r')
            n--;
        if (n >= 18 && strncmp(p, "#EXT-X-STREAM-INF:", 18) == 0)
            inf = true;
        else if (inf && n && p[0] != '#')
            return n > 11 && strncmp(p + n - 11, "/index.m3u8", 11) == 0 &&
                           snprintf(key, cap, "media/%s/%.*s", job, (int)n, p) < (int)cap &&
                           store_key_ok(key)
                       ? 0
                       : -1;
        p += raw + 1;
    }
    return -1;
}

/* The 16-byte key of attempt n of the job (media_keys) into key. Returns 0,
 * 1 when there is none, or -1 (the database failed). */
static int job_key(thumb *t, int n, unsigned char key[16])
{
    char ns[16];
    snprintf(ns, sizeof ns, "%d", n);
    const char *v[] = {t->job, ns};
    int lens[] = {0, 0}, fmts[] = {0, 0};
    PGresult *r = NULL;
    int ret = -1;
    if (db_exec_format(t->ctx->db, W_THUMB_KEY, 2, v, lens, fmts, 1, &r) != 0)
        goto out;
    ret = 1;
    if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 16) {
        memcpy(key, PQgetvalue(r, 0, 0), 16);
        ret = 0;
    }
out:
    PQclear(r);
    return ret;
}

/* Brings the segment of seg (under the playlist at pkey) into the work
 * directory as clear MPEG-TS at path (cap PATH_MAX). Returns 0, or -1 with
 * the attempt ended. */
static int fetch_segment(thumb *t, const char *pkey, const thumb_seg *seg, char *path)
{
    char key[1200], enc[PATH_MAX + 16];
    unsigned char k[16];
    snprintf(key, sizeof key, "%.*s%s", (int)(strrchr(pkey, '/') + 1 - pkey), pkey, seg->name);
    snprintf(path, PATH_MAX, "%s/segment.ts", t->dir);
    snprintf(enc, sizeof enc, "%s/segment.enc", t->dir);
    if (!store_key_ok(key)) {
        thumb_fail(t, true, "the job's playlist names a segment it should not");
        return -1;
    }
    store_status st = store_get_file(t->s, key, seg->encrypted ? enc : path, SEGMENT_CAP, NULL,
                                     NULL);
    if (st != STORE_OK) {
        store_failed(t, st, "a segment of the top rendition");
        return -1;
    }
    if (!seg->encrypted)
        return 0;
    int kr = job_key(t, seg->key_n, k);
    if (kr != 0) {
        thumb_fail(t, kr > 0,
                   kr > 0 ? "the job's encryption key is missing" : "the database did not answer");
        return -1;
    }
    if (hls_crypt_decrypt_file(k, seg->iv, enc, path) != 0) {
        if (!snooze_if_full(t, "the decrypted segment"))
            thumb_fail(t, true, "a segment of the top rendition cannot be decrypted");
        return -1;
    }
    return 0;
}

/* Runs ffmpeg on the clear segment at in for one frame at offset seconds,
 * scaled to the width, into out. Returns ffmpeg's status (0: ran). */
static int extract(thumb *t, const char *in, double offset, const char *out)
{
    const config *cfg = t->ctx->cfg;
    char off[32], src[PATH_MAX + 8], dst[PATH_MAX + 8], vf[64];
    snprintf(off, sizeof off, "%.3f", offset);
    snprintf(src, sizeof src, "file:%s", in);
    snprintf(dst, sizeof dst, "file:%s", out);
    snprintf(vf, sizeof vf, "scale=%lld:-2", (long long)t->width);
    /* Our own segment all the same read as untrusted media: one protocol,
     * one demuxer, forced. */
    /* clang-format off */
    char *argv[] = {"ffmpeg", "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
                    "-protocol_whitelist", "file", "-format_whitelist", "mpegts", "-f", "mpegts",
                    "-ss", off, "-i", src, "-map", "0:v:0", "-frames:v", "1", "-vf", vf, "-an",
                    "-sn", "-dn", "-threads", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg",
                    dst, NULL};
    /* clang-format on */
    double left = t->ctx->deadline - proc_now();
    proc_opts o = {.timeout_s = left > 1 ? left : 1,
                   .nice = (int)cfg->encode_nice,
                   .as_bytes = (long long)cfg->encode_memory_mb << 20,
                   .cpu_s = cfg->encode_cpu_seconds};
    proc_result r;
    int st = proc_run(argv, &o, &r);
    if (st != 0)
        log_warn("task %lld: ffmpeg status %d: %s", t->ctx->id, st, r.last_err);
    proc_result_free(&r);
    return st;
}

/* Makes the JPEG into the work directory and returns its path in jpg (cap
 * PATH_MAX) and size. Returns 0, or -1 with the attempt ended. */
static int make_jpeg(thumb *t, const char *pkey, const char *playlist, size_t plen, char *jpg,
                     long long *bytes)
{
    thumb_seg seg;
    char in[PATH_MAX], why[160];
    double total;
    int segs, w = 0, h = 0;
    if (hls_check_media(playlist, plen, NULL, NULL, &total, &segs, why, sizeof why) != 0 ||
        thumb_locate(playlist, plen, (double)t->time_ms / 1000, &seg) != 0) {
        thumb_fail(t, true, "the top rendition's playlist is not one of ours");
        return -1;
    }
    if (fetch_segment(t, pkey, &seg, in) != 0)
        return -1;
    snprintf(jpg, PATH_MAX, "%s/thumb.jpg", t->dir);
    size_t len = 0;
    char *buf = NULL;
    /* An offset at the segment's very end may hold no frame: then its
     * first one. */
    for (int i = 0; i < 2 && !buf; i++) {
        if (extract(t, in, i ? 0 : seg.offset, jpg) != 0)
            continue;
        buf = hls_read_file(jpg, JPEG_CAP, &len);
        if (buf && len == 0) {
            free(buf);
            buf = NULL;
        }
    }
    int ret = -1;
    if (!buf) {
        if (!snooze_if_full(t, "the thumbnail's work file"))
            thumb_fail(t, false, "ffmpeg made no frame of the video at that time");
    } else if (jpeg_size((const unsigned char *)buf, len, &w, &h) != 0 || w != t->width)
        thumb_fail(t, false, "ffmpeg made an image that is not the JPEG asked for");
    else
        ret = 0;
    *bytes = (long long)len;
    free(buf);
    return ret;
}

/* Whether the job's objects are public-read (app/playback.h); the row's
 * job must be COMPLETE. Returns 0 with *public, or -1 with the attempt
 * ended (1: the row is gone or no longer queued: nothing to do). */
static int check_row(thumb *t, bool *public)
{
    char tm[24], w[16];
    snprintf(tm, sizeof tm, "%lld", (long long)t->time_ms);
    snprintf(w, sizeof w, "%lld", (long long)t->width);
    const char *v[] = {t->job, tm, w};
    PGresult *r = NULL;
    int ret = -1;
    if (db_exec(t->ctx->db, W_THUMB_JOB, 3, v, &r) != 0) {
        thumb_fail(t, false, "the database did not answer");
        goto out;
    }
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "queued") != 0) {
        ret = 1;
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 1), "COMPLETE") != 0) {
        thumb_fail(t, true, "the job is not COMPLETE");
        goto out;
    }
    *public = playback_public_read(t->ctx->cfg, PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
                                   PQgetvalue(r, 0, 3));
    ret = 0;
out:
    PQclear(r);
    return ret;
}

/* Stores the JPEG at jpg and marks the row made. Returns 0, or -1 with the
 * attempt ended. */
static int store_jpeg(thumb *t, const char *jpg, long long bytes, bool public)
{
    char key[400], file[64], tm[24], w[16], b[24];
    snprintf(file, sizeof file, "thumbs/%lld-%lld.jpg", (long long)t->time_ms, (long long)t->width);
    snprintf(key, sizeof key, "media/%s/%s", t->job, file);
    store_put_opts o = {.content_type = "image/jpeg",
                        .cache_control = "public, max-age=86400",
                        .public_read = public};
    store_status st = store_put_file(t->s, key, jpg, &o, NULL);
    if (st != STORE_OK) {
        store_failed(t, st == STORE_NOT_FOUND ? STORE_ERROR : st, "the thumbnail");
        return -1;
    }
    snprintf(tm, sizeof tm, "%lld", (long long)t->time_ms);
    snprintf(w, sizeof w, "%lld", (long long)t->width);
    snprintf(b, sizeof b, "%lld", bytes);
    const char *v[] = {t->job, tm, w, file, b};
    PGresult *r = NULL;
    int ret = db_exec(t->ctx->db, W_THUMB_MADE, 5, v, &r);
    PQclear(r);
    if (ret != 0) {
        thumb_fail(t, false, "the database did not answer");
        return -1;
    }
    return 0;
}

/* Removes the work directory's files and itself. */
static void clear_dir(const char *dir)
{
    static const char *const names[] = {"segment.ts", "segment.enc", "thumb.jpg"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

void kind_thumbnail_make(task_ctx *ctx, task_result *res)
{
    thumb t = {.ctx = ctx, .res = res, .job = ctx->job_id};
    char *master = NULL, *playlist = NULL, key[1200], jpg[PATH_MAX];
    size_t mlen = 0, plen = 0;
    long long bytes = 0;
    bool public = false;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || *tmp != '/' || strlen(tmp) > 200)
        tmp = "/tmp";
    size_t jl = t.job ? strlen(t.job) : 0;
    if (jl == 0 || jl > 100 ||
        strspn(t.job, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != jl ||
        jint(ctx->payload, "time_ms", 0, INT32_MAX, &t.time_ms) <= 0 ||
        jint(ctx->payload, "width", 16, 8192, &t.width) <= 0) {
        res->outcome = TASK_FAILED; /* no row to name */
        snprintf(res->message, sizeof res->message, "malformed task payload");
        return;
    }
    int cr = check_row(&t, &public);
    if (cr != 0) {
        if (cr > 0)
            res->outcome = TASK_DONE;
        return;
    }
    if (!(t.s = store_open(ctx->cfg))) {
        thumb_fail(&t, false, "out of memory");
        return;
    }
    publish_bind(t.s, ctx);
    snprintf(t.dir, sizeof t.dir, "%s/mediagate-thumb-XXXXXX", tmp);
    if (!mkdtemp(t.dir)) {
        log_error("task %lld: cannot create a work directory: %s", ctx->id, strerror(errno));
        t.dir[0] = '\0';
        if (errno == ENOSPC || errno == EDQUOT) {
            snprintf(res->message, sizeof res->message,
                     "the worker's temporary disk is full: waiting for space");
            res->outcome = TASK_SNOOZE;
            res->retry_after = SPACE_WAIT;
        } else {
            thumb_fail(&t, false, "cannot create a work directory");
        }
        goto out;
    }
    snprintf(key, sizeof key, "media/%s/master.m3u8", t.job);
    store_status st = store_get_mem(t.s, key, HLS_PLAYLIST_CAP, &master, &mlen);
    if (st != STORE_OK) {
        store_failed(&t, st, "the master playlist");
        goto out;
    }
    if (top_playlist(t.job, master, mlen, key, sizeof key) != 0) {
        thumb_fail(&t, true, "the master playlist names no rendition of ours");
        goto out;
    }
    if ((st = store_get_mem(t.s, key, HLS_PLAYLIST_CAP, &playlist, &plen)) != STORE_OK) {
        store_failed(&t, st, "the top rendition's playlist");
        goto out;
    }
    if (make_jpeg(&t, key, playlist, plen, jpg, &bytes) != 0)
        goto out;
    /* Written only by the holder of the task. */
    if (!ctx->beat(ctx, TASK_BEAT_CHECK)) {
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    if (store_jpeg(&t, jpg, bytes, public) != 0)
        goto out;
    res->outcome = TASK_DONE;
out:
    if (t.dir[0])
        clear_dir(t.dir);
    free(master);
    free(playlist);
    store_close(t.s);
}
