/* A stopped stream's recordings, found on disk (see recordings.h). */
#include "worker/recordings.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "log.h"

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

int stream_inputs(const config *cfg, const char *sid, bool segments, rec_files *out,
                  char *seglist, size_t seglist_cap, char *msg, size_t msgcap)
{
    rec_files seg = {0};
    char dir[PATH_MAX], url[PATH_MAX + 16];
    int ret = 0;
    seglist[0] = '\0';
    if (!sid || !uuid_valid(sid, strlen(sid))) {
        snprintf(msg, msgcap, "malformed task payload: stream_id");
        ret = 1;
        goto out;
    }
    if (*cfg->recordings_dir && scan_dir(cfg->recordings_dir, sid, "", "flv", out) != 0) {
        log_warn("stream %s: cannot read %s: %s", sid, cfg->recordings_dir, strerror(errno));
        snprintf(msg, msgcap, "cannot read the stream's recordings");
        ret = 3;
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/%s", cfg->live_dir, sid);
    if (segments && *cfg->live_dir && scan_dir(dir, "", ".ts", "mpegts", &seg) != 0) {
        log_warn("stream %s: cannot read %s: %s", sid, dir, strerror(errno));
        snprintf(msg, msgcap, "cannot read the stream's segments");
        ret = 3;
        goto out;
    }
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
