/* An encode's inputs read from and outputs published to the object store
 * (see publish.h). */
#include "worker/publish.h"

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

static const store_put_opts segment_opts = {.content_type = "video/mp2t",
                                            .cache_control = "max-age=31536000, immutable"};
static const store_put_opts playlist_opts = {.content_type = "application/vnd.apple.mpegurl",
                                             .cache_control = "max-age=60"};

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
    const char *vdir; /* the rendition's local directory */
    char prefix[192]; /* its key prefix */
    store_status st;  /* the failure that stopped publishing */
    bool stopped;     /* canceled or the lease lost */
    bool waited;      /* the store was waited for (logged once) */
    double give_up;
    store_put_opts seg, list; /* segment_opts, playlist_opts, public_read as the job */
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

/* hls_check_media's callback: publishes one segment of the rendition. */
static int put_segment(void *arg, const char *name)
{
    pub *p = arg;
    char path[PATH_MAX], key[512];
    if (snprintf(path, sizeof path, "%s/%s", p->vdir, name) >= (int)sizeof path ||
        snprintf(key, sizeof key, "%s%s", p->prefix, name) >= (int)sizeof key) {
        p->st = STORE_ERROR;
        return -1;
    }
    p->st = put_patient(p, key, path, NULL, 0, &p->seg);
    return p->st == STORE_OK ? 0 : -1;
}

/* The master playlist buf (verified by hls_check_master) with each URI
 * line prefixed by "a<attempt>/", into a malloc'd buffer; NULL when out of
 * memory. */
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
        if (buf[i] != '#' && buf[i] != '\n' && buf[i] != '\r') {
            memcpy(o, pre, (size_t)pl);
            o += pl;
        }
        memcpy(o, buf + i, n);
        o += n;
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
    char attempt[160], vdir[PATH_MAX], path[PATH_MAX + 32], key[256], why[160] = "unreadable";
    char *buf = NULL, *master = NULL;
    size_t len = 0, mlen = 0;
    double total;
    int segs, ret = -1;
    bool at_master = false;
    pub p = {.ctx = ctx, .s = s, .st = STORE_OK, .give_up = proc_now() + PATIENCE_S};
    if (p.give_up > ctx->deadline)
        p.give_up = ctx->deadline;
    p.seg = segment_opts;
    p.list = playlist_opts;
    p.seg.public_read = p.list.public_read = public_now(ctx);
    publish_attempt_prefix(ctx->job_id, ctx->attempt, attempt, sizeof attempt);
    for (int i = 0; i < n; i++) {
        snprintf(vdir, sizeof vdir, "%s/v%d", dir, i);
        snprintf(p.prefix, sizeof p.prefix, "%sv%d/", attempt, i);
        snprintf(path, sizeof path, "%s/index.m3u8", vdir);
        p.vdir = vdir;
        free(buf);
        if (!(buf = hls_read_file(path, HLS_PLAYLIST_CAP, &len)) ||
            hls_check_media(buf, len, put_segment, &p, &total, &segs, why, sizeof why) != 0)
            goto fail;
        snprintf(key, sizeof key, "%sindex.m3u8", p.prefix);
        if ((p.st = put_patient(&p, key, path, NULL, 0, &p.list)) != STORE_OK)
            goto fail;
    }
    free(buf);
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
    if ((p.st = put_patient(&p, key, NULL, master, mlen, &p.list)) != STORE_OK)
        goto fail;
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

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
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
