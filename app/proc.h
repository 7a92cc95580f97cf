#ifndef MEDIAGATE_PROC_H
#define MEDIAGATE_PROC_H
#include <stdbool.h>
#include <stddef.h>

/* Child processes the worker owns: pipes with O_CLOEXEC, a default signal
 * mask and dispositions, their own process group, SIGKILL when the thread
 * that started them dies (also kill -9 of the worker), and the group killed
 * on every way out of proc_run. */

enum {
    PROC_NOSTART = -1,   /* could not start (last_err says why) */
    PROC_TIMEOUT = -2,   /* ran past timeout_s, killed */
    PROC_STALLED = -3,   /* no progress for stall_s, killed */
    PROC_CANCELED = -4,  /* on_tick asked to stop, killed */
    PROC_TOOLONG = -5,   /* stdout went past out_cap, killed */
};

typedef struct proc_opts {
    double timeout_s;    /* hard cap; 0: none */
    double stall_s;      /* kill when on_line reported no progress this long; 0: none */
    size_t out_cap;      /* collect stdout up to this many bytes; 0: do not collect */
    int nice;            /* CPU niceness of the child */
    long long as_bytes;  /* RLIMIT_AS of the child (address space); 0: none */
    long cpu_s;          /* RLIMIT_CPU of the child: SIGXCPU past it, SIGKILL 5 s on; 0: none */
    /* Each stdout line (without its newline) when set; return 1 when the
     * line shows progress (resets the stall clock). */
    int (*on_line)(void *arg, const char *line);
    /* About once a second while the child runs; return non-zero to stop it. */
    int (*on_tick)(void *arg);
    void *arg;
} proc_opts;

typedef struct proc_result {
    int status;          /* exit status, 128 + signal, or a PROC_* value */
    char *out;           /* collected stdout, NUL-terminated (malloc'd; proc_result_free) */
    size_t out_len;
    char last_err[512];  /* the last non-empty stderr line */
    char err_head[1024]; /* the first stderr lines, as much as fits */
    double cpu_s;        /* CPU seconds (user + system) the child used, once waited for */
} proc_result;

/* Runs argv[0] (looked up in PATH) with stdin from /dev/null under opts.
 * Returns r->status; r must be freed with proc_result_free. */
int proc_run(char *const argv[], const proc_opts *opts, proc_result *r);
void proc_result_free(proc_result *r);

/* Monotonic seconds. */
double proc_now(void);

#endif
