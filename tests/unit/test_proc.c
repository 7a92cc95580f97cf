/* Owned child processes, with real children: exit status and output,
 * bounded output, the time limit, stall detection, cancel, a clean signal
 * mask, their own process group, and no pipe leaking into a sibling. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "check.h"
#include "proc.h"

static int line_progress(void *arg, const char *line)
{
    (void)line;
    return *(int *)arg;
}

static int cancel_at_once(void *arg)
{
    (void)arg;
    return 1;
}

static int run_sh(const char *script, const proc_opts *o, proc_result *r)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    return proc_run(argv, o, r);
}

typedef struct job {
    const char *script;
    double took;
    int status;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    proc_opts o = {.timeout_s = 20};
    proc_result r;
    double t0 = proc_now();
    j->status = run_sh(j->script, &o, &r);
    j->took = proc_now() - t0;
    proc_result_free(&r);
    return NULL;
}

int main(void)
{
    proc_result r;
    proc_opts o = {.timeout_s = 10, .out_cap = 1 << 20};

    CHECK_INT(run_sh("echo out; echo first >&2; echo last >&2; exit 3", &o, &r), 3);
    CHECK_STR(r.out, "out\n");
    CHECK_STR(r.last_err, "last");
    CHECK_STR(r.err_head, "first\nlast\n");
    proc_result_free(&r);

    char *missing[] = {"mediagate-no-such-program", NULL};
    CHECK_INT(proc_run(missing, &o, &r), PROC_NOSTART);
    CHECK_HAS(r.last_err, "not found");
    proc_result_free(&r);

    /* output of any realistic size is read whole; past the cap is its own error */
    CHECK_INT(run_sh("head -c 300000 /dev/zero | tr '\\0' x", &o, &r), 0);
    CHECK_INT(r.out_len, 300000);
    proc_result_free(&r);
    proc_opts small = {.timeout_s = 10, .out_cap = 1000};
    CHECK_INT(run_sh("head -c 100000 /dev/zero; sleep 5", &small, &r), PROC_TOOLONG);
    proc_result_free(&r);

    /* the time limit */
    proc_opts quick = {.timeout_s = 0.5};
    double t0 = proc_now();
    CHECK_INT(run_sh("sleep 5", &quick, &r), PROC_TIMEOUT);
    CHECK(proc_now() - t0 < 2);
    proc_result_free(&r);
    /* also for a child that closed its pipes and lives on */
    t0 = proc_now();
    CHECK_INT(run_sh("exec >/dev/null 2>&1; sleep 5", &quick, &r), PROC_TIMEOUT);
    CHECK(proc_now() - t0 < 2);
    proc_result_free(&r);

    /* stall: lines that show no progress do not keep it alive */
    int no = 0, yes = 1;
    proc_opts stall = {.timeout_s = 3, .stall_s = 0.7, .on_line = line_progress, .arg = &no};
    t0 = proc_now();
    CHECK_INT(run_sh("while :; do echo tick; sleep 0.1; done", &stall, &r), PROC_STALLED);
    CHECK(proc_now() - t0 < 2);
    proc_result_free(&r);
    stall.arg = &yes;
    CHECK_INT(run_sh("while :; do echo tick; sleep 0.1; done", &stall, &r), PROC_TIMEOUT);
    proc_result_free(&r);
    /* silence is a stall too */
    stall.arg = &yes;
    CHECK_INT(run_sh("sleep 5", &stall, &r), PROC_STALLED);
    proc_result_free(&r);

    /* cancel */
    proc_opts cancel = {.timeout_s = 10, .on_tick = cancel_at_once};
    t0 = proc_now();
    CHECK_INT(run_sh("sleep 5", &cancel, &r), PROC_CANCELED);
    CHECK(proc_now() - t0 < 2);
    proc_result_free(&r);

    /* a clean signal mask: the worker blocks SIGTERM, its children must not */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    CHECK_INT(run_sh("kill -TERM $$; sleep 3; exit 0", &o, &r), 128 + SIGTERM);
    proc_result_free(&r);
    /* default dispositions: SIGPIPE ignored here is not ignored there */
    CHECK_INT(run_sh("grep -q 'SigIgn:.*0000000000000000' /proc/$$/status", &o, &r), 0);
    proc_result_free(&r);
    /* its own process group */
    CHECK_INT(run_sh("read a b c d pgrp rest < /proc/$$/stat; test \"$pgrp\" = \"$$\"", &o, &r), 0);
    proc_result_free(&r);
    /* nothing of ours leaks into it: only stdin, stdout and stderr */
    CHECK_INT(run_sh("exec ls /proc/self/fd", &o, &r), 0);
    CHECK_STR(r.out, "0\n1\n2\n3\n"); /* 3: ls's own listing of the directory */
    proc_result_free(&r);

    /* the limits of the child: its address space, and its CPU time (a busy
     * loop gets SIGXCPU, and the CPU it used is reported) */
    proc_opts lim = {.timeout_s = 60, .out_cap = 4096, .as_bytes = 512LL << 20, .cpu_s = 1};
    CHECK_INT(run_sh("ulimit -v; ulimit -H -v; ulimit -t", &lim, &r), 0);
    CHECK_STR(r.out, "524288\n524288\n1\n");
    proc_result_free(&r);
    CHECK_INT(run_sh("while :; do :; done", &lim, &r), 128 + SIGXCPU);
    /* (the user and system times the kernel reports fall short of the
     * limit by up to a fifth here) */
    CHECK(r.cpu_s >= 0.5 && r.cpu_s < 10);
    proc_result_free(&r);
    proc_opts nolim = {.timeout_s = 10, .out_cap = 4096};
    CHECK_INT(run_sh("ulimit -v", &nolim, &r), 0);
    CHECK_STR(r.out, "unlimited\n");
    proc_result_free(&r);

    /* a short child beside a long one ends when it ends (no sibling holds
     * its pipes), in either order of starting */
    job longj = {"sleep 3", 0, 0}, shortj = {"sleep 0.2", 0, 0};
    pthread_t a, b;
    pthread_create(&a, NULL, run_job, &longj);
    usleep(200000);
    pthread_create(&b, NULL, run_job, &shortj);
    pthread_join(b, NULL);
    CHECK(shortj.status == 0 && shortj.took < 1.5);
    job short2 = {"sleep 0.5", 0, 0}, long2 = {"sleep 3", 0, 0};
    pthread_create(&b, NULL, run_job, &short2);
    usleep(100000);
    pthread_t c;
    pthread_create(&c, NULL, run_job, &long2);
    pthread_join(b, NULL);
    CHECK(short2.status == 0 && short2.took < 1.5);
    pthread_join(a, NULL);
    pthread_join(c, NULL);
    return CHECK_DONE("proc");
}
