/* Local storage: each key is a file under the directory its first segment
 * names (media/ MEDIAGATE_MEDIA_DIR, uploads/ MEDIAGATE_UPLOADS_DIR,
 * recordings/ MEDIAGATE_RECORDINGS_DIR, live/ MEDIAGATE_LIVE_DIR). Writes
 * go to a temporary file renamed into place, so a reader never sees half a
 * file. An object's ETag is its size and modification time. */
#include "config.h"
#include "storage/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory of each key's first segment. */
typedef struct local_root {
    const char *segment; /* with its / */
    size_t offset;       /* of the directory in struct config */
} local_root;

static const local_root roots[] = {
    {"media/", offsetof(config, media_dir)},
    {"uploads/", offsetof(config, uploads_dir)},
    {"recordings/", offsetof(config, recordings_dir)},
    {"live/", offsetof(config, live_dir)},
};

/* The file of key into path (PATH_MAX bytes). Returns 0, or -1 (err set)
 * for a key outside every configured directory. */
static int path_of(store *s, const char *key, char *path)
{
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        size_t n = strlen(roots[i].segment);
        const char *dir = *(char *const *)((const char *)s->cfg + roots[i].offset);
        if (strncmp(key, roots[i].segment, n) != 0)
            continue;
        if (!dir || !*dir)
            break;
        int k = snprintf(path, PATH_MAX, "%s/%s", dir, key + n);
        return k > 0 && k < PATH_MAX ? 0 : -1;
    }
    store_fail(s, STORE_ERROR, "%s: no local directory holds it", key);
    return -1;
}

static void etag_of(const struct stat *st, store_object *meta)
{
    meta->size = st->st_size;
    snprintf(meta->etag, sizeof meta->etag, "\"%llx-%llx%09ld\"", (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    snprintf(meta->content_type, sizeof meta->content_type, "application/octet-stream");
}

/* Makes every missing directory above the file at path. Returns 0 or -1. */
static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* Copies len bytes (or all, len < 0) from in to out. Returns the bytes
 * copied, or -1 on an I/O error or more than cap bytes. */
static long long copy_fd(int in, int out, long long cap)
{
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return total;
        if (total + r > cap)
            return -2;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            off += w;
        }
        total += r;
    }
}

/* Writes what fill puts into a temporary beside key's file, then moves it
 * into place (link() when if_none_match, so an existing key stays). */
static store_status write_via_temp(store *s, const char *key, const store_put_opts *o,
                                   int (*fill)(int fd, const void *arg), const void *arg,
                                   store_object *meta)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    store_status ret = STORE_ERROR;
    struct stat st;
    int fd = -1;
    if (path_of(s, key, path) != 0)
        return STORE_ERROR;
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    if (make_parents(tmp) != 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        tmp[0] = '\0';
        ret = store_fail(s, STORE_ERROR, "%s: cannot write: %s", key, strerror(errno));
        goto out;
    }
    if (fill(fd, arg) != 0 || fchmod(fd, 0644) != 0 || fstat(fd, &st) != 0 || close(fd) != 0) {
        fd = -1;
        ret = store_fail(s, STORE_ERROR, "%s: cannot write: %s", key, strerror(errno));
        goto out;
    }
    fd = -1;
    if (o && o->if_none_match) {
        if (link(tmp, path) != 0) {
            ret = errno == EEXIST
                      ? store_fail(s, STORE_PRECONDITION, "%s: exists", key)
                      : store_fail(s, STORE_ERROR, "%s: cannot write: %s", key, strerror(errno));
            goto out;
        }
    } else if (rename(tmp, path) != 0) {
        ret = store_fail(s, STORE_ERROR, "%s: cannot write: %s", key, strerror(errno));
        goto out;
    } else {
        tmp[0] = '\0';
    }
    if (meta)
        etag_of(&st, meta);
    ret = STORE_OK;
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    return ret;
}

typedef struct mem_src {
    const void *buf;
    size_t len;
} mem_src;

static int fill_mem(int fd, const void *arg)
{
    const mem_src *m = arg;
    for (size_t off = 0; off < m->len;) {
        ssize_t w = write(fd, (const char *)m->buf + off, m->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static int fill_file(int fd, const void *arg)
{
    int in = open(arg, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    long long n = copy_fd(in, fd, LLONG_MAX);
    close(in);
    return n < 0 ? -1 : 0;
}

static store_status local_put_file(store *s, const char *key, const char *path,
                                   const store_put_opts *o, store_object *meta)
{
    return write_via_temp(s, key, o, fill_file, path, meta);
}

static store_status local_put_mem(store *s, const char *key, const void *buf, size_t len,
                                  const store_put_opts *o, store_object *meta)
{
    mem_src m = {buf, len};
    return write_via_temp(s, key, o, fill_mem, &m, meta);
}

/* Opens key's file for reading; fills st. Returns the fd or -1 (err set). */
static int open_key(store *s, const char *key, struct stat *st, store_status *why)
{
    char path[PATH_MAX];
    *why = STORE_ERROR;
    if (path_of(s, key, path) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        *why = fd < 0 && errno != ENOENT ? STORE_ERROR : STORE_NOT_FOUND;
        store_fail(s, *why, "%s: %s", key,
                   *why == STORE_NOT_FOUND ? "no such key" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Like the s3 backend, a failure leaves no file at path. */
static store_status local_get_file(store *s, const char *key, const char *path, long long max_bytes,
                                   const char *if_match, store_object *meta)
{
    store_status ret;
    struct stat st;
    store_object m;
    int out = -1, in = open_key(s, key, &st, &ret);
    if (in < 0)
        goto out;
    etag_of(&st, &m);
    if (if_match && strcmp(if_match, m.etag) != 0) {
        ret = store_fail(s, STORE_PRECONDITION, "%s: changed since", key);
        goto out;
    }
    if (st.st_size > max_bytes) {
        ret = store_fail(s, STORE_TOO_LARGE, "%s: larger than %lld bytes", key, max_bytes);
        goto out;
    }
    out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    long long n = out < 0 ? -1 : copy_fd(in, out, max_bytes);
    if (n < 0) {
        ret = n == -2 ? store_fail(s, STORE_TOO_LARGE, "%s: larger than %lld bytes", key, max_bytes)
                      : store_fail(s, STORE_ERROR, "%s: cannot copy: %s", key, strerror(errno));
        goto out;
    }
    if (meta)
        *meta = m;
    ret = STORE_OK;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (ret != STORE_OK)
        unlink(path);
    return ret;
}

static store_status local_get_mem(store *s, const char *key, size_t cap, char **buf, size_t *len)
{
    store_status ret;
    struct stat st;
    int in = open_key(s, key, &st, &ret);
    if (in < 0)
        return ret;
    if ((unsigned long long)st.st_size > cap) {
        ret = store_fail(s, STORE_TOO_LARGE, "%s: larger than %zu bytes", key, cap);
        goto out;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(in, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (!b || got != (size_t)st.st_size) {
        free(b);
        ret = store_fail(s, STORE_ERROR, "%s: cannot read", key);
        goto out;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    ret = STORE_OK;
out:
    close(in);
    return ret;
}

static store_status local_head(store *s, const char *key, store_object *meta)
{
    store_status ret;
    struct stat st;
    int in = open_key(s, key, &st, &ret);
    if (in < 0)
        return ret;
    close(in);
    if (meta)
        etag_of(&st, meta);
    return STORE_OK;
}

static store_status local_del(store *s, const char *key)
{
    char path[PATH_MAX];
    if (path_of(s, key, path) != 0)
        return STORE_ERROR;
    if (unlink(path) != 0 && errno != ENOENT)
        return store_fail(s, STORE_ERROR, "%s: cannot delete: %s", key, strerror(errno));
    return STORE_OK;
}

/* The keys under a directory, gathered for sorting. */
typedef struct key_list {
    char **k;
    size_t n, cap;
} key_list;

/* Adds every regular file under dir (key names it) to l. Returns 0 or -1. */
static int gather(const char *dir, const char *key, key_list *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int ret = 0;
    struct dirent *e;
    while (ret == 0 && (e = readdir(d))) {
        char p[PATH_MAX], k[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        snprintf(k, sizeof k, "%s%s", key, e->d_name);
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            strcat(k, "/");
            ret = gather(p, k, l);
        } else if (S_ISREG(st.st_mode) && store_key_ok(k)) {
            if (l->n == l->cap) {
                char **m = realloc(l->k, (l->cap = l->cap ? 2 * l->cap : 64) * sizeof *m);
                if (!m) {
                    ret = -1;
                    break;
                }
                l->k = m;
            }
            if (!(l->k[l->n] = strdup(k)))
                ret = -1;
            else
                l->n++;
        }
    }
    closedir(d);
    return ret;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static store_status local_list(store *s, const char *prefix,
                               int (*fn)(void *arg, const char *key, const store_object *o),
                               void *arg)
{
    char dir[PATH_MAX], stem[PATH_MAX];
    key_list l = {0};
    store_status ret = STORE_ERROR;
    /* The directory holding prefix's last /; keys under it are filtered. */
    snprintf(stem, sizeof stem, "%s", prefix);
    *(strrchr(stem, '/') + 1) = '\0';
    if (path_of(s, stem, dir) != 0)
        goto out;
    if (gather(dir, stem, &l) != 0) {
        ret = store_fail(s, STORE_ERROR, "%s: cannot list", prefix);
        goto out;
    }
    if (l.n)
        qsort(l.k, l.n, sizeof *l.k, cmp_key);
    ret = STORE_OK;
    for (size_t i = 0; i < l.n; i++) {
        struct stat st;
        char p[PATH_MAX];
        store_object o = {0};
        if (strncmp(l.k[i], prefix, strlen(prefix)) != 0 || path_of(s, l.k[i], p) != 0 ||
            stat(p, &st) != 0)
            continue;
        etag_of(&st, &o);
        if (fn(arg, l.k[i], &o))
            break;
    }
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.k[i]);
    free(l.k);
    return ret;
}

/* Removes dir and every directory under it that holds nothing else. */
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[PATH_MAX];
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
            prune(p);
    }
    if (d)
        closedir(d);
    rmdir(dir); /* fails, and so keeps it, when something is left */
}

typedef struct local_deleting {
    store *s;
    store_status st;
} local_deleting;

static int delete_listed(void *arg, const char *key, const store_object *o)
{
    local_deleting *d = arg;
    d->st = local_del(d->s, key);
    return d->st != STORE_OK;
}

/* Deletes the files under prefix, then the directories they leave empty
 * (a job's directory goes with its outputs). */
static store_status local_del_prefix(store *s, const char *prefix)
{
    char dir[PATH_MAX];
    local_deleting d = {s, STORE_OK};
    store_status st = local_list(s, prefix, delete_listed, &d);
    if (st == STORE_OK)
        st = d.st;
    if (st == STORE_OK && path_of(s, prefix, dir) == 0)
        prune(dir);
    return st;
}

static store_status local_mp_create(store *s, const char *key, const store_put_opts *o,
                                    char *upload_id, size_t cap)
{
    return store_fail(s, STORE_ERROR, "multipart uploads need s3 storage");
}

static store_status local_mp_complete(store *s, const char *key, const char *upload_id, int parts,
                                      store_object *meta)
{
    return store_fail(s, STORE_ERROR, "multipart uploads need s3 storage");
}

static store_status local_mp_put_part(store *s, const char *key, const char *upload_id, int part,
                                      int fd, long long off, long long len, char *etag,
                                      size_t cap)
{
    return store_fail(s, STORE_ERROR, "multipart uploads need s3 storage");
}

static store_status local_mp_abort(store *s, const char *key, const char *upload_id)
{
    return STORE_OK;
}

/* Each configured directory exists and mediagate may write in it. */
static int local_check(store *s, char *msg, size_t cap)
{
    size_t n = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        const char *dir = *(char *const *)((const char *)s->cfg + roots[i].offset);
        if (dir && *dir && access(dir, W_OK | X_OK) != 0 && n < cap)
            n += (size_t)snprintf(msg + n, cap - n, "%s%s: cannot write in it: %s", n ? "\n" : "",
                                  dir, strerror(errno));
    }
    return n ? -1 : 0;
}

const store_backend store_local_backend = {
    .name = "local",
    .put_file = local_put_file,
    .put_mem = local_put_mem,
    .get_file = local_get_file,
    .get_mem = local_get_mem,
    .head = local_head,
    .del = local_del,
    .del_prefix = local_del_prefix,
    .list = local_list,
    .mp_create = local_mp_create,
    .mp_complete = local_mp_complete,
    .mp_abort = local_mp_abort,
    .check = local_check,
    .mp_put_part = local_mp_put_part,
};
