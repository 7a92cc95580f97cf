/* The upload watcher: each finished file in MEDIAGATE_UPLOADS_DIR becomes
 * a local job, once, whichever worker sees it first. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "log.h"
#include "worker/worker.h"
#include "worker/wsql.h"

/* An upload that finished landing: a job with input_file "uploads/<name>",
 * once per (path, size, mtime). Returns -1 when the database failed. */
static int submit_upload(db *d, const char *dir, const char *name)
{
    char path[PATH_MAX + 256], key[PATH_MAX + 300], id[UUID_BUF], public_name[300];
    struct stat st;
    if (name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return 0;
    snprintf(key, sizeof key, "upload:%s:%lld:%lld", path, (long long)st.st_size,
             (long long)st.st_mtime);
    /* Clients know the name they uploaded, not our directory. */
    snprintf(public_name, sizeof public_name, "uploads/%.280s", name);
    int r = worker_submit_job(d, path, public_name, key, id);
    if (r == 1)
        log_info("upload %s: job %s", path, id);
    return r < 0 ? -1 : 0;
}

/* Submits every file in the directory (what landed while no one watched).
 * Returns -1 when the database failed. */
static int scan(db *d, const char *dir)
{
    int ret = 0;
    DIR *dd = opendir(dir);
    for (struct dirent *de; dd && (de = readdir(dd));)
        if (submit_upload(d, dir, de->d_name) < 0)
            ret = -1;
    if (dd)
        closedir(dd);
    return ret;
}

/* Watches with inotify (no polling): nginx's dav module renames a finished
 * PUT into place (IN_MOVED_TO); a copy ends with IN_CLOSE_WRITE. The
 * directory is made when it is missing, waited for when it cannot be, and
 * watched again (and scanned) whenever it is removed or moved and comes
 * back. After a database failure it scans again, so nothing that landed
 * meanwhile is missed. */
void *watch_main(void *arg)
{
    watch_arg *wa = arg;
    const config *cfg = wa->cfg;
    const char *dir = cfg->uploads_dir;
    db d;
    wsql_init(&d, cfg);
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), wd = -1;
    if (fd < 0) {
        log_error("cannot watch %s: %s", dir, strerror(errno));
        db_close(&d);
        return NULL;
    }
    bool scanned = false, waiting = false;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (!atomic_load(wa->stopping)) {
        if (wd < 0) {
            mkdir(dir, 0750);
            wd = inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF |
                                                IN_MOVE_SELF | IN_ONLYDIR);
            if (wd < 0) {
                if (!waiting)
                    log_warn("cannot watch %s yet (%s); waiting for it", dir, strerror(errno));
                waiting = true;
                usleep(500000);
                continue;
            }
            if (waiting)
                log_info("watching %s", dir);
            waiting = false;
            scanned = false;
        }
        if (!scanned) {
            scanned = scan(&d, dir) == 0;
            if (!scanned) {
                usleep(500000);
                continue;
            }
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 500) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        for (char *q = buf; n > 0 && q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                if (wd >= 0 && !(ev->mask & IN_IGNORED))
                    inotify_rm_watch(fd, wd);
                if (wd >= 0)
                    log_warn("%s was removed or moved; waiting for it again", dir);
                wd = -1;
                waiting = true;
            } else if (ev->len && submit_upload(&d, dir, ev->name) < 0) {
                scanned = false;
            }
            q += sizeof *ev + ev->len;
        }
    }
    close(fd);
    db_close(&d);
    return NULL;
}
