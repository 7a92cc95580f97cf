/* tus uploads on local storage (app/uploads/tus.h). The bytes in flight
 * are MEDIAGATE_UPLOADS_DIR/<id>/.<name>.tus (a dot file: the upload
 * watcher passes it by), appended at the recorded offset and synced before
 * append returns; bytes past that offset (a chunk written but never
 * recorded: a crash, a database that did not answer) are cut off first.
 * finish renames the file to <id>/<name>, where a PUT's file lands. An
 * exclusive flock(2) on the file while a chunk is written keeps a second
 * writer out even if the database's lock was lost meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "uploads/tus.h"

#define COPY_BUF (1 << 16)

/* The upload's directory, partial file and final file. */
typedef struct local_paths {
    char dir[1024], part[1200], final[1200];
} local_paths;

static void paths_of(const config *cfg, const tus_upload *u, local_paths *p)
{
    snprintf(p->dir, sizeof p->dir, "%s/%s", cfg->uploads_dir, u->id);
    snprintf(p->part, sizeof p->part, "%s/.%s.tus", p->dir, u->name);
    snprintf(p->final, sizeof p->final, "%s/%s", p->dir, u->name);
}

/* The failure of the step what (errno): a full disk (ENOSPC, EDQUOT) is
 * STORE_NO_SPACE, anything else STORE_ERROR; store_err names the reason. */
static store_status failed(store *s, const char *what)
{
    int e = errno;
    return store_fail(s, e == ENOSPC || e == EDQUOT ? STORE_NO_SPACE : STORE_ERROR, "%s: %s", what,
                      strerror(e));
}

/* fsyncs directory dir, so that the entries made in it last. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ret = fsync(fd);
    close(fd);
    return ret;
}

static store_status begin(const config *cfg, store *s, tus_upload *u)
{
    local_paths p;
    paths_of(cfg, u, &p);
    if (mkdir(p.dir, 0750) != 0 && errno != EEXIST)
        return failed(s, "make the upload's directory");
    int fd = open(p.part, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 || fsync(fd) != 0) {
        store_status st = failed(s, "create the partial file");
        if (fd >= 0)
            close(fd);
        return st;
    }
    close(fd);
    if (sync_dir(p.dir) != 0 || sync_dir(cfg->uploads_dir) != 0)
        return failed(s, "sync the upload's directory");
    return STORE_OK;
}

/* Copies len bytes of src (from its start) to dst at offset at. Returns 0,
 * or -1 with errno. */
static int copy_at(int src, int dst, long long at, long long len)
{
    char buf[COPY_BUF];
    for (long long done = 0; done < len;) {
        size_t want = len - done < COPY_BUF ? (size_t)(len - done) : COPY_BUF;
        ssize_t n = pread(src, buf, want, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the spool is shorter than it said */
            return -1;
        }
        for (ssize_t w = 0; w < n;) {
            ssize_t k = pwrite(dst, buf + w, (size_t)(n - w), (off_t)(at + done + w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                if (k == 0)
                    errno = EIO;
                return -1;
            }
            w += k;
        }
        done += n;
    }
    return 0;
}

static store_status append(const config *cfg, store *s, tus_upload *u, int fd, long long len)
{
    store_status ret = STORE_ERROR;
    local_paths p;
    struct stat st;
    paths_of(cfg, u, &p);
    int out = open(p.part, O_WRONLY | O_CLOEXEC | (u->offset == 0 ? O_CREAT : 0), 0640);
    if (out < 0) {
        /* Gone (past offset 0, or its directory): the bytes recorded are
         * lost, and the upload cannot go on. */
        if (errno == ENOENT)
            return store_fail(s, STORE_NOT_FOUND, "the partial file is gone");
        return failed(s, "open the partial file");
    }
    if (flock(out, LOCK_EX | LOCK_NB) != 0) {
        ret = errno == EWOULDBLOCK ? STORE_PRECONDITION : failed(s, "lock the partial file");
        goto out;
    }
    if (fstat(out, &st) != 0) {
        ret = failed(s, "stat the partial file");
        goto out;
    }
    if (st.st_size < u->offset) { /* cut short (a restore, a clean-up): lost too */
        ret = store_fail(s, STORE_NOT_FOUND,
                         "the partial file holds %lld bytes, fewer than the %lld recorded",
                         (long long)st.st_size, u->offset);
        goto out;
    }
    /* Bytes past the offset were never recorded: cut, then write. */
    if ((st.st_size > u->offset && ftruncate(out, (off_t)u->offset) != 0) ||
        copy_at(fd, out, u->offset, len) != 0 || fdatasync(out) != 0) {
        ret = failed(s, "write the partial file"); /* disk full: 507, try later */
        /* Nothing of the chunk kept (a full disk frees its blocks). */
        if (ftruncate(out, (off_t)u->offset) != 0)
            log_error("tus %s: truncate %s: %s", u->id, p.part, strerror(errno));
        goto out;
    }
    if (u->offset == 0 && sync_dir(p.dir) != 0) {
        ret = failed(s, "sync the upload's directory");
        goto out;
    }
    u->offset += len;
    ret = STORE_OK;
out:
    close(out);
    return ret;
}

static store_status finish(const config *cfg, store *s, tus_upload *u, store_object *meta)
{
    (void)s;
    local_paths p;
    struct stat st;
    paths_of(cfg, u, &p);
    memset(meta, 0, sizeof *meta);
    if (renameat2(AT_FDCWD, p.part, AT_FDCWD, p.final, RENAME_NOREPLACE) != 0 && errno != ENOENT) {
        /* EEXIST: another file took the name (a PUT to the same slot). */
        log_error("tus %s: rename to %s: %s", u->id, p.final, strerror(errno));
        return errno == EEXIST ? STORE_PRECONDITION : STORE_ERROR;
    }
    /* ENOENT: renamed already (a finish repeated after a crash). */
    if (sync_dir(p.dir) != 0 || stat(p.final, &st) != 0) {
        log_error("tus %s: %s: %s", u->id, p.final, strerror(errno));
        return errno == ENOENT ? STORE_NOT_FOUND : STORE_ERROR;
    }
    if (st.st_size != u->length) {
        log_error("tus %s: %s holds %lld bytes, not %lld", u->id, p.final, (long long)st.st_size,
                  u->length);
        return STORE_ERROR;
    }
    meta->size = (long long)st.st_size;
    return STORE_OK;
}

static store_status discard(const config *cfg, store *s, const tus_upload *u)
{
    (void)s;
    local_paths p;
    paths_of(cfg, u, &p);
    store_status ret = STORE_OK;
    /* Only ever for an upload whose file was never stored: the final name
     * may hold a finished file whose spend never committed. */
    if ((unlink(p.part) != 0 && errno != ENOENT) || (unlink(p.final) != 0 && errno != ENOENT)) {
        log_error("tus %s: remove: %s", u->id, strerror(errno));
        ret = STORE_ERROR;
    }
    if (rmdir(p.dir) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
        log_error("tus %s: rmdir %s: %s", u->id, p.dir, strerror(errno));
        ret = STORE_ERROR;
    }
    return ret;
}

const tus_storage tus_storage_local = {
    .name = "local", .begin = begin, .append = append, .finish = finish, .discard = discard};
