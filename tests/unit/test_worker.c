/* Retry backoff: exponential, capped, jittered, and finite at any attempt. */
#include <math.h>

#include "check.h"
#include "worker/worker.h"

int main(void)
{
    CHECK(worker_backoff(1, 5, 600, 1.0) == 5.0);
    CHECK(worker_backoff(2, 5, 600, 1.0) == 10.0);
    CHECK(worker_backoff(3, 5, 600, 0.0) == 10.0); /* jitter halves at most */
    CHECK(worker_backoff(8, 5, 600, 1.0) == 600.0); /* 5 * 2^7 = 640, capped */
    int attempts[] = {0, -5, 31, 100, 1000, 2147483647};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        double d = worker_backoff(attempts[i], 5, 600, 0.5);
        CHECK(isfinite(d) && d >= 2.5 && d <= 600);
    }
    CHECK(worker_backoff(100, 5, 600, 0.0) == 300.0);
    return CHECK_DONE("worker");
}
