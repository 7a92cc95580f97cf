/* Unit tests for app/metrics.c: counters by route row, method and status,
 * a cumulative histogram, notifications by backend and result, all in the
 * Prometheus text format. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.c"

static char *scrape(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    metrics_write(f);
    fclose(f);
    return buf;
}

int main(void)
{
    /* The labels come in at start, from whoever holds the route table. */
    static const char *const labels[] = {"GET /media/job_id", "GET /media/status"};
    size_t status_row = 1, nlabels = sizeof labels / sizeof labels[0];
    metrics_routes(labels, nlabels);
    metrics_request(status_row, "GET", 200, 300);     /* 0.3 ms */
    metrics_request(status_row, "GET", 200, 2000);    /* 2 ms */
    metrics_request(status_row, "HEAD", 304, 20000000); /* past the last bucket */
    metrics_request(nlabels, "GET", 404, 100); /* no route */
    metrics_request(status_row, "BREW", 418, 100);    /* other, other */
    metrics_db_reconnect();
    metrics_notification("zencoder", "applied");
    metrics_notification("zencoder", "applied");
    metrics_notification("zencoder", "refused");
    metrics_read_fallback();
    metrics_replica_trip();
    metrics_read_skipped();
    metrics_read_skipped();
    metrics_request_shed();

    char *t = scrape();
    CHECK_HAS(t, "# TYPE mediagate_http_requests_total counter\n");
    CHECK_HAS(t, "mediagate_http_requests_total{route=\"GET /media/status\",method=\"GET\",status=\"200\"} 2\n");
    CHECK_HAS(t, "mediagate_http_requests_total{route=\"GET /media/status\",method=\"HEAD\",status=\"304\"} 1\n");
    CHECK_HAS(t, "mediagate_http_requests_total{route=\"none\",method=\"GET\",status=\"404\"} 1\n");
    CHECK_HAS(t, "mediagate_http_requests_total{route=\"GET /media/status\",method=\"other\",status=\"other\"} 1\n");
    CHECK_LACKS(t, "status=\"500\"");
    /* Cumulative: 0.3 ms and the 418 in le=0.0005, 2 ms by le=0.0025, the
     * 20 s one only in +Inf. */
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_bucket{route=\"GET /media/status\",le=\"0.0005\"} 2\n");
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_bucket{route=\"GET /media/status\",le=\"0.0025\"} 3\n");
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_bucket{route=\"GET /media/status\",le=\"10\"} 3\n");
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_bucket{route=\"GET /media/status\",le=\"+Inf\"} 4\n");
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_count{route=\"GET /media/status\"} 4\n");
    CHECK_HAS(t, "mediagate_http_request_duration_seconds_sum{route=\"GET /media/status\"} 20.002400\n");
    CHECK_HAS(t, "mediagate_db_reconnects_total 1\n");
    CHECK_HAS(t, "mediagate_db_read_fallbacks_total 1\n");
    CHECK_HAS(t, "# TYPE mediagate_db_replica_trips_total counter\nmediagate_db_replica_trips_total 1\n");
    CHECK_HAS(t, "mediagate_db_read_skipped_total 2\n");
    CHECK_HAS(t, "# TYPE mediagate_http_requests_shed_total counter\nmediagate_http_requests_shed_total 1\n");
    CHECK_HAS(t, "mediagate_notifications_total{backend=\"zencoder\",result=\"applied\"} 2\n");
    CHECK_HAS(t, "mediagate_notifications_total{backend=\"zencoder\",result=\"refused\"} 1\n");
    free(t);
    return CHECK_DONE("test_metrics");
}
