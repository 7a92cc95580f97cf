/* GET /media/hls/<sig>/<exp>/<job id>/<file>: a file of a job whose
 * outputs are private in the bucket (app/playback.h): a playlist read from
 * the store and answered with its segments' URIs presigned, a WebVTT file
 * as stored, anything else (the poster, a storyboard's image, an MP4) a
 * redirect to a presigned GET URL of its object; every URL expires with
 * the route's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "playback.h"
#include "storage/storage.h"

#define TEXT_CAP (1 << 20) /* a playlist or WebVTT file larger than this is refused */
#define CACHE_SLOTS 64
#define CACHE_ENTRY_CAP (256 << 10)
#define CACHE_TTL_S 30       /* a finished job's playlists do not change */
#define PRESIGN_MAX_S 604800 /* SigV4's longest presigned URL: 7 days */

enum { C_STATUS = 0, C_ACL = 10, C_STORAGE = 13 }; /* STMT_JOB_STATUS's columns */

/* Playlists and WebVTT files read lately, by key: the raw text only (each answer is signed
 * afresh), so a cached entry never outlives a signature. */
static struct {
    char key[1100];
    char *text;
    size_t len;
    time_t at;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const char *key)
{
    size_t h = 5381;
    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % CACHE_SLOTS;
}

/* A fresh copy of key's cached text (malloc'd) into *text, or false. */
static bool cache_get(const char *key, time_t now, char **text, size_t *len)
{
    bool hit = false;
    size_t i = slot_of(key);
    pthread_mutex_lock(&cache_lock);
    if (cache[i].text && strcmp(cache[i].key, key) == 0 && now - cache[i].at < CACHE_TTL_S &&
        now >= cache[i].at && (*text = malloc(cache[i].len + 1))) {
        memcpy(*text, cache[i].text, cache[i].len + 1);
        *len = cache[i].len;
        hit = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const char *key, const char *text, size_t len, time_t now)
{
    char *copy;
    if (len > CACHE_ENTRY_CAP || strlen(key) >= sizeof cache[0].key || !(copy = malloc(len + 1)))
        return;
    memcpy(copy, text, len + 1);
    size_t i = slot_of(key);
    pthread_mutex_lock(&cache_lock);
    free(cache[i].text);
    snprintf(cache[i].key, sizeof cache[i].key, "%s", key);
    cache[i].text = copy;
    cache[i].len = len;
    cache[i].at = now;
    pthread_mutex_unlock(&cache_lock);
}

/* The calling thread's store handle, opened on first use and closed when
 * the thread ends. NULL when out of memory. */
static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void close_store(void *s)
{
    store_close(s);
}

static void make_store_key(void)
{
    pthread_key_create(&store_key, close_store);
}

static store *thread_store(const config *cfg)
{
    pthread_once(&store_once, make_store_key);
    store *s = pthread_getspecific(store_key);
    if (!s && (s = store_open(cfg)) != NULL)
        pthread_setspecific(store_key, s);
    return s;
}

typedef struct presign_ctx {
    const config *cfg;
    time_t from;
    long expires_s;
} presign_ctx;

static int presign(void *arg, const char *key, char *url, size_t cap)
{
    const presign_ctx *p = arg;
    store_presign_req q = {.method = "GET",
                           .key = key,
                           .expires_s = p->expires_s,
                           .content_length = -1,
                           .now = p->from};
    return store_presign(p->cfg, &q, url, cap);
}

/* The answer to the store's failure st (not STORE_OK) on key. */
static int store_refusal(request *r, store *s, const char *key, store_status st)
{
    if (st == STORE_NOT_FOUND)
        return reply_error(r, 404, "No such file.");
    log_warn("media %.200s: %s: %s", key, store_status_name(st), store_err(s));
    if (st == STORE_RETRY)
        return reply_error(r, 503, "The store is unavailable; retry later.");
    return reply_error(r, 502, "The store did not give the file.");
}

/* Reads the text (a playlist, a WebVTT file) at key, from the cache or the
 * store: 200 with a malloc'd text, or the status to answer (r->out set). */
static int read_text(request *r, const char *key, time_t now, char **text, size_t *len)
{
    if (cache_get(key, now, text, len))
        return 200;
    store *s = thread_store(r->cfg);
    if (!s)
        return 500;
    store_status st = store_get_mem(s, key, TEXT_CAP, text, len);
    if (st == STORE_OK) {
        cache_put(key, *text, *len, now);
        return 200;
    }
    *text = NULL;
    return store_refusal(r, s, key, st);
}

/* Answers the object at key (inside media/<job>/: playback_parse's file)
 * with a redirect to a presigned GET URL of it, made by pc. The object is
 * looked at first: a missing one is a 404, a store that does not answer a
 * 503, never a redirect to nothing. */
static int redirect_object(request *r, const char *key, presign_ctx *pc)
{
    char url[4096];
    store_object meta;
    store *s = thread_store(r->cfg);
    if (!s)
        return 500;
    store_status st = store_head(s, key, &meta);
    if (st != STORE_OK)
        return store_refusal(r, s, key, st);
    if (presign(pc, key, url, sizeof url) != 0 || !(r->location = arena_strdup(r->a, url)))
        return 500;
    /* A signed URL inside: as the playlists, never stored. */
    r->cache_control = "private, no-store";
    return 302;
}

int handle_media_hls(request *r)
{
    int ret;
    PGresult *res = NULL;
    char *text = NULL, *body = NULL, sig[PLAYBACK_SIG_LEN + 1], job[101], file[512], key[1100],
         dir[1100], why[300];
    unsigned char pkey[32];
    long long exp;
    size_t len, blen;
    const char *path = r->path + strlen("/media/hls/");
    time_t now = time(NULL);

    if (playback_parse(path, strlen(path), sig, &exp, job, file) != 0) {
        ret = reply_error(r, 404, "No such file.");
        goto out;
    }
    if (playback_key(r->cfg, pkey) != 0 || !playback_valid(pkey, job, exp, sig, (long long)now)) {
        ret = reply_error(r, 403, "The URL is not signed, or it has expired.");
        goto out;
    }
    const char *vals[] = {job};
    ret = db_exec(r->db, STMT_JOB_STATUS, 1, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    /* Only a finished job on the store plays; a job deleted or moved since
     * the URL was signed does not. */
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, C_STATUS), "COMPLETE") != 0 ||
        PQgetisnull(res, 0, C_STORAGE) || strcmp(PQgetvalue(res, 0, C_STORAGE), "s3") != 0) {
        ret = reply_error(r, 404, "No such file.");
        goto out;
    }
    snprintf(key, sizeof key, "media/%s/%s", job, file);
    snprintf(dir, sizeof dir, "%s", key);
    *(strrchr(dir, '/') + 1) = '\0';
    /* Presigned URLs expire with this URL; made from the start of the
     * minute, so the answer stays the same for a minute. */
    presign_ctx pc = {r->cfg, now - now % 60, 0};
    pc.expires_s = exp - pc.from > PRESIGN_MAX_S ? PRESIGN_MAX_S : (long)(exp - pc.from);
    playback_kind kind = playback_file_kind(file);
    if (kind == PLAYBACK_OBJECT) {
        ret = redirect_object(r, key, &pc);
        goto out;
    }
    if ((ret = read_text(r, key, now, &text, &len)) != 200)
        goto out;
    if (kind == PLAYBACK_VTT) { /* as stored: its relative references stay under the route */
        body = text;
        text = NULL;
        blen = len;
    } else if (playback_rewrite(text, len, dir, playback_key_base(r->cfg), presign, &pc, &body,
                                &blen, why, sizeof why) != 0) {
        log_warn("playlist %.200s: %s", key, why);
        ret = reply_error(r, 502, "The playlist in the store is not one mediagate can serve.");
        goto out;
    }
    char *copy = arena_alloc(r->a, blen + 1);
    if (!copy) {
        ret = 500;
        goto out;
    }
    memcpy(copy, body, blen + 1);
    r->raw_body = copy;
    r->raw_len = blen;
    r->raw_type = kind == PLAYBACK_VTT ? "text/vtt" : "application/vnd.apple.mpegurl";
    /* Signed URLs inside (or behind): never stored by a shared cache or a
     * browser, so nothing serves it past its expiry. */
    r->cache_control = "private, no-store";
    ret = 200;
out:
    free(text);
    free(body);
    PQclear(res);
    return ret;
}
