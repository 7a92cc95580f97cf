#ifndef MEDIAGATE_METRICS_H
#define MEDIAGATE_METRICS_H
#include <stddef.h>
#include <stdio.h>

/* Counters of this process, for GET /metrics (Prometheus text format).
 * Every function is safe from any thread; counting is a relaxed atomic
 * add, so it costs the request path next to nothing. */

/* One answered request: the route table's row index (router_index; the
 * table's size for no route), the request's method, the status sent and
 * the time taken. */
void metrics_request(size_t row, const char *method, int status, long long duration_us);

/* A database connection made again after it was lost (db.c). */
void metrics_db_reconnect(void);

/* A read route answered by the primary because the replica was
 * unavailable (router.c). */
void metrics_read_fallback(void);

/* The read replica's breaker opened: it timed out or could not be reached,
 * and reads go to the primary for a while (db.c). */
void metrics_replica_trip(void);

/* A read route sent to the primary without asking the replica, because
 * its breaker was open (router.c). */
void metrics_read_skipped(void);

/* A request answered 503 at once because it waited longer than
 * MEDIAGATE_QUEUE_WAIT_MS before a thread took it (router.c). */
void metrics_request_shed(void);

/* A notification's outcome for a backend of the senders' table: backend
 * and result must be static strings (the table's name; "applied",
 * "duplicate", "stored", "failed", "refused", "unknown_job", "unavailable",
 * "error"). */
void metrics_notification(const char *backend, const char *result);

/* Writes every counter above in the Prometheus text format to f. */
void metrics_write(FILE *f);

#endif
