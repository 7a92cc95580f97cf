/* Owned child processes (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

double proc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void proc_result_free(proc_result *r)
{
    free(r->out);
    r->out = NULL;
    r->out_len = 0;
}

/* Finds name in PATH (or takes it as is when it has a slash). Returns 0
 * with path filled, -1 when there is no executable of that name. */
static int resolve(const char *name, char *path, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(path, cap, "%s", name);
        return access(path, X_OK) == 0 ? 0 : -1;
    }
    const char *p = getenv("PATH");
    if (!p || !*p)
        p = "/usr/local/bin:/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0 && (size_t)snprintf(path, cap, "%.*s/%s", (int)n, p, name) < cap &&
            access(path, X_OK) == 0)
            return 0;
        p += n + (p[n] == ':');
    }
    return -1;
}

/* Sets resource limit res to soft/hard, each no higher than the current
 * hard limit (async-signal-safe: system calls only). */
static void lower_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit cur;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        soft = soft < cur.rlim_max ? soft : cur.rlim_max;
        hard = hard < cur.rlim_max ? hard : cur.rlim_max;
    }
    struct rlimit l = {soft, hard};
    setrlimit(res, &l);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(const char *path, char *const argv[], int out_w, int err_w, const proc_opts *o,
                  pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* SIGKILL/SIGSTOP and glibc's own refuse: fine */
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    /* Dies with the thread that started it, whatever kills that. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (o->nice > 0)
        setpriority(PRIO_PROCESS, 0, o->nice);
    /* The limits hold for the program exec'd below, whatever its input
     * makes it do: allocations fail past as_bytes, SIGXCPU past cpu_s
     * (SIGKILL 5 s later). Never above a hard limit we were given. */
    if (o->as_bytes > 0)
        lower_limit(RLIMIT_AS, (rlim_t)o->as_bytes, (rlim_t)o->as_bytes);
    if (o->cpu_s > 0)
        lower_limit(RLIMIT_CPU, (rlim_t)o->cpu_s, (rlim_t)o->cpu_s + 5);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        _exit(127);
    /* Only stdin, stdout and stderr: also no descriptor some library
     * opened without O_CLOEXEC. */
    close_range(3, ~0U, 0);
    execve(path, argv, environ);
    _exit(127);
}

/* Feeds n new bytes of stdout (i == 0) or stderr (i == 1) into the line
 * buffers. Returns 1 when a stdout line showed progress. */
static int take_lines(char *buf, size_t *len, bool is_err, const proc_opts *o, proc_result *r)
{
    int progressed = 0;
    char *nl;
    while ((nl = memchr(buf, '\n', *len))) {
        *nl = '\0';
        if (nl > buf && nl[-1] == '\r')
            nl[-1] = '\0';
        if (is_err) {
            if (buf[0]) {
                snprintf(r->last_err, sizeof r->last_err, "%.500s", buf);
                size_t h = strlen(r->err_head);
                if (h + 2 < sizeof r->err_head)
                    snprintf(r->err_head + h, sizeof r->err_head - h, "%.500s\n", buf);
            }
        } else if (o->on_line && o->on_line(o->arg, buf) > 0) {
            progressed = 1;
        }
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, *len - used);
        *len -= used;
    }
    if (*len >= 4000) /* one over-long line: keep its tail for last_err only */
        *len = 0;
    return progressed;
}

/* Appends n bytes to r->out under the cap. Returns -1 past it. */
static int collect(proc_result *r, const char *b, size_t n, size_t cap, size_t *alloc)
{
    if (r->out_len + n > cap)
        return -1;
    if (r->out_len + n + 1 > *alloc) {
        size_t a = *alloc ? *alloc : 16384;
        while (a < r->out_len + n + 1)
            a *= 2;
        char *p = realloc(r->out, a);
        if (!p)
            return -1;
        r->out = p;
        *alloc = a;
    }
    memcpy(r->out + r->out_len, b, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
    return 0;
}

int proc_run(char *const argv[], const proc_opts *o, proc_result *r)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, status = 0, ret = PROC_NOSTART;
    char path[PATH_MAX];
    pid_t pid = -1;
    memset(r, 0, sizeof *r);
    if (resolve(argv[0], path, sizeof path) != 0) {
        snprintf(r->last_err, sizeof r->last_err, "cannot run %s: not found", argv[0]);
        goto out;
    }
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        snprintf(r->last_err, sizeof r->last_err, "cannot run %s: %s", argv[0], strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
        snprintf(r->last_err, sizeof r->last_err, "cannot run %s: %s", argv[0], strerror(errno));
        goto out;
    }
    if (pid == 0)
        child(path, argv, out[1], err[1], o, parent);
    setpgid(pid, pid); /* also here, so that killing the group never races the child */
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;

    char lbuf[2][4096];
    size_t llen[2] = {0, 0}, alloc = 0;
    double start = proc_now(), last_progress = start, last_tick = 0;
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2, stop = 0;
    while (open_fds > 0) {
        double now = proc_now();
        if (o->timeout_s > 0 && now - start > o->timeout_s)
            stop = PROC_TIMEOUT;
        else if (o->stall_s > 0 && now - last_progress > o->stall_s)
            stop = PROC_STALLED;
        else if (o->on_tick && now - last_tick >= 1.0) {
            last_tick = now;
            if (o->on_tick(o->arg))
                stop = PROC_CANCELED;
        }
        if (stop)
            break;
        int pr = poll(p, 2, 250);
        if (pr < 0 && errno != EINTR)
            break;
        for (int i = 0; pr > 0 && i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, lbuf[i] + llen[i], sizeof lbuf[i] - llen[i]);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0 && o->out_cap &&
                collect(r, lbuf[i] + llen[i], (size_t)n, o->out_cap, &alloc) != 0) {
                stop = PROC_TOOLONG;
                break;
            }
            llen[i] += (size_t)n;
            if (take_lines(lbuf[i], &llen[i], i == 1, o, r))
                last_progress = proc_now();
        }
        if (stop)
            break;
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    out[0] = err[0] = -1;
    /* Both pipes closed: the child is exiting (or closed them and lives on,
     * so the limits still hold while it is waited for). */
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (!stop) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        double now = proc_now();
        if (o->timeout_s > 0 && now - start > o->timeout_s)
            stop = PROC_TIMEOUT;
        else if (o->on_tick && now - last_tick >= 1.0 && (last_tick = now, o->on_tick(o->arg)))
            stop = PROC_CANCELED;
        if (!stop)
            usleep(20000);
    }
    if (stop) {
        kill(-pid, SIGKILL);
        while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
            ;
    }
    kill(-pid, SIGKILL); /* anything the child left in its group */
    r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (stop)
        ret = stop;
    else
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (!stop && WIFEXITED(status) && WEXITSTATUS(status) == 127 && !r->last_err[0])
        snprintf(r->last_err, sizeof r->last_err, "cannot run %s", argv[0]);
out:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    r->status = ret;
    return ret;
}
