#ifndef MEDIAGATE_METRICS_H
#define MEDIAGATE_METRICS_H
#include <stddef.h>
#include <stdio.h>

/* Counters of this process, for GET /metrics (Prometheus text format).
 * Every function is safe from any thread; counting is a relaxed atomic
 * add, so it costs the request path next to nothing. */

/* The route labels, one per row of the route table in its order ("GET
 * /media/status"; router_labels()), handed in once at start, before any
 * request is counted. Rows past METRICS_MAX_ROUTES count as no route. The
 * strings must live as long as the process. Without them every request
 * counts as no route. */
#define METRICS_MAX_ROUTES 64
void metrics_routes(const char *const *labels, size_t n);

/* One answered request: its row index in the labels (n or more for no
 * route), the request's method, the status sent and the time taken. */
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

/* A call of the object store's backend (storage.c): backend is the
 * MEDIAGATE_STORAGE name, result the outcome's label (store_status:
 * "ok", "not_found", "precondition", "denied", "no_bucket", "too_large",
 * "retry", "error"); both static strings. */
void metrics_storage(const char *backend, const char *result);

/* Writes every counter above in the Prometheus text format to f. */
void metrics_write(FILE *f);

#endif
