/* tus uploads on s3 storage (app/uploads/tus.h): from its creation on, a
 * tus upload is a multipart upload of its key. A chunk, after the bytes
 * kept from the chunks before it (the tail), is cut into parts of the
 * storage's part size; the rest, when it is less than the least part S3
 * takes and not the end of the file, becomes the new tail: an object
 * tus/<id>/tail-<the offset it ends at>, read back by the next chunk (on
 * whichever app host takes it). Parts may differ in size (each at least
 * the least part but the last); the state says how many there are
 * (tus_parts) and the multipart upload holds them.
 *
 * Crash safety: append writes parts and a tail before the handler records
 * the new state, and nothing the recorded state names changes meanwhile:
 * its parts 1..parts stay, a part numbered above them is written again by
 * the next append from the recorded offset (the client resends the same
 * bytes), a new tail is a new key and the recorded tail is removed only
 * once a later call finds the state past it. finish completes with parts
 * 1..parts only, so a part an unrecorded append left above them never
 * counts. One call at a time for an upload (the handler's lock): two
 * appends at once would write the same part numbers. */
#include "uploads/tus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_PART (5LL << 20)     /* S3's least part (but the last) */
#define MAX_PARTS 10000          /* S3's most parts */
#define MAX_PART (5LL << 30)     /* S3's largest part */
#define STALE_MAX 64             /* stale tails removed by one call */

/* The least part of u: S3's, or larger when 9999 of them (and the last,
 * the rest) would not hold the file. */
static long long least_part(const tus_upload *u)
{
    long long m = (u->length + MAX_PARTS - 2) / (MAX_PARTS - 1);
    return m > MIN_PART ? m : MIN_PART;
}

/* What a chunk is cut into: the storage's part size, at least the least. */
static long long part_size(const config *cfg, const tus_upload *u)
{
    long long m = least_part(u);
    return cfg->storage_part_bytes > m ? cfg->storage_part_bytes : m;
}

static void prefix_of(const tus_upload *u, char *buf, size_t cap)
{
    snprintf(buf, cap, "tus/%s/", u->id);
}

/* A local file the bytes of a piece are put together in (TMPDIR). */
typedef struct spool {
    char path[4200];
    int fd; /* -1: none */
} spool;

/* Creates sp's file, empty. */
static store_status spool_open(store *s, spool *sp)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(sp->path, sizeof sp->path, "%s/mediagate-tus.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if ((sp->fd = mkstemp(sp->path)) < 0) {
        sp->path[0] = '\0';
        return store_fail(s, STORE_ERROR, "a temporary file: %s", strerror(errno));
    }
    return STORE_OK;
}

static void spool_close(spool *sp)
{
    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->path[0])
        unlink(sp->path);
    sp->fd = -1;
    sp->path[0] = '\0';
}

/* Appends n bytes of fd from off to sp's file. */
static store_status spool_add(store *s, spool *sp, int fd, long long off, long long n)
{
    char buf[65536];
    while (n > 0) {
        ssize_t got = pread(fd, buf, n < (long long)sizeof buf ? (size_t)n : sizeof buf, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return store_fail(s, STORE_ERROR, "the chunk: %s", got ? strerror(errno) : "short");
        for (ssize_t w = 0; w < got;) {
            ssize_t k = write(sp->fd, buf + w, (size_t)(got - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return store_fail(s, STORE_ERROR, "a temporary file: %s", strerror(errno));
            w += k;
        }
        off += got;
        n -= got;
    }
    return STORE_OK;
}

/* Reads u's tail into sp's file (created): exactly u->tail_bytes bytes. */
static store_status spool_tail(store *s, const tus_upload *u, spool *sp)
{
    store_object m = {0};
    store_status st = spool_open(s, sp);
    if (st != STORE_OK)
        return st;
    close(sp->fd);
    sp->fd = -1;
    /* store_get_file makes the file anew (and removes it on a failure). */
    st = store_get_file(s, u->tail_key, sp->path, u->tail_bytes, NULL, &m);
    if (st != STORE_OK)
        return st;
    if ((sp->fd = open(sp->path, O_RDWR | O_APPEND | O_CLOEXEC)) < 0)
        return store_fail(s, STORE_ERROR, "a temporary file: %s", strerror(errno));
    if (m.size != u->tail_bytes)
        return store_fail(s, STORE_ERROR, "%s: %lld bytes, %lld recorded", u->tail_key, m.size,
                          u->tail_bytes);
    return STORE_OK;
}

/* Tails of u that the state is past: every tail key ending at or before
 * the recorded offset but the recorded tail. */
typedef struct stale {
    const tus_upload *u;
    size_t plen;
    char keys[STALE_MAX][300];
    int n;
} stale;

static int stale_one(void *arg, const char *key, const store_object *o)
{
    stale *t = arg;
    char *end;
    const char *num = key + t->plen + 5;
    (void)o;
    if (strncmp(key + t->plen, "tail-", 5) != 0 || strcmp(key, t->u->tail_key) == 0)
        return 0;
    long long at = strtoll(num, &end, 10);
    if (end != num && !*end && at <= t->u->offset && strlen(key) < sizeof t->keys[0])
        snprintf(t->keys[t->n++], sizeof t->keys[0], "%s", key);
    return t->n >= STALE_MAX;
}

/* Removes u's stale tails, as far as the store lets it: a tail left is
 * removed by a later call, or with the upload. */
static void remove_stale(store *s, const tus_upload *u)
{
    char prefix[64];
    stale *t = calloc(1, sizeof *t);
    if (!t)
        return;
    prefix_of(u, prefix, sizeof prefix);
    t->u = u;
    t->plen = strlen(prefix);
    if (store_list(s, prefix, stale_one, t) == STORE_OK)
        for (int i = 0; i < t->n; i++)
            store_delete(s, t->keys[i]);
    free(t);
}

/* A slot made with size= above the part size has a multipart upload for
 * presigned parts already: tus replaces it (aborted, a new one begun). */
static store_status begin(const config *cfg, store *s, tus_upload *u)
{
    store_status st;
    (void)cfg;
    u->parts = 0;
    u->tail_key[0] = '\0';
    u->tail_bytes = 0;
    if (u->length > MAX_PARTS * MAX_PART)
        return store_fail(s, STORE_TOO_LARGE, "%s: larger than S3's largest object", u->key);
    if (u->multipart_id[0] &&
        (st = store_multipart_abort(s, u->key, u->multipart_id)) != STORE_OK)
        return st;
    return store_multipart_create(s, u->key, NULL, u->multipart_id, sizeof u->multipart_id);
}

/* The tail and the chunk, cut into pieces of the part size: each a part,
 * but the last when it is short of the least part and does not end the
 * file: that one is the new tail. */
static store_status append(const config *cfg, store *s, tus_upload *u, int fd, long long len)
{
    const long long least = least_part(u), size = part_size(cfg, u), end = u->offset + len;
    spool sp = {.fd = -1};
    char etag[80], tail[300] = "";
    int parts = u->parts;
    long long from = 0, tail_bytes = 0;
    store_status st = STORE_OK;
    if (len <= 0)
        return STORE_OK;
    if (u->tail_bytes > 0) {
        /* The tail and the chunk's first bytes, a part's worth at most. */
        long long take = len < size - u->tail_bytes ? len : size - u->tail_bytes;
        if ((st = spool_tail(s, u, &sp)) != STORE_OK ||
            (st = spool_add(s, &sp, fd, 0, take)) != STORE_OK)
            goto out;
        from = take;
        long long n = u->tail_bytes + take;
        if (n >= least || (from == len && end == u->length))
            st = store_multipart_put_part(s, u->key, u->multipart_id, ++parts, sp.fd, 0, n, etag,
                                          sizeof etag);
        else
            tail_bytes = n; /* the whole chunk, still short of a part */
    }
    while (st == STORE_OK && from < len) {
        long long n = len - from < size ? len - from : size;
        if (n >= least || end == u->length) {
            st = store_multipart_put_part(s, u->key, u->multipart_id, ++parts, fd, from, n, etag,
                                          sizeof etag);
        } else {
            spool_close(&sp);
            if ((st = spool_open(s, &sp)) == STORE_OK)
                st = spool_add(s, &sp, fd, from, n);
            tail_bytes = n;
        }
        from += n;
    }
    if (st != STORE_OK)
        goto out;
    if (tail_bytes > 0) {
        snprintf(tail, sizeof tail, "tus/%s/tail-%lld", u->id, end);
        if ((st = store_put_file(s, tail, sp.path, NULL, NULL)) != STORE_OK)
            goto out;
    }
    remove_stale(s, u);
    u->parts = parts;
    snprintf(u->tail_key, sizeof u->tail_key, "%s", tail);
    u->tail_bytes = tail_bytes;
    u->offset = end;
out:
    spool_close(&sp);
    return st;
}

/* Whether a finish completed u before (its answer, or the state, lost):
 * the key holds the whole file. */
static store_status finished_before(store *s, const tus_upload *u, store_status st,
                                    store_object *meta)
{
    char why[256];
    snprintf(why, sizeof why, "%s", store_err(s));
    if (store_head(s, u->key, meta) == STORE_OK && meta->size == u->length)
        return STORE_OK;
    store_fail(s, st, "%s", why);
    return st;
}

static store_status finish(const config *cfg, store *s, tus_upload *u, store_object *meta)
{
    spool sp = {.fd = -1};
    char etag[80], prefix[64];
    int parts = u->parts;
    store_status st = STORE_OK;
    (void)cfg;
    if (u->tail_bytes > 0) {
        /* The tail is the last part. */
        if ((st = spool_tail(s, u, &sp)) == STORE_OK)
            st = store_multipart_put_part(s, u->key, u->multipart_id, ++parts, sp.fd, 0,
                                          u->tail_bytes, etag, sizeof etag);
    }
    if (st == STORE_OK)
        st = store_multipart_complete_parts(s, u->key, u->multipart_id, parts, meta);
    if (st == STORE_NOT_FOUND) /* the tail or the multipart upload gone */
        st = finished_before(s, u, st, meta);
    if (st != STORE_OK)
        goto out;
    prefix_of(u, prefix, sizeof prefix);
    store_delete_prefix(s, prefix); /* a tail left is the lifecycle rule's */
    u->parts = parts;
    u->tail_key[0] = '\0';
    u->tail_bytes = 0;
out:
    spool_close(&sp);
    return st;
}

static store_status discard(const config *cfg, store *s, const tus_upload *u)
{
    char prefix[64];
    store_status st = STORE_OK, one;
    (void)cfg;
    prefix_of(u, prefix, sizeof prefix);
    if (u->multipart_id[0] && (one = store_multipart_abort(s, u->key, u->multipart_id)) != STORE_OK)
        st = one;
    if ((one = store_delete_prefix(s, prefix)) != STORE_OK)
        st = st == STORE_OK ? one : st;
    /* A finish that completed the file but was not recorded. */
    if ((one = store_delete(s, u->key)) != STORE_OK)
        st = st == STORE_OK ? one : st;
    return st;
}

const tus_storage tus_storage_s3 = {
    .name = "s3", .begin = begin, .append = append, .finish = finish, .discard = discard};
