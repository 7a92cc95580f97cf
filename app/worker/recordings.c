/* A stopped stream's recordings, found on disk (see recordings.h), and,
 * with s3 storage, moved into the store by the stream.archive kind. */
#include "worker/recordings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "storage/storage.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

void files_free(rec_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].path);
    free(f->v);
    *f = (rec_files){0};
}

int files_add(rec_files *f, const char *path, const char *demuxer, long long mtime_ns)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        rec_file *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    if (!(f->v[f->n].path = strdup(path)))
        return -1;
    f->v[f->n].demuxer = demuxer;
    f->v[f->n++].mtime_ns = mtime_ns;
    return 0;
}

/* In the order they were written: by modification time, then by name with
 * numbers compared as numbers (index9.ts before index10.ts). */
static int by_written(const void *a, const void *b)
{
    const rec_file *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strverscmp(x->path, y->path);
}

/* Adds the regular, non-hidden files of dir whose names start with prefix
 * and end with suffix, sorted by by_written. Returns 0, -1 on error. */
static int scan_dir(const char *dir, const char *prefix, const char *suffix, const char *demuxer,
                    rec_files *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t pl = strlen(prefix), sl = strlen(suffix), first = out->n;
    int ret = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t nl = strlen(de->d_name);
        char path[PATH_MAX];
        struct stat st;
        bool plain = true; /* a newline would be a second entry of a list */
        for (const char *c = de->d_name; *c; c++)
            plain &= (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (!plain || de->d_name[0] == '.' || nl < pl + sl || strncmp(de->d_name, prefix, pl) != 0 ||
            strcmp(de->d_name + nl - sl, suffix) != 0 ||
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
            continue; /* symlinks are not followed: they could name any file */
        if (files_add(out, path, demuxer,
                      (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec)) {
            ret = -1;
            break;
        }
    }
    closedir(d);
    if (out->n > first)
        qsort(out->v + first, out->n - first, sizeof *out->v, by_written);
    return ret;
}

/* Writes the paths, one a line, for ffmpeg's concatf: protocol, which reads
 * the files one after another as one stream (MPEG-TS segments of one
 * broadcast join byte for byte), with no copy. Returns 0, -1 with errno. */
static int write_concatf(const char *list, const rec_files *in)
{
    FILE *f = fopen(list, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < in->n; i++)
        fprintf(f, "file:%s\n", in->v[i].path);
    return fclose(f);
}

/* The files of stream sid on this host's disk, each list in the order
 * written: nginx-rtmp's recordings into flv, and (with segments) the
 * MPEG-TS segments the broadcaster PUT into seg. Returns 0, or an error
 * code (1: a bad id, 3: a directory cannot be read) with msg set. */
static int stream_files(const config *cfg, const char *sid, bool segments, rec_files *flv,
                        rec_files *seg, char *msg, size_t msgcap)
{
    char dir[PATH_MAX];
    if (!sid || !uuid_valid(sid, strlen(sid))) {
        snprintf(msg, msgcap, "malformed task payload: stream_id");
        return 1;
    }
    if (*cfg->recordings_dir && scan_dir(cfg->recordings_dir, sid, "", "flv", flv) != 0) {
        log_warn("stream %s: cannot read %s: %s", sid, cfg->recordings_dir, strerror(errno));
        snprintf(msg, msgcap, "cannot read the stream's recordings");
        return 3;
    }
    snprintf(dir, sizeof dir, "%s/%s", cfg->live_dir, sid);
    if (segments && *cfg->live_dir && scan_dir(dir, "", ".ts", "mpegts", seg) != 0) {
        log_warn("stream %s: cannot read %s: %s", sid, dir, strerror(errno));
        snprintf(msg, msgcap, "cannot read the stream's segments");
        return 3;
    }
    return 0;
}

int stream_inputs(const config *cfg, const char *sid, bool segments, rec_files *out,
                  char *seglist, size_t seglist_cap, char *msg, size_t msgcap)
{
    rec_files seg = {0};
    char url[PATH_MAX + 16];
    seglist[0] = '\0';
    int ret = stream_files(cfg, sid, segments, out, &seg, msg, msgcap);
    if (ret)
        goto out;
    if (seg.n > 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(seglist, seglist_cap, "%s/mediagate-segments-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(seglist);
        if (fd >= 0)
            close(fd);
        snprintf(url, sizeof url, "concatf:%s", seglist);
        if (fd < 0 || write_concatf(seglist, &seg) != 0 ||
            files_add(out, url, "mpegts", seg.v[0].mtime_ns)) {
            log_warn("stream %s: cannot list its segments in %s: %s", sid, seglist, strerror(errno));
            snprintf(msg, msgcap, "cannot list the stream's segments");
            ret = 3;
            goto out;
        }
    }
    if (out->n == 0) {
        snprintf(msg, msgcap, "the stream left no recording");
        ret = 1;
        goto out;
    }
    /* Both kinds of recording, when a stream had both, by the time written. */
    qsort(out->v, out->n, sizeof *out->v, by_written);
out:
    files_free(&seg);
    return ret;
}

/* Joins the files of seg, in order, into a new temporary file under
 * TMPDIR (its name into path): MPEG-TS segments of one broadcast join byte
 * for byte. Returns 0, or -1 with errno and no file left. */
static int join_segments(const rec_files *seg, char *path, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    char buf[1 << 16];
    snprintf(path, cap, "%s/mediagate-archive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int out = mkstemp(path), in = -1, ret = -1;
    if (out < 0)
        return -1;
    for (size_t i = 0; i < seg->n; i++) {
        ssize_t n;
        if ((in = open(seg->v[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
            goto out;
        while ((n = read(in, buf, sizeof buf)) > 0)
            for (ssize_t done = 0, w; done < n; done += w)
                if ((w = write(out, buf + done, (size_t)(n - done))) < 0)
                    goto out;
        if (n < 0)
            goto out;
        close(in);
        in = -1;
    }
    ret = 0;
out:
    if (in >= 0)
        close(in);
    if (close(out) != 0)
        ret = -1;
    if (ret) {
        int e = errno;
        unlink(path);
        errno = e;
    }
    return ret;
}

/* The key of the n-th (1-based) input of stream sid: broadcast order is
 * key order. */
static void archive_key(char *key, size_t cap, const char *sid, size_t n, const char *demuxer)
{
    snprintf(key, cap, "recordings/%s/%04zu.%s", sid, n,
             strcmp(demuxer, "flv") == 0 ? "flv" : "ts");
}

/* A store failure of the archive. A store that is down, slow or asks to
 * slow down is no fault of the stream: the task waits for it, after its
 * Retry-After when it named one, without the attempt counting, for as long
 * as it takes. Anything else (credentials, the bucket) is retried. */
static void archive_store_failed(task_ctx *ctx, store *s, store_status st, task_result *res)
{
    log_warn("task %lld: stream archive: %s", ctx->id, store_err(s));
    task_fail(res, st == STORE_RETRY ? TASK_SNOOZE : TASK_RETRY, 3,
              "cannot copy the stream's recording into the store (%s)", store_status_name(st));
    if (store_retry_after(s) > 0)
        res->retry_after = (double)store_retry_after(s);
}

/* store_set_progress's function: a long copy keeps the task's lease, and
 * ends when the worker stops or the task is no longer ours. */
static bool archive_progress(void *arg, long long done, long long total)
{
    task_ctx *ctx = arg;
    (void)done, (void)total;
    return !atomic_load(ctx->cancel) && ctx->beat(ctx, -1);
}

bool kind_stream_archive_serves(const config *cfg)
{
    return cfg->ingest_host && (cfg->vod_rtmp || cfg->vod_put) && store_is_s3(cfg);
}

void kind_stream_archive(task_ctx *ctx, task_result *res)
{
    const config *cfg = ctx->cfg;
    const char *sid = NULL;
    rec_files flv = {0}, seg = {0};
    store *s = NULL;
    json_object *keys = json_object_new_array(), *enc = NULL;
    PGresult *r = NULL;
    char msg[300], key[128], prefix[64], joined[PATH_MAX] = "";
    bool segments = json_object_get_boolean(json_object_object_get(ctx->payload, "segments"));
    jstr(ctx->payload, "stream_id", &sid);
    if (json_object_object_get_ex(ctx->payload, "queued", NULL)) {
        res->outcome = TASK_DONE; /* an attempt that lost its finish queued the encode */
        goto out;
    }
    int code = !ctx->job_id ? 1 : stream_files(cfg, sid, segments, &flv, &seg, msg, sizeof msg);
    if (code) {
        task_fail(res, code == 3 ? TASK_RETRY : TASK_FAILED, code, "%s",
                  ctx->job_id ? msg : "malformed task payload");
        goto out;
    }
    /* The segments, joined, are one input placed at the time of their first. */
    if (seg.n > 0 && files_add(&flv, "", "mpegts", seg.v[0].mtime_ns)) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        goto out;
    }
    if (flv.n == 0) {
        task_fail(res, TASK_FAILED, 1, "the stream left no recording");
        goto out;
    }
    qsort(flv.v, flv.n, sizeof *flv.v, by_written);
    if (!(s = store_open(cfg)) || !keys) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        goto out;
    }
    store_set_progress(s, archive_progress, ctx);
    /* What an earlier attempt left is replaced as a whole. */
    snprintf(prefix, sizeof prefix, "recordings/%s/", sid);
    store_status st = store_delete_prefix(s, prefix);
    for (size_t i = 0; st == STORE_OK && i < flv.n; i++) {
        const rec_file *f = &flv.v[i];
        bool is_seg = f->path[0] == '\0';
        store_put_opts o = {.content_type = is_seg ? "video/mp2t" : "video/x-flv"};
        if (is_seg && join_segments(&seg, joined, sizeof joined) != 0) {
            log_warn("task %lld: cannot join the segments of stream %s: %s", ctx->id, sid,
                     strerror(errno));
            task_fail(res, TASK_RETRY, 3, "cannot join the stream's segments");
            goto out;
        }
        archive_key(key, sizeof key, sid, i + 1, f->demuxer);
        st = store_put_file(s, key, is_seg ? joined : f->path, &o, NULL);
        if (is_seg) {
            unlink(joined);
            joined[0] = '\0';
        }
        json_object_array_add(keys, json_object_new_string(key));
        if (atomic_load(ctx->cancel) || !ctx->beat(ctx, -1)) {
            res->outcome = TASK_HANDBACK;
            goto out;
        }
    }
    if (st != STORE_OK) {
        archive_store_failed(ctx, s, st, res);
        goto out;
    }
    /* The encode reads the store: it is queued once, by the holder. */
    if (json_object_deep_copy(ctx->payload, &enc, NULL) != 0) {
        task_fail(res, TASK_RETRY, 3, "out of memory");
        goto out;
    }
    json_object_object_add(enc, "keys", json_object_get(keys));
    char id[24], tok[16];
    snprintf(id, sizeof id, "%lld", ctx->id);
    snprintf(tok, sizeof tok, "%d", ctx->attempt);
    const char *v[] = {id, tok, json_object_to_json_string_ext(enc, JSON_C_TO_STRING_PLAIN)};
    if (db_exec(ctx->db, W_ARCHIVED, 3, v, &r) != 0) {
        task_fail(res, TASK_RETRY, 3, "the database is unavailable");
        goto out;
    }
    if (strcmp(PQcmdTuples(r), "1") != 0) { /* the task is no longer ours */
        res->outcome = TASK_HANDBACK;
        goto out;
    }
    log_info("task %lld: stream %s: %zu recording(s) in the store; encode of job %s queued",
             ctx->id, sid, flv.n, ctx->job_id);
    res->outcome = TASK_DONE;
out:
    if (joined[0])
        unlink(joined);
    PQclear(r);
    json_object_put(enc);
    json_object_put(keys);
    store_close(s);
    files_free(&flv);
    files_free(&seg);
}
