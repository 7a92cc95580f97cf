#ifndef MEDIAGATE_WORKER_H
#define MEDIAGATE_WORKER_H

struct config;

/* mediagate worker: claims outbox tasks it knows (local.encode) with
 * FOR UPDATE SKIP LOCKED under a lease until SIGTERM. Returns the exit
 * status. */
int worker_run(const struct config *cfg);

/* mediagate submit FILE: a local job and its encode task, in one
 * transaction; prints the job id. */
int worker_submit(const struct config *cfg, const char *file);

/* Seconds before retry number attempt (1-based): capped exponential with
 * jitter in [cap/2, cap]; never overflows, whatever attempt is. */
double worker_backoff(int attempt, double base, double cap, double jitter01);

#endif
