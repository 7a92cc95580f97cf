#ifndef MEDIAGATE_WORKER_WORKER_H
#define MEDIAGATE_WORKER_WORKER_H
#include <stdatomic.h>

#include "hash.h"

struct config;
struct db;

/* mediagate worker: MEDIAGATE_WORKER_CONCURRENCY slots claim tasks of the
 * kinds in app/worker/kinds.c until SIGTERM or SIGINT, and the upload
 * watcher runs beside them. Returns the exit status. */
int worker_run(const struct config *cfg);

/* mediagate submit FILE: a local job and its encode task, in one
 * transaction; prints the job id. Returns the exit status. */
int worker_submit(const struct config *cfg, const char *file);

/* Writes the kind table into task_kinds (migrate and every worker start).
 * Returns 0, or an HTTP-like status from the db layer. */
int worker_sync_kinds(struct db *d, const struct config *cfg);

/* Creates a local job for path (input_file as clients name it) and its
 * encode task in one statement; with key, a second submit of the same key
 * does nothing. Returns 1 created (id set), 0 already there, -1 error. */
int worker_submit_job(struct db *d, const char *path, const char *input_file, const char *key,
                      char id[UUID_BUF]);

/* Seconds before retry number attempt (1-based): capped exponential with
 * jitter in [cap/2, cap]; never overflows, whatever attempt is. */
double worker_backoff(int attempt, double base, double cap, double jitter01);

/* The upload watcher's thread (app/worker/watch.c); arg is a watch_arg. */
typedef struct watch_arg {
    const struct config *cfg;
    atomic_int *stopping;
} watch_arg;
void *watch_main(void *arg);

#endif
