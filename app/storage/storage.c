/* The storage backends' table and the calls every caller uses: each checks
 * the key once here, then runs the configured backend's row. */
#include "storage/storage.h"

#include "config.h"
#include "metrics.h"
#include "storage/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const store_backend *const backends[] = {&store_local_backend, &store_s3_backend};

/* The backend MEDIAGATE_STORAGE names (config validation allows no other). */
static const store_backend *backend_of(const config *cfg)
{
    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
        if (cfg->storage && strcmp(cfg->storage, backends[i]->name) == 0)
            return backends[i];
    return &store_local_backend;
}

bool store_is_s3(const config *cfg)
{
    return backend_of(cfg) == &store_s3_backend;
}

bool store_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 1 && n <= 1024 &&
           strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-") == n &&
           key[0] != '/' && key[0] != '.' && !strstr(key, "//") && !strstr(key, "/.");
}

const char *store_status_name(store_status st)
{
    static const char *const names[] = {
        [STORE_OK] = "ok",
        [STORE_NOT_FOUND] = "not found",
        [STORE_PRECONDITION] = "precondition failed",
        [STORE_DENIED] = "denied",
        [STORE_NO_BUCKET] = "no such bucket",
        [STORE_TOO_LARGE] = "too large",
        [STORE_RETRY] = "try again",
        [STORE_ERROR] = "error",
        [STORE_NO_SPACE] = "no space",
    };
    return (unsigned)st < sizeof names / sizeof *names ? names[st] : "unknown";
}

store_status store_fail(store *s, store_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return st;
}

store *store_open(const config *cfg)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->b = backend_of(cfg);
    s->retry_after = -1;
    if (s->b->open && s->b->open(s) != 0) {
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->b && s->b->close)
        s->b->close(s);
    free(s);
}

void store_set_progress(store *s, store_progress_fn fn, void *arg)
{
    s->progress = fn;
    s->progress_arg = arg;
}

bool store_progress(store *s, long long done, long long total, bool force)
{
    struct timespec ts;
    if (!s->progress)
        return true;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    if (!force && now - s->progress_at < 1.0)
        return true;
    s->progress_at = now;
    if (s->progress(s->progress_arg, done, total))
        return true;
    store_fail(s, STORE_ERROR, "cancelled");
    return false;
}

const char *store_err(const store *s)
{
    return s ? s->err : "out of memory";
}

long store_retry_after(const store *s)
{
    return s ? s->retry_after : -1;
}

/* The end of every call that reached the backend: counts its outcome for
 * /metrics (mediagate_storage_requests_total), returns st. */
static store_status counted(const store *s, store_status st)
{
    static const char *const labels[] = {
        [STORE_OK] = "ok",
        [STORE_NOT_FOUND] = "not_found",
        [STORE_PRECONDITION] = "precondition",
        [STORE_DENIED] = "denied",
        [STORE_NO_BUCKET] = "no_bucket",
        [STORE_TOO_LARGE] = "too_large",
        [STORE_RETRY] = "retry",
        [STORE_ERROR] = "error",
    };
    metrics_storage(s->b->name,
                    (unsigned)st < sizeof labels / sizeof *labels ? labels[st] : "error");
    return st;
}

/* The start of every call: clears the last failure, checks a key. */
static bool begin(store *s, const char *key)
{
    s->err[0] = '\0';
    s->retry_after = -1;
    if (key && !store_key_ok(key)) {
        store_fail(s, STORE_ERROR, "not a valid key");
        return false;
    }
    return true;
}

store_status store_put_file(store *s, const char *key, const char *path, const store_put_opts *o,
                            store_object *meta)
{
    return begin(s, key) ? counted(s, s->b->put_file(s, key, path, o, meta)) : STORE_ERROR;
}

store_status store_put_mem(store *s, const char *key, const void *buf, size_t len,
                           const store_put_opts *o, store_object *meta)
{
    return begin(s, key) ? counted(s, s->b->put_mem(s, key, buf, len, o, meta)) : STORE_ERROR;
}

store_status store_get_file(store *s, const char *key, const char *path, long long max_bytes,
                            const char *if_match, store_object *meta)
{
    if (!begin(s, key))
        return STORE_ERROR;
    return counted(s, s->b->get_file(s, key, path, max_bytes, if_match, meta));
}

store_status store_get_mem(store *s, const char *key, size_t cap, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    return begin(s, key) ? counted(s, s->b->get_mem(s, key, cap, buf, len)) : STORE_ERROR;
}

store_status store_head(store *s, const char *key, store_object *meta)
{
    return begin(s, key) ? counted(s, s->b->head(s, key, meta)) : STORE_ERROR;
}

store_status store_set_public(store *s, const char *key, bool public_read)
{
    if (!begin(s, key))
        return STORE_ERROR;
    return s->b->set_public ? counted(s, s->b->set_public(s, key, public_read)) : STORE_OK;
}

store_status store_delete(store *s, const char *key)
{
    return begin(s, key) ? counted(s, s->b->del(s, key)) : STORE_ERROR;
}

/* A prefix is a key that ends with / (the whole store's root is never one). */
static bool prefix_ok(store *s, const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (!begin(s, prefix))
        return false;
    if (prefix[n - 1] != '/') {
        store_fail(s, STORE_ERROR, "a prefix must end with /");
        return false;
    }
    return true;
}

store_status store_delete_prefix(store *s, const char *prefix)
{
    return prefix_ok(s, prefix) ? counted(s, s->b->del_prefix(s, prefix)) : STORE_ERROR;
}

store_status store_list(store *s, const char *prefix,
                        int (*fn)(void *arg, const char *key, const store_object *o), void *arg)
{
    return prefix_ok(s, prefix) ? counted(s, s->b->list(s, prefix, fn, arg)) : STORE_ERROR;
}

store_status store_multipart_create(store *s, const char *key, const store_put_opts *o,
                                    char *upload_id, size_t cap)
{
    return begin(s, key) ? counted(s, s->b->mp_create(s, key, o, upload_id, cap)) : STORE_ERROR;
}

store_status store_multipart_complete(store *s, const char *key, const char *upload_id,
                                      store_object *meta)
{
    return begin(s, key) ? counted(s, s->b->mp_complete(s, key, upload_id, 0, meta)) : STORE_ERROR;
}

store_status store_multipart_complete_parts(store *s, const char *key, const char *upload_id,
                                            int parts, store_object *meta)
{
    if (!begin(s, key))
        return STORE_ERROR;
    if (parts < 1)
        return store_fail(s, STORE_ERROR, "%s: no parts to complete with", key);
    return counted(s, s->b->mp_complete(s, key, upload_id, parts, meta));
}

store_status store_multipart_put_part(store *s, const char *key, const char *upload_id, int part,
                                      int fd, long long off, long long len, char *etag,
                                      size_t cap)
{
    if (!begin(s, key))
        return STORE_ERROR;
    if (part < 1 || part > 10000 || off < 0 || len < 0)
        return store_fail(s, STORE_ERROR, "%s: part %d: no such part or byte range", key, part);
    return counted(s, s->b->mp_put_part(s, key, upload_id, part, fd, off, len, etag, cap));
}

store_status store_multipart_abort(store *s, const char *key, const char *upload_id)
{
    return begin(s, key) ? counted(s, s->b->mp_abort(s, key, upload_id)) : STORE_ERROR;
}

int store_presign(const config *cfg, const store_presign_req *p, char *url, size_t cap)
{
    if (!store_is_s3(cfg) || !store_key_ok(p->key))
        return -1;
    return s3_presign(cfg, p, url, cap);
}

int store_public_url(const config *cfg, const char *key, char *url, size_t cap)
{
    if (!store_key_ok(key))
        return -1;
    if (store_is_s3(cfg))
        return s3_public_url(cfg, key, url, cap);
    /* Local: only outputs have a public URL, MEDIAGATE_MEDIA_URL's. */
    if (strncmp(key, "media/", 6) != 0)
        return -1;
    int n = snprintf(url, cap, "%s/%s", cfg->media_url ? cfg->media_url : "", key + 6);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int store_check(store *s, char *msg, size_t cap)
{
    begin(s, NULL);
    return s->b->check(s, msg, cap);
}
