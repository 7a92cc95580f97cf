/* The harnesses that compile the senders do so without the metrics (they
 * pull in the router and every handler): the counters they bump are no-ops
 * here. */
#include "metrics.h"

void metrics_notification(const char *backend, const char *result)
{
    (void)backend;
    (void)result;
}

void metrics_db_reconnect(void)
{
}

void metrics_replica_trip(void)
{
}
