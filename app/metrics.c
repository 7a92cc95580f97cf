#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROUTES METRICS_MAX_ROUTES
static const int statuses[] = {200, 201, 202, 204, 302, 304, 400, 401, 403, 404, 405, 409,
                               410, 411, 413, 415, 422, 429, 500, 502, 503, 504};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1) /* + other */
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
#define NMETHOD (sizeof methods / sizeof methods[0] + 1) /* + other */
/* Latency buckets, upper bounds in µs; the last bucket is +Inf. */
static const long long buckets_us[] = {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                                       250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBUCKET (sizeof buckets_us / sizeof buckets_us[0])

static atomic_ulong requests[MAX_ROUTES + 1][NMETHOD][NSTATUS];
static atomic_ulong latency[MAX_ROUTES + 1][NBUCKET + 1]; /* per bucket, not cumulative */
static atomic_ullong latency_sum_us[MAX_ROUTES + 1];
static atomic_ulong reconnects, read_fallbacks, replica_trips, read_skipped, shed;
/* From metrics_routes(), before the first request. */
static const char *const *route_labels;
static size_t nroutes;

/* A counter by two labels (backend, result), rows added as they are first
 * counted; the labels are static strings. */
#define MAX_PAIRS 64
typedef struct pair_count {
    const char *backend, *result;
    unsigned long n;
} pair_count;
typedef struct pair_counts {
    pair_count row[MAX_PAIRS];
    size_t n;
    pthread_mutex_t lock;
} pair_counts;
static pair_counts notify = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pair_counts storage = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t status_index(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

static size_t method_index(const char *m)
{
    for (size_t i = 0; m && i < NMETHOD - 1; i++)
        if (strcmp(methods[i], m) == 0)
            return i;
    return NMETHOD - 1;
}

void metrics_routes(const char *const *labels, size_t n)
{
    route_labels = labels;
    nroutes = n < MAX_ROUTES ? n : MAX_ROUTES;
}

void metrics_request(size_t row, const char *method, int status, long long us)
{
    size_t route_i = row >= nroutes ? MAX_ROUTES : row;
    size_t b = 0;
    while (b < NBUCKET && us > buckets_us[b])
        b++;
    atomic_fetch_add_explicit(&requests[route_i][method_index(method)][status_index(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&latency[route_i][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_sum_us[route_i], (unsigned long long)(us > 0 ? us : 0),
                              memory_order_relaxed);
}

void metrics_db_reconnect(void)
{
    atomic_fetch_add_explicit(&reconnects, 1, memory_order_relaxed);
}

void metrics_read_fallback(void)
{
    atomic_fetch_add_explicit(&read_fallbacks, 1, memory_order_relaxed);
}

void metrics_replica_trip(void)
{
    atomic_fetch_add_explicit(&replica_trips, 1, memory_order_relaxed);
}

void metrics_read_skipped(void)
{
    atomic_fetch_add_explicit(&read_skipped, 1, memory_order_relaxed);
}

void metrics_request_shed(void)
{
    atomic_fetch_add_explicit(&shed, 1, memory_order_relaxed);
}

static void pair_add(pair_counts *c, const char *backend, const char *result)
{
    pthread_mutex_lock(&c->lock);
    size_t i = 0;
    while (i < c->n && !(strcmp(c->row[i].backend, backend) == 0 &&
                         strcmp(c->row[i].result, result) == 0))
        i++;
    if (i == c->n && c->n < MAX_PAIRS)
        c->row[c->n++] = (pair_count){backend, result, 0};
    if (i < c->n)
        c->row[i].n++;
    pthread_mutex_unlock(&c->lock);
}

void metrics_notification(const char *backend, const char *result)
{
    pair_add(&notify, backend, result);
}

void metrics_storage(const char *backend, const char *result)
{
    pair_add(&storage, backend, result);
}

/* The route label of row i: "GET /media/status"; "none" past the table. */
static const char *route_label(size_t i)
{
    return i < nroutes ? route_labels[i] : "none";
}

/* Writes a counter by backend and result with its HELP and TYPE lines. */
static void pair_write(FILE *f, pair_counts *c, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        fprintf(f, "%s{backend=\"%s\",result=\"%s\"} %lu\n", name, c->row[i].backend,
                c->row[i].result, c->row[i].n);
    pthread_mutex_unlock(&c->lock);
}

/* Writes one counter with its HELP and TYPE lines. */
static void counter(FILE *f, const char *name, const char *help, atomic_ulong *v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name, name,
            atomic_load_explicit(v, memory_order_relaxed));
}

void metrics_write(FILE *f)
{
    const char *label;
    fputs("# HELP mediagate_http_requests_total Requests answered, by route row, method and status.\n"
          "# TYPE mediagate_http_requests_total counter\n", f);
    for (size_t r = 0; r <= nroutes; r++) {
        size_t ri = r == nroutes ? MAX_ROUTES : r;
        label = route_label(r);
        for (size_t m = 0; m < NMETHOD; m++)
            for (size_t s = 0; s < NSTATUS; s++) {
                unsigned long n = atomic_load_explicit(&requests[ri][m][s], memory_order_relaxed);
                if (!n)
                    continue;
                fprintf(f, "mediagate_http_requests_total{route=\"%s\",method=\"%s\",status=\"", label,
                        m < NMETHOD - 1 ? methods[m] : "other");
                if (s < NSTATUS - 1)
                    fprintf(f, "%d", statuses[s]);
                else
                    fputs("other", f);
                fprintf(f, "\"} %lu\n", n);
            }
    }
    fputs("# HELP mediagate_http_request_duration_seconds Time from the request's arrival to its "
          "answer, by route row.\n"
          "# TYPE mediagate_http_request_duration_seconds histogram\n", f);
    for (size_t r = 0; r <= nroutes; r++) {
        size_t ri = r == nroutes ? MAX_ROUTES : r;
        label = route_label(r);
        unsigned long cum = 0;
        for (size_t b = 0; b <= NBUCKET; b++) {
            cum += atomic_load_explicit(&latency[ri][b], memory_order_relaxed);
            if (b < NBUCKET)
                fprintf(f, "mediagate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                        label, (double)buckets_us[b] / 1e6, cum);
            else
                fprintf(f, "mediagate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n",
                        label, cum);
        }
        fprintf(f, "mediagate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label,
                (double)atomic_load_explicit(&latency_sum_us[ri], memory_order_relaxed) / 1e6);
        fprintf(f, "mediagate_http_request_duration_seconds_count{route=\"%s\"} %lu\n", label, cum);
    }
    counter(f, "mediagate_db_reconnects_total",
            "Database connections made again after one was lost.", &reconnects);
    counter(f, "mediagate_db_read_fallbacks_total",
            "Reads answered by the primary because the replica was unavailable.", &read_fallbacks);
    counter(f, "mediagate_db_replica_trips_total",
            "Times the read replica timed out or could not be reached, after which reads went to "
            "the primary for the hold-off.",
            &replica_trips);
    counter(f, "mediagate_db_read_skipped_total",
            "Reads answered by the primary without asking the replica, during a hold-off.",
            &read_skipped);
    counter(f, "mediagate_http_requests_shed_total",
            "Requests answered 503 at once because they waited longer than "
            "MEDIAGATE_QUEUE_WAIT_MS for a request thread.",
            &shed);
    pair_write(f, &notify, "mediagate_notifications_total",
               "Notifications received, by backend and result.");
    pair_write(f, &storage, "mediagate_storage_requests_total",
               "Calls to the object store (MEDIAGATE_STORAGE) made by this process, by backend "
               "and outcome.");
}
