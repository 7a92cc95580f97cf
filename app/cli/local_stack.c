/* The local stack's database for commands run by hand: scripts/up writes
 * <checkout>/var/env (export MEDIAGATE_DATABASE_URL='...'), and a command
 * run from that checkout's build finds it there when nothing else gives the
 * URL. Only a file nobody else could have written is read: the file and
 * every directory above it belong to root or to the caller, none of them is
 * writable by group or others (a sticky directory such as /tmp excepted,
 * whose entries only their owners may replace), and none is a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static void say(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* True when st belongs to root or the caller and, unless it is a sticky
 * directory, nobody else may write it; else says why in why. */
static bool owned_safely(const char *path, const struct stat *st, char *why, size_t cap)
{
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        say(why, cap, "%s belongs to uid %u, neither root nor you", path, (unsigned)st->st_uid);
        return false;
    }
    if ((st->st_mode & 022) && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
        say(why, cap, "%s is writable by %s", path, (st->st_mode & 002) ? "everyone" : "its group");
        return false;
    }
    return true;
}

/* Checks every directory from / down to dir (an absolute path without
 * symlinks, as realpath gives it). */
static bool dirs_safe(const char *dir, char *why, size_t cap)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (n >= sizeof p)
        return false;
    struct stat st;
    if (lstat("/", &st) != 0 || !owned_safely("/", &st, why, cap))
        return false;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && dir[i] != '/')
            continue;
        memcpy(p, dir, i);
        p[i] = '\0';
        if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            say(why, cap, "%s is not a directory", p);
            return false;
        }
        if (!owned_safely(p, &st, why, cap))
            return false;
    }
    return true;
}

/* The value of "export MEDIAGATE_DATABASE_URL='...'" in buf, malloc'd, or
 * NULL. The value is single-quoted and holds no quote. */
static char *url_in(const char *buf)
{
    static const char key[] = "export MEDIAGATE_DATABASE_URL='";
    for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, sizeof key - 1) != 0)
            continue;
        const char *v = l + sizeof key - 1, *q = strchr(v, '\'');
        const char *nl = strchr(v, '\n');
        if (!q || (nl && nl < q) || q == v)
            return NULL;
        return strndup(v, (size_t)(q - v));
    }
    return NULL;
}

char *cli_local_stack_url(const char *exe, char *path, size_t path_cap, char *why, size_t why_cap)
{
    char real[PATH_MAX], buf[4096];
    char *url = NULL;
    int fd = -1;
    why[0] = '\0';
    path[0] = '\0';
    if (!exe || !realpath(exe, real))
        return NULL;
    /* <checkout>/<build dir>/mediagate: the checkout is two levels up. */
    for (int up = 0; up < 2; up++) {
        char *s = strrchr(real, '/');
        if (!s || s == real)
            return NULL;
        *s = '\0';
    }
    if ((size_t)snprintf(path, path_cap, "%s/var/env", real) >= path_cap)
        return NULL;
    struct stat st, fst;
    if (lstat(path, &st) != 0)
        return NULL; /* no local stack here: nothing to say */
    if (strlen(real) + sizeof "/var" > sizeof real)
        return NULL;
    strcat(real, "/var");
    if (!dirs_safe(real, why, why_cap))
        goto out;
    if (!S_ISREG(st.st_mode)) {
        say(why, why_cap, "%s is not a regular file", path);
        goto out;
    }
    if (!owned_safely(path, &st, why, why_cap))
        goto out;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &fst) != 0 || fst.st_ino != st.st_ino || fst.st_dev != st.st_dev) {
        say(why, why_cap, "%s could not be read: %s", path,
            fd < 0 ? strerror(errno) : "it changed");
        goto out;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0) {
        say(why, why_cap, "%s is empty or unreadable", path);
        goto out;
    }
    buf[n] = '\0';
    url = url_in(buf);
    if (!url)
        say(why, why_cap, "%s names no MEDIAGATE_DATABASE_URL", path);
out:
    if (fd >= 0)
        close(fd);
    return url;
}
