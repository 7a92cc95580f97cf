/* The captions.publish kind: a job's captions (the captions table) written
 * beside its outputs (captions/<language>.vtt and .m3u8, local or in the
 * bucket) and named by its master playlist as an HLS SUBTITLES group; a
 * deleted language's files removed. Each run writes the job's whole
 * current set (idempotent); a job not yet COMPLETE is left to the run its
 * COMPLETE queues (sql/041_captions.sql). One run of a job at a time: the
 * others wait (a session lock), so masters are never written out of order. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "captions.h"
#include "config.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "playback.h"
#include "storage/storage.h"
#include "worker/hls_crypt.h"
#include "worker/kinds.h"
#include "worker/publish.h"
#include "worker/wsql.h"

#define PLAYLIST_CAP (1 << 20)
#define SEGMENT_CAP (64 << 20)
/* The first PTS of ffmpeg's MPEG-TS output, for segments that cannot be
 * read clear: its muxer starts near 1.4 s. */
#define DEFAULT_MPEGTS 126000
#define BUSY_WAIT_S 3.0

enum { J_STATUS, J_STORAGE, J_ACL, J_UNSIGNED, J_DURATION }; /* W_CAP_JOB */
enum { C_LANGUAGE, C_LABEL, C_VTT, C_VERSION, C_DELETED };   /* W_CAP_LIST */

static const store_put_opts vtt_opts = {.content_type = "text/vtt; charset=utf-8",
                                        .cache_control = "max-age=60"};
static const store_put_opts playlist_opts = {.content_type = "application/vnd.apple.mpegurl",
                                             .cache_control = "max-age=60"};

/* One run's state. */
typedef struct run {
    task_ctx *ctx;
    task_result *res;
    store *s;
    const char *job;
    bool public_read;
} run;

/* Sets res to retry (or snooze, for a store that did not answer) after a
 * failure st of the store. Returns -1. */
static int store_failed(run *u, store_status st, const char *what)
{
    snprintf(u->res->message, sizeof u->res->message, "the store, %s: %s: %s", what,
             store_status_name(st), store_err(u->s));
    u->res->outcome = st == STORE_RETRY ? TASK_SNOOZE : TASK_RETRY;
    u->res->retry_after = store_retry_after(u->s) > 0 ? (double)store_retry_after(u->s) : 0;
    return -1;
}

/* The key of the job's file rel ("master.m3u8") into key. */
static void key_of(const run *u, const char *rel, char *key, size_t cap)
{
    snprintf(key, cap, "media/%s/%s", u->job, rel);
}

/* Decrypts the AES-128 segment seg[0..*len) with attempt n's key of the
 * job (media_keys) and iv, in place (*len the clear length). Returns 0 or
 * -1. */
static int decrypt(run *u, int n, const unsigned char iv[16], char *seg, size_t *len)
{
    char num[16], in[PATH_MAX] = "", out[PATH_MAX] = "";
    const char *tmp = getenv("TMPDIR");
    unsigned char key[16];
    PGresult *r = NULL;
    FILE *f = NULL;
    int ret = -1;
    snprintf(num, sizeof num, "%d", n);
    const char *v[] = {u->job, num};
    if (db_exec(u->ctx->db, W_CAP_KEY, 2, v, &r) != 0 || PQntuples(r) != 1 ||
        PQgetlength(r, 0, 0) != 32)
        goto out;
    for (int i = 0; i < 16; i++) {
        unsigned hi, lo;
        if (sscanf(PQgetvalue(r, 0, 0) + 2 * i, "%1x%1x", &hi, &lo) != 2)
            goto out;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    snprintf(in, sizeof in, "%s/mg-captions-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    snprintf(out, sizeof out, "%s.clear", in);
    int fd = mkstemp(in);
    if (fd < 0) {
        in[0] = '\0';
        goto out;
    }
    if (!(f = fdopen(fd, "wb"))) {
        close(fd);
        goto out;
    }
    bool ok = fwrite(seg, 1, *len, f) == *len;
    ok = fclose(f) == 0 && ok;
    f = NULL;
    if (!ok || hls_crypt_decrypt_file(key, iv, in, out) != 0 || !(f = fopen(out, "rb")))
        goto out;
    *len = fread(seg, 1, *len, f);
    ret = 0;
out:
    if (f)
        fclose(f);
    if (in[0])
        unlink(in);
    if (out[0])
        unlink(out);
    PQclear(r);
    return ret;
}

/* The first PTS of the job's segments: of the first segment of the
 * variant the master lists first (every variant of one encode starts at
 * the same time), decrypted when the playlist names a key;
 * DEFAULT_MPEGTS when it cannot be read clear. */
static long long first_pts(run *u, const char *master, size_t mlen)
{
    char uri[512], seg_uri[256], key[1200], *pl = NULL, *seg = NULL;
    unsigned char iv[16];
    size_t len;
    int n;
    long long pts = DEFAULT_MPEGTS;
    if (captions_master_first_variant(master, mlen, uri, sizeof uri) != 0 || strstr(uri, ".."))
        goto out;
    key_of(u, uri, key, sizeof key);
    if (store_get_mem(u->s, key, PLAYLIST_CAP, &pl, &len) != STORE_OK ||
        captions_first_segment(pl, len, seg_uri, sizeof seg_uri, &n, iv) != 0 ||
        strchr(seg_uri, ':') || strstr(seg_uri, ".."))
        goto out;
    char *slash = strrchr(uri, '/');
    snprintf(key, sizeof key, "media/%s/%.*s%s", u->job, slash ? (int)(slash - uri + 1) : 0, uri,
             seg_uri);
    if (store_get_mem(u->s, key, SEGMENT_CAP, &seg, &len) != STORE_OK)
        goto out;
    if ((n > 0 && decrypt(u, n, iv, seg, &len) != 0) ||
        captions_ts_first_pts((const unsigned char *)seg, len, &pts) != 0) {
        pts = DEFAULT_MPEGTS;
        log_info("task %lld: job %.100s: the first segment is not clear MPEG-TS: captions "
                 "start at PTS %d",
                 u->ctx->id, u->job, DEFAULT_MPEGTS);
    }
out:
    free(pl);
    free(seg);
    return pts;
}

/* Writes language's files from its row i of r. Returns 0 or -1 (res set). */
static int put_language(run *u, PGresult *r, int i, long long mpegts, long long duration_ms)
{
    const char *lang = PQgetvalue(r, i, C_LANGUAGE);
    char key[300], pl[512];
    size_t n;
    int ret = -1;
    char *vtt = captions_vtt_for_hls(PQgetvalue(r, i, C_VTT), (size_t)PQgetlength(r, i, C_VTT),
                                     mpegts, &n);
    if (!vtt) {
        snprintf(u->res->message, sizeof u->res->message, "captions %s: not normalized WebVTT",
                 lang);
        u->res->outcome = TASK_FAILED;
        goto out;
    }
    store_put_opts vo = vtt_opts, po = playlist_opts;
    vo.public_read = po.public_read = u->public_read;
    snprintf(key, sizeof key, "media/%s/captions/%s.vtt", u->job, lang);
    store_status st = store_put_mem(u->s, key, vtt, n, &vo, NULL);
    if (st != STORE_OK) {
        ret = store_failed(u, st, "captions");
        goto out;
    }
    int pn = captions_media_playlist(lang, duration_ms, pl, sizeof pl);
    snprintf(key, sizeof key, "media/%s/captions/%s.m3u8", u->job, lang);
    if (pn < 0 || (st = store_put_mem(u->s, key, pl, (size_t)pn, &po, NULL)) != STORE_OK) {
        ret = store_failed(u, pn < 0 ? STORE_ERROR : st, "captions");
        goto out;
    }
    ret = 0;
out:
    free(vtt);
    return ret;
}

/* Removes a deleted language's files. Returns 0 or -1 (res set). */
static int remove_language(run *u, const char *lang)
{
    static const char *const ext[] = {"m3u8", "vtt"};
    char key[300];
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "media/%s/captions/%s.%s", u->job, lang, ext[k]);
        store_status st = store_delete(u->s, key);
        if (st != STORE_OK)
            return store_failed(u, st, "captions");
    }
    return 0;
}

/* Marks each row of r done: a version published, a deleted one gone. */
static int record(run *u, PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        bool deleted = PQgetvalue(r, i, C_DELETED)[0] == 't';
        const char *v[] = {u->job, PQgetvalue(r, i, C_LANGUAGE), PQgetvalue(r, i, C_VERSION)};
        PGresult *x = NULL;
        int st = db_exec(u->ctx->db, deleted ? W_CAP_PURGE : W_CAP_PUBLISHED, 3, v, &x);
        PQclear(x);
        if (st != 0) {
            snprintf(u->res->message, sizeof u->res->message, "the database is unavailable");
            u->res->outcome = TASK_RETRY;
            return -1;
        }
    }
    return 0;
}

/* Publishes job's captions (COMPLETE, row jr): files, then the master. */
static void publish(run *u, PGresult *jr, PGresult *cr)
{
    char key[300], *master = NULL, *next = NULL;
    size_t mlen, nlen;
    captions_track *t = calloc((size_t)PQntuples(cr) + 1, sizeof *t);
    int n = 0;
    if (!t) {
        snprintf(u->res->message, sizeof u->res->message, "out of memory");
        goto out;
    }
    key_of(u, "master.m3u8", key, sizeof key);
    store_status st = store_get_mem(u->s, key, PLAYLIST_CAP, &master, &mlen);
    if (st != STORE_OK) {
        store_failed(u, st, "the master playlist");
        goto out;
    }
    long long mpegts = first_pts(u, master, mlen);
    long long duration_ms = PQgetisnull(jr, 0, J_DURATION) ? 0
                                                           : atoll(PQgetvalue(jr, 0, J_DURATION));
    for (int i = 0; i < PQntuples(cr); i++) {
        const char *lang = PQgetvalue(cr, i, C_LANGUAGE);
        if (PQgetvalue(cr, i, C_DELETED)[0] == 't') {
            if (remove_language(u, lang) != 0)
                goto out;
            continue;
        }
        if (put_language(u, cr, i, mpegts, duration_ms) != 0)
            goto out;
        t[n].language = lang;
        t[n++].label = PQgetvalue(cr, i, C_LABEL);
    }
    if (captions_master_rewrite(master, mlen, t, n, &next, &nlen) != 0) {
        snprintf(u->res->message, sizeof u->res->message,
                 "the job's master playlist names no variant");
        u->res->outcome = TASK_FAILED;
        goto out;
    }
    /* The master last, by the lease's holder only. */
    if (!u->ctx->beat(u->ctx, TASK_BEAT_CHECK)) {
        u->res->outcome = TASK_HANDBACK;
        goto out;
    }
    store_put_opts mo = playlist_opts;
    mo.public_read = u->public_read;
    if (nlen != mlen || memcmp(next, master, mlen) != 0) {
        if ((st = store_put_mem(u->s, key, next, nlen, &mo, NULL)) != STORE_OK) {
            store_failed(u, st, "the master playlist");
            goto out;
        }
    }
    if (record(u, cr) != 0)
        goto out;
    log_info("task %lld: job %.100s: %d captions published", u->ctx->id, u->job, n);
    u->res->outcome = TASK_DONE;
out:
    free(t);
    free(master);
    free(next);
}

void kind_captions_publish(task_ctx *ctx, task_result *res)
{
    const char *job = NULL, *v[1];
    PGresult *jr = NULL, *cr = NULL, *lr = NULL;
    bool locked = false;
    run u = {.ctx = ctx, .res = res};
    res->outcome = TASK_RETRY;
    if (jstr(ctx->payload, "media_job", &job) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "malformed task payload");
        goto out;
    }
    u.job = v[0] = job;
    if (db_exec(ctx->db, W_CAP_LOCK, 1, v, &lr) != 0) {
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    locked = PQgetvalue(lr, 0, 0)[0] == 't';
    if (!locked) {
        /* Not this task's fault: it waits, the attempt not counted. */
        snprintf(res->message, sizeof res->message, "another publish of the job's captions runs");
        res->outcome = TASK_SNOOZE;
        res->retry_after = BUSY_WAIT_S;
        goto out;
    }
    if (db_exec(ctx->db, W_CAP_JOB, 1, v, &jr) != 0 ||
        db_exec(ctx->db, W_CAP_LIST, 1, v, &cr) != 0) {
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    if (PQntuples(jr) != 1 || strcmp(PQgetvalue(jr, 0, J_STATUS), "COMPLETE") != 0 ||
        PQgetisnull(jr, 0, J_STORAGE)) {
        res->outcome = TASK_DONE; /* its COMPLETE queues another */
        goto out;
    }
    if (strcmp(PQgetvalue(jr, 0, J_STORAGE), store_is_s3(ctx->cfg) ? "s3" : "local") != 0) {
        log_warn("task %lld: job %.100s: its outputs are not on this worker's storage: captions "
                 "not published",
                 ctx->id, job);
        res->outcome = TASK_DONE;
        goto out;
    }
    u.public_read = playback_public_read(ctx->cfg,
                                         PQgetisnull(jr, 0, J_ACL) ? NULL
                                                                   : PQgetvalue(jr, 0, J_ACL),
                                         PQgetvalue(jr, 0, J_UNSIGNED));
    if (!(u.s = store_open(ctx->cfg))) {
        snprintf(res->message, sizeof res->message, "out of memory");
        goto out;
    }
    publish_bind(u.s, ctx);
    publish(&u, jr, cr);
out:
    if (locked) {
        PGresult *x = NULL;
        db_exec(ctx->db, W_CAP_UNLOCK, 1, v, &x);
        PQclear(x);
    }
    store_close(u.s);
    PQclear(lr);
    PQclear(jr);
    PQclear(cr);
}
