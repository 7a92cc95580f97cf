/* mediagate tasks list [--dead] | show ID | retry ID | cancel ID: the
 * operator's view of the work queue (the tasks view of sql/006_queue.sql),
 * and the two things an operator does to a task. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "cli/sql.h"
#include "config.h"
#include "hash.h"

/* The newest 200 tasks (only dead ones with --dead). "when" is the time
 * that matters for the task's state: when a queued one may run, when a
 * running one's attempt began, when a done or dead one ended. */
static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    bool dead = argc == 1 && strcmp(argv[0], "--dead") == 0;
    if (argc > 1 || (argc == 1 && !dead))
        return CLI_EUSAGE;
    const char *vals[] = {dead ? "dead" : NULL};
    if (!(res = cli_query(cfg, "tasks list", C_TASKS_LIST, 1, vals)))
        goto out;
    printf("%-8s %-16s %-8s %-8s %-*s %s\n", "id", "kind", "state", "attempts", UUID_LEN, "job",
           "when (UTC)");
    for (int i = 0; i < PQntuples(res); i++) {
        printf("%-8s %-16s %-8s %-8s ", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
        cli_put_clean(stdout, PQgetvalue(res, i, 4), "", UUID_LEN);
        printf(" %s\n", PQgetvalue(res, i, 5));
        if (*PQgetvalue(res, i, 6)) {
            printf("%-8s   error: ", "");
            cli_put_clean(stdout, PQgetvalue(res, i, 6), "           ", 0);
            putchar('\n');
        }
    }
    printf("%d task%s\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Every column of task argv[0] and of its kind; exit 1 when there is none. */
static int show(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    char id[24];
    PGresult *res = NULL;
    if (argc != 1 || !cli_parse_bigint("task", argv[0], id))
        return CLI_EUSAGE;
    const char *vals[] = {id};
    if (!(res = cli_query(cfg, "tasks show", C_TASKS_SHOW, 1, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no task %s\n", id);
        goto out;
    }
    cli_show_row(stdout, res);
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* The shared part of retry and cancel: parses the one ID argument into id,
 * and runs statement s (a call on $1, then the task's state, job and the
 * job's status from before it). Returns the result (the caller PQclears
 * it): one row whose first column is not NULL; or NULL with *ret set
 * (CLI_EUSAGE for a bad ID, 1 after saying why). */
static PGresult *call(const config *cfg, int argc, char **argv, const char *what, int s,
                      char id[24], int *ret)
{
    PGresult *res = NULL;
    *ret = 1;
    if (argc != 1 || !cli_parse_bigint("task", argv[0], id)) {
        *ret = CLI_EUSAGE;
        return NULL;
    }
    const char *vals[] = {id};
    if (!(res = cli_query(cfg, what, s, 1, vals)))
        return NULL;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        fprintf(stderr, "mediagate: %s: unexpected answer from the database\n", what);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* A dead task runs again from attempt 1. Exit 0 only when it was retried. */
static int retry(const config *cfg, int argc, char **argv)
{
    int ret;
    char id[24];
    PGresult *res = call(cfg, argc, argv, "tasks retry", C_TASKS_RETRY, id, &ret);
    if (!res)
        goto out;
    ret = 1;
    const char *r = PQgetvalue(res, 0, 0);
    if (strcmp(r, "retried") == 0) {
        printf("task %s retried: queued again from attempt 1\n", id);
        const char *was = PQgetvalue(res, 0, 3);
        if (!PQgetisnull(res, 0, 3)) {
            printf("job ");
            cli_put_clean(stdout, PQgetvalue(res, 0, 2), "", 0);
            if (strcmp(was, "ERROR") == 0 || strcmp(was, "CANCELED") == 0)
                printf(" was %s and is SUBMITTED again.\n"
                       "Caches may still answer its %s status from /media/status\n"
                       "for up to MEDIAGATE_CACHE_MAX_AGE + 1 s (%ld s).\n",
                       was, was, cfg->cache_max_age + 1);
            else
                printf(" stays %s\n", was);
        }
        ret = 0;
    } else if (strcmp(r, "not_dead") == 0) {
        fprintf(stderr, "mediagate: task %s is %s, not dead: only dead tasks are retried\n", id,
                PQgetisnull(res, 0, 1) ? "?" : PQgetvalue(res, 0, 1));
    } else if (strcmp(r, "no_such_task") == 0) {
        fprintf(stderr, "mediagate: no task %s\n", id);
    } else {
        fprintf(stderr, "mediagate: task %s: unexpected answer '%s'\n", id, r);
    }
out:
    PQclear(res);
    return ret;
}

/* A queued or running task is dead at once, its job CANCELED. Exit 0 only
 * when it was canceled. */
static int cancel(const config *cfg, int argc, char **argv)
{
    int ret;
    char id[24];
    PGresult *res = call(cfg, argc, argv, "tasks cancel", C_TASKS_CANCEL, id, &ret);
    if (!res)
        goto out;
    ret = 1;
    const char *r = PQgetvalue(res, 0, 0), *was = PQgetvalue(res, 0, 1);
    if (strcmp(r, "canceled") == 0) {
        printf("task %s canceled: %s\n", id,
               strcmp(was, "running") == 0
                   ? "its worker stops it at its next heartbeat"
                   : "it will not run");
        const char *job = PQgetvalue(res, 0, 3);
        if (!PQgetisnull(res, 0, 3)) {
            printf("job ");
            cli_put_clean(stdout, PQgetvalue(res, 0, 2), "", 0);
            if (strcmp(job, "COMPLETE") == 0 || strcmp(job, "ERROR") == 0 ||
                strcmp(job, "CANCELED") == 0)
                printf(" had finished already and stays %s\n", job);
            else
                printf(" is CANCELED\n");
        }
        ret = 0;
    } else if (strcmp(r, "finished") == 0) {
        fprintf(stderr, "mediagate: task %s has finished already (%s): nothing to cancel\n", id,
                was);
    } else if (strcmp(r, "no_such_task") == 0) {
        fprintf(stderr, "mediagate: no task %s\n", id);
    } else {
        fprintf(stderr, "mediagate: task %s: unexpected answer '%s'\n", id, r);
    }
out:
    PQclear(res);
    return ret;
}

const cli_command cli_tasks_commands[] = {
    {.name = "list", .needs_config = true, .fn = list, .args = "[--dead]",
     .usage = "the newest 200 tasks (with --dead, only dead ones)\n"
              "Columns: id, kind, state (queued, running, done or dead), attempts made\n"
              "of the kind's cap, job (the payload's job_id), and when: for a queued task\n"
              "when it may run, for a running one when its attempt began, for a done or\n"
              "dead one when it ended. A task's last error follows on its own line.\n"},
    {.name = "show", .needs_config = true, .fn = show, .args = "ID",
     .usage = "every field of task ID, the payload as JSON\n"
              "The kind's max_attempts and timeout_s follow the task's own fields.\n"
              "Exits 1 when there is no such task.\n"},
    {.name = "retry", .needs_config = true, .fn = retry, .args = "ID",
     .usage = "run dead task ID again from attempt 1\n"
              "Its job, if the task's death made it ERROR (or it was canceled), is\n"
              "SUBMITTED again. Caches may still answer the job's earlier /media/status\n"
              "for up to MEDIAGATE_CACHE_MAX_AGE + 1 seconds.\n"
              "Exits 0 only when the task was retried; 1 when it is not dead or there\n"
              "is no such task.\n"},
    {.name = "cancel", .needs_config = true, .fn = cancel, .args = "ID",
     .usage = "cancel queued or running task ID and its job\n"
              "The task is dead at once and its job CANCELED (unless it had finished).\n"
              "A running task's worker finds its lease gone at its next heartbeat and\n"
              "stops its child process. Exits 0 only when the task was canceled; 1 when it\n"
              "had finished already or there is no such task.\n"},
    {.name = NULL},
};
