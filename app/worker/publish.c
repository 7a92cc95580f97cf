/* An encode's inputs read from and outputs published to the object store
 * (see publish.h). */
#include "worker/publish.h"

#include <errno.h>
#include <fts.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "playback.h"
#include "proc.h"
#include "storage/storage.h"
#include "worker/ffmpeg.h"
#include "worker/wsql.h"

/* How long, within an attempt, publishing waits for a store that does not
 * answer before the task is handed back to wait (encoded again later). */
#define PATIENCE_S 300.0
#define WAIT_CAP_S 10.0
/* A store that refuses the worker's credentials is the operator's to fix:
 * the task waits this long, the attempt not counted. */
#define DENIED_WAIT_S 60.0
/* A store that does not answer (down, slow, SlowDown) is no fault of the
 * job: the task waits its Retry-After, else this long, the attempt not
 * counted, for as long as it takes. */
#define DOWN_WAIT_S 15.0

/* An attempt's outputs: at most this many files (days of segments in
 * every variant), each at most MAX_DEPTH levels under its directory
 * (v0/seg000.ts, mp4/720p.mp4). */
#define MAX_OUTPUTS 100000
#define MAX_DEPTH 2

#define LASTING_CC "max-age=31536000, immutable"
#define SHORT_CC "max-age=60"

/* The kinds of output files, by their names' endings: what never changes
 * under its name (segments, images, MP4s: a new encode is a new attempt's
 * prefix) is cached for a year; what may (playlists, WebVTT files:
 * captions are replaced) is read again soon. */
static const struct {
    const char *ext, *type;
    bool lasting;
} output_types[] = {
    {".m3u8", "application/vnd.apple.mpegurl", false},
    {".ts", "video/mp2t", true},
    {".m4s", "video/iso.segment", true},
    {".mp4", "video/mp4", true},
    {".jpg", "image/jpeg", true},
    {".vtt", "text/vtt", false},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int publish_put_opts(const char *name, bool public_read, store_put_opts *o)
{
    *o = (store_put_opts){.cache_control = LASTING_CC, .public_read = public_read};
    for (size_t i = 0; i < sizeof output_types / sizeof output_types[0]; i++) {
        if (ends_with(name, output_types[i].ext)) {
            o->content_type = output_types[i].type;
            o->cache_control = output_types[i].lasting ? LASTING_CC : SHORT_CC;
            return 0;
        }
    }
    return -1;
}

/* store_set_progress's callback: a long transfer keeps the lease, and
 * ends when the task is canceled or no longer ours. */
static bool keep_lease(void *arg, long long done, long long total)
{
    task_ctx *ctx = arg;
    (void)done, (void)total;
    return !atomic_load(ctx->cancel) && ctx->beat(ctx, -1);
}

void publish_bind(struct store *s, task_ctx *ctx)
{
    store_set_progress(s, keep_lease, ctx);
}

void publish_attempt_prefix(const char *job, int attempt, char *buf, size_t cap)
{
    snprintf(buf, cap, "media/%s/a%d/", job, attempt);
}

/* Sets res for the store's failure st (not STORE_OK) in doing what (for the
 * job's message: no key, no server path). */
static void store_failed(task_ctx *ctx, store *s, store_status st, const char *what,
                         task_result *res)
{
    log_warn("task %lld: %s: %s: %s", ctx->id, what, store_status_name(st), store_err(s));
    if (st == STORE_DENIED || st == STORE_NO_BUCKET) {
        log_error("task %lld: the object store refuses the worker's settings "
                  "(MEDIAGATE_STORAGE_*): the task waits, its attempt not counted",
                  ctx->id);
        task_fail(res, TASK_SNOOZE, 3, "%s: the object store refused the worker", what);
        res->retry_after = DENIED_WAIT_S;
    } else if (st == STORE_RETRY) {
        long ra = store_retry_after(s);
        task_fail(res, TASK_SNOOZE, 3, "%s: the object store did not answer", what);
        res->retry_after = ra > 0 ? (double)ra : DOWN_WAIT_S;
    } else {
        task_fail(res, TASK_RETRY, 3, "%s: the object store failed (%s)", what,
                  store_status_name(st));
    }
}

/* Waits before the store is tried again: its Retry-After or *delay
 * (doubled for the next time), at most WAIT_CAP_S, keeping the lease.
 * Returns false when the attempt must stop waiting: canceled, lease lost
 * or past give_up. */
static bool wait_store(task_ctx *ctx, store *s, double *delay, double give_up)
{
    long ra = store_retry_after(s);
    double d = ra > 0 ? (double)ra : *delay;
    d = d > WAIT_CAP_S ? WAIT_CAP_S : d;
    *delay = *delay * 2 > WAIT_CAP_S ? WAIT_CAP_S : *delay * 2;
    double end = proc_now() + d;
    if (end > give_up)
        return false;
    while (proc_now() < end) {
        if (atomic_load(ctx->cancel) || !ctx->beat(ctx, -1))
            return false;
        usleep(100000);
    }
    return true;
}

/* One publishing attempt's state. */
typedef struct pub {
    task_ctx *ctx;
    store *s;
    store_status st;  /* the failure that stopped publishing */
    bool stopped;     /* canceled or the lease lost */
    bool waited;      /* the store was waited for (logged once) */
    bool public_read; /* the job's objects are written public-read */
    double give_up;
} pub;

/* Writes the file path (or len bytes of buf when path is NULL) to key,
 * waiting for a store that does not answer. Returns the store's status;
 * p->stopped when the attempt must stop. */
static store_status put_patient(pub *p, const char *key, const char *path, const char *buf,
                                size_t len, const store_put_opts *o)
{
    double delay = 1;
    for (;;) {
        if (atomic_load(p->ctx->cancel) || !p->ctx->beat(p->ctx, -1)) {
            p->stopped = true;
            return STORE_ERROR;
        }
        store_status st = path ? store_put_file(p->s, key, path, o, NULL)
                               : store_put_mem(p->s, key, buf, len, o, NULL);
        if (st != STORE_OK && atomic_load(p->ctx->cancel)) { /* keep_lease ended it */
            p->stopped = true;
            return st;
        }
        if (st != STORE_RETRY)
            return st;
        if (!p->waited)
            log_warn("task %lld: the object store does not answer (%s); publishing waits for it",
                     p->ctx->id, store_err(p->s));
        p->waited = true;
        if (!wait_store(p->ctx, p->s, &delay, p->give_up)) {
            p->stopped = atomic_load(p->ctx->cancel) != 0;
            return STORE_RETRY;
        }
    }
}

void publish_files_free(out_files *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->v[i].rel);
    free(fs->v);
    *fs = (out_files){0};
}

int publish_files_add(out_files *fs, const char *rel, long long size, int rank)
{
    if (fs->n == fs->cap) {
        size_t n = fs->cap ? fs->cap * 2 : 64;
        out_file *v = realloc(fs->v, n * sizeof *v);
        if (!v)
            return -1;
        fs->v = v;
        fs->cap = n;
    }
    if (!(fs->v[fs->n].rel = strdup(rel)))
        return -1;
    fs->v[fs->n].size = size;
    fs->v[fs->n++].rank = rank;
    return 0;
}

int publish_by_name(const void *a, const void *b)
{
    return strcmp(((const out_file *)a)->rel, ((const out_file *)b)->rel);
}

int publish_by_rank(const void *a, const void *b)
{
    const out_file *x = a, *y = b;
    return x->rank != y->rank ? x->rank - y->rank : strcmp(x->rel, y->rel);
}

/* Whether rel is a file of fs (sorted publish_by_name). */
static bool has_file(const out_files *fs, const char *rel)
{
    out_file k = {.rel = (char *)rel};
    return fs->n && bsearch(&k, fs->v, fs->n, sizeof k, publish_by_name);
}

/* Whether the entry e (under a listing's top) may be listed, strict or
 * not (publish_list); why set when not. */
static bool entry_ok(const FTSENT *e, const char *rel, bool strict, size_t count, char *why,
                     size_t cap)
{
    store_put_opts o;
    if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
        snprintf(why, cap, "cannot read %.100s: %s", rel, strerror(e->fts_errno));
        return false;
    }
    if (e->fts_info != FTS_F && e->fts_info != FTS_D) {
        snprintf(why, cap, "%.100s is not a regular file", rel);
        return false;
    }
    if (!strict)
        return true;
    if (e->fts_level > MAX_DEPTH || (e->fts_info == FTS_D && e->fts_level == MAX_DEPTH) ||
        (e->fts_info == FTS_F && publish_put_opts(rel, false, &o) != 0)) {
        snprintf(why, cap, "holds a file of no kind it publishes: %.100s", rel);
        return false;
    }
    if (count == MAX_OUTPUTS) {
        snprintf(why, cap, "holds more than %d files", MAX_OUTPUTS);
        return false;
    }
    return true;
}

int publish_list(const char *dir, bool strict, out_files *fs, char *why, size_t cap)
{
    char *paths[] = {(char *)dir, NULL};
    size_t skip = strlen(dir) + 1;
    int ret = -1;
    FTS *t = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (!t) {
        snprintf(why, cap, "cannot read its directory: %s", strerror(errno));
        return -1;
    }
    FTSENT *e;
    while ((errno = 0, e = fts_read(t))) {
        if (e->fts_info == FTS_DP || (e->fts_level == 0 && e->fts_info == FTS_D))
            continue;
        const char *rel = e->fts_level ? e->fts_path + skip : "its directory";
        if (!entry_ok(e, rel, strict, fs->n, why, cap))
            goto out;
        if (e->fts_info == FTS_D)
            continue;
        int rank = strcmp(rel, "master.m3u8") == 0                     ? 2
                   : ends_with(rel, ".m3u8") || ends_with(rel, ".vtt") ? 1
                                                                       : 0;
        if (publish_files_add(fs, rel, e->fts_statp->st_size, rank) != 0) {
            snprintf(why, cap, "out of memory");
            goto out;
        }
    }
    if (errno) {
        snprintf(why, cap, "cannot read its directory: %s", strerror(errno));
        goto out;
    }
    if (fs->n)
        qsort(fs->v, fs->n, sizeof *fs->v, publish_by_name);
    ret = 0;
out:
    fts_close(t);
    return ret;
}

/* hls_check_media's callback: the segment is a file of the list. */
typedef struct seg_check {
    const out_files *l;
    const char *rel; /* the playlist's */
} seg_check;

static int segment_listed(void *arg, const char *name)
{
    const seg_check *c = arg;
    const char *slash = strrchr(c->rel, '/');
    char rel[PATH_MAX];
    int n = snprintf(rel, sizeof rel, "%.*s%s", slash ? (int)(slash - c->rel + 1) : 0, c->rel,
                     name);
    return n > 0 && (size_t)n < sizeof rel && has_file(c->l, rel) ? 0 : -1;
}

/* Checks, before anything is written, that the outputs (l, listed
 * strict) are whole: each is named by a key under prefix, the master and
 * each of the n renditions' playlists are there, and every media playlist
 * names only segments that are. Returns 0, or -1 with why. */
static int check_outputs(const char *dir, const char *prefix, const out_files *l, int n, char *why,
                         size_t cap)
{
    char rel[64], path[PATH_MAX], msg[160], key[1100];
    for (int i = 0; i < n; i++) {
        snprintf(rel, sizeof rel, "v%d/index.m3u8", i);
        if (!has_file(l, rel)) {
            snprintf(why, cap, "rendition %d has no playlist", i);
            return -1;
        }
    }
    if (!has_file(l, "master.m3u8")) {
        snprintf(why, cap, "there is no master playlist");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *r = l->v[i].rel;
        int k = snprintf(key, sizeof key, "%s%s", prefix, r);
        if (k < 0 || (size_t)k >= sizeof key || !store_key_ok(key)) {
            snprintf(why, cap, "holds a file it cannot name in the store: %.100s", r);
            return -1;
        }
        if (l->v[i].rank != 1 || !ends_with(r, ".m3u8"))
            continue;
        seg_check c = {l, r};
        size_t len = 0;
        double total;
        int segs, bad;
        snprintf(path, sizeof path, "%s/%s", dir, r);
        char *buf = hls_read_file(path, HLS_PLAYLIST_CAP, &len);
        snprintf(msg, sizeof msg, "is unreadable");
        bad = !buf ||
              hls_check_media(buf, len, segment_listed, &c, &total, &segs, msg, sizeof msg) != 0;
        free(buf);
        if (bad) {
            snprintf(why, cap, "%.100s %s", r, msg);
            return -1;
        }
    }
    return 0;
}

/* The master playlist buf (verified by hls_check_master) with each URI
 * line, and a tag's relative URI="..." attribute, prefixed by
 * "a<attempt>/", into a malloc'd buffer; NULL when out of memory. */
static char *master_for_attempt(const char *buf, size_t len, int attempt, size_t *out_len)
{
    char pre[16];
    int pl = snprintf(pre, sizeof pre, "a%d/", attempt);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    char *out = malloc(len + lines * (size_t)pl + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
        size_t at = 0; /* where the prefix goes in the line; 0 at its start */
        bool uri = buf[i] != '#' && buf[i] != '\n' && buf[i] != '\r';
        if (buf[i] == '#') { /* a tag's relative URI="..." (an EXT-X-MEDIA rendition) */
            const char *u = memmem(buf + i, n, "URI=\"", 5);
            size_t rest = u ? n - (size_t)(u + 5 - (buf + i)) : 0;
            const char *q = u ? memchr(u + 5, '"', rest) : NULL;
            if (q && q > u + 5 && u[5] != '/' && !memmem(u + 5, (size_t)(q - u - 5), "://", 3)) {
                at = (size_t)(u + 5 - (buf + i));
                uri = true;
            }
        }
        memcpy(o, buf + i, at);
        o += at;
        if (uri) {
            memcpy(o, pre, (size_t)pl);
            o += pl;
        }
        memcpy(o, buf + i + at, n - at);
        o += n - at;
        i += n;
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

/* Whether the job's objects may be written public-read at once, as
 * media.acl makes them once the job is COMPLETE (app/playback.h: the
 * signing record and this host's settings both unsigned, the job public);
 * private when the database does not answer. media.acl follows any later
 * change. */
static bool public_now(task_ctx *ctx)
{
    const char *v[] = {ctx->job_id};
    PGresult *r = NULL;
    bool yes = ctx->db && db_exec(ctx->db, W_JOB_PLAYBACK, 1, v, &r) == 0 && PQntuples(r) == 1 &&
               playback_public_read(ctx->cfg, PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0),
                                    PQgetvalue(r, 0, 3));
    PQclear(r);
    return yes;
}

int publish_outputs(task_ctx *ctx, store *s, const char *dir, int n, task_result *res)
{
    char attempt[160], path[PATH_MAX], key[1100], why[300] = "unreadable";
    char *buf = NULL, *master = NULL;
    size_t len = 0, mlen = 0;
    int ret = -1;
    bool at_master = false;
    out_files l = {0};
    store_put_opts o;
    pub p = {.ctx = ctx, .s = s, .st = STORE_OK, .give_up = proc_now() + PATIENCE_S};
    if (p.give_up > ctx->deadline)
        p.give_up = ctx->deadline;
    p.public_read = public_now(ctx);
    publish_attempt_prefix(ctx->job_id, ctx->attempt, attempt, sizeof attempt);
    if (publish_list(dir, true, &l, why, sizeof why) != 0 ||
        check_outputs(dir, attempt, &l, n, why, sizeof why) != 0)
        goto fail;
    /* What the playlists and WebVTT files name before them, the master
     * last (below). */
    qsort(l.v, l.n, sizeof *l.v, publish_by_rank);
    for (size_t i = 0; i < l.n && l.v[i].rank < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, l.v[i].rel);
        snprintf(key, sizeof key, "%s%s", attempt, l.v[i].rel);
        publish_put_opts(l.v[i].rel, p.public_read, &o);
        if ((p.st = put_patient(&p, key, path, NULL, 0, &o)) != STORE_OK)
            goto fail;
    }
    snprintf(path, sizeof path, "%s/master.m3u8", dir);
    if (!(buf = hls_read_file(path, HLS_PLAYLIST_CAP, &len)) ||
        !(master = master_for_attempt(buf, len, ctx->attempt, &mlen)))
        goto fail;
    /* Published only by the holder: a worker that lost its lease while it
     * encoded or uploaded learns it here, and writes no master. */
    if (!ctx->beat(ctx, TASK_BEAT_CHECK)) {
        p.stopped = true;
        goto fail;
    }
    at_master = true;
    snprintf(key, sizeof key, "media/%s/master.m3u8", ctx->job_id);
    publish_put_opts(key, p.public_read, &o);
    if ((p.st = put_patient(&p, key, NULL, master, mlen, &o)) != STORE_OK)
        goto fail;
    log_info("task %lld: published %zu files", ctx->id, l.n);
    ret = 0;
    goto out;
fail:
    if (p.stopped) {
        log_info(
            "task %lld: stopped publishing (canceled or the lease lost); removing what it wrote",
            ctx->id);
        res->outcome = TASK_HANDBACK;
    } else if (p.st == STORE_OK) { /* read back before: only a local fault comes here */
        log_warn("task %lld: cannot read back the outputs to publish: %s", ctx->id, why);
        task_fail(res, TASK_RETRY, 10, "the outputs failed verification before publishing");
    } else {
        store_failed(ctx, s, p.st, "cannot publish the outputs", res);
    }
    /* An answer lost after the store wrote the master would leave it naming
     * what is removed below. */
    if (at_master && store_delete(s, key) != STORE_OK)
        log_warn("task %lld: cannot remove %s: %s", ctx->id, key, store_err(s));
    if (store_delete_prefix(s, attempt) != STORE_OK)
        log_warn("task %lld: cannot remove %s (a later attempt does): %s", ctx->id, attempt,
                 store_err(s));
out:
    publish_files_free(&l);
    free(buf);
    free(master);
    return ret;
}

void publish_clear_earlier(task_ctx *ctx, store *s, const char *job, int attempt)
{
    char key[160];
    /* No attempt before this one completed (else this one would not run):
     * a master there names a killed attempt's renditions. */
    snprintf(key, sizeof key, "media/%s/master.m3u8", job);
    if (attempt > 1 && store_delete(s, key) != STORE_OK)
        log_warn("task %lld: cannot remove %s: %s", ctx->id, key, store_err(s));
    for (int n = 1; n < attempt; n++) {
        publish_attempt_prefix(job, n, key, sizeof key);
        if (store_delete_prefix(s, key) != STORE_OK)
            log_warn("task %lld: cannot remove %s: %s", ctx->id, key, store_err(s));
    }
}

void publish_remove_job(store *s, const char *job)
{
    char key[160];
    snprintf(key, sizeof key, "media/%s/", job);
    if (store_delete_prefix(s, key) != STORE_OK)
        log_warn("cannot remove %s: %s", key, store_err(s));
}

int publish_fetch(task_ctx *ctx, store *s, const char *key, const char *etag, const char *path,
                  long long max_bytes, task_result *res)
{
    store_status st = store_get_file(s, key, path, max_bytes, etag, NULL);
    if (st == STORE_OK)
        return 0;
    unlink(path);
    if (atomic_load(ctx->cancel)) { /* keep_lease ended it */
        res->outcome = TASK_HANDBACK;
        return 3;
    }
    if (st == STORE_NOT_FOUND) {
        task_fail(res, TASK_FAILED, 1, "cannot read the input: it is gone from the object store");
        return 1;
    }
    if (st == STORE_PRECONDITION) {
        task_fail(res, TASK_FAILED, 1, "cannot read the input: it changed after it was uploaded");
        return 1;
    }
    if (st == STORE_TOO_LARGE) {
        task_fail(res, TASK_FAILED, 9, "the input is larger than %lld bytes", max_bytes);
        return 9;
    }
    store_failed(ctx, s, st, "cannot read the input", res);
    return 3;
}

/* The keys of a stream's recordings. */
typedef struct listing {
    char **keys;
    size_t n, cap;
} listing;

static int listed(void *arg, const char *key, const store_object *o)
{
    listing *l = arg;
    (void)o;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **k = realloc(l->keys, cap * sizeof *k);
        if (!k)
            return -1;
        l->keys = k;
        l->cap = cap;
    }
    return (l->keys[l->n] = strdup(key)) ? (l->n++, 0) : -1;
}

static int by_name(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

int publish_fetch_recordings(task_ctx *ctx, store *s, const char *sid, json_object *keys,
                             const char *dir, long long max_bytes, rec_files *out, task_result *res)
{
    listing l = {0};
    char prefix[128], path[PATH_MAX];
    long long left = max_bytes;
    int ret = 0;
    snprintf(prefix, sizeof prefix, "recordings/%s/", sid);
    if (json_object_is_type(keys, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
            json_object *k = json_object_array_get_idx(keys, i);
            if (json_object_is_type(k, json_type_string) &&
                listed(&l, json_object_get_string(k), NULL) != 0) {
                task_fail(res, TASK_RETRY, 3, "out of memory");
                ret = 3;
                goto out;
            }
        }
    } else {
        store_status st = store_list(s, prefix, listed, &l);
        if (st != STORE_OK) {
            store_failed(ctx, s, st, "cannot list the stream's recordings", res);
            ret = 3;
            goto out;
        }
        qsort(l.keys, l.n, sizeof *l.keys, by_name);
    }
    for (size_t i = 0; i < l.n; i++) {
        const char *key = l.keys[i], *name = key + strlen(prefix);
        bool flv = ends_with(key, ".flv"), ts = ends_with(key, ".ts");
        struct stat st;
        if (strncmp(key, prefix, strlen(prefix)) != 0 || strchr(name, '/') || !store_key_ok(key) ||
            (!flv && !ts))
            continue; /* the stream's own objects only */
        snprintf(path, sizeof path, "%s/r%zu.%s", dir, i, flv ? "flv" : "ts");
        if ((ret = publish_fetch(ctx, s, key, NULL, path, left, res)) != 0) {
            if (ret == 9)
                task_fail(res, TASK_FAILED, 9, "the stream's recordings are larger than %lld bytes",
                          max_bytes);
            goto out;
        }
        left -= stat(path, &st) == 0 ? (long long)st.st_size : 0;
        if (files_add(out, path, flv ? "flv" : "mpegts", (long long)i)) {
            task_fail(res, TASK_RETRY, 3, "out of memory");
            ret = 3;
            goto out;
        }
    }
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.keys[i]);
    free(l.keys);
    return ret;
}
