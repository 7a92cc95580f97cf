/* The webhook.deliver kind's pure parts: the retry schedule and how one
 * call's outcome is judged. webhook.c is included to reach its statics. */
#include <math.h>

#include "check.h"
#include "../../app/worker/webhook.c"

static void test_schedule(void)
{
    /* Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
    const double want[] = {5, 300, 1800, 7200, 18000, 36000, 36000, 36000};
    for (int i = 0; i < 8; i++)
        CHECK(webhook_retry_delay(i + 1, 1000, 0.5) == want[i]);
    CHECK(webhook_retry_delay(1, 1000, 0.0) == 4.0);   /* jitter: 0.8 to 1.2 */
    CHECK(fabs(webhook_retry_delay(1, 1000, 1.0) - 6.0) < 1e-9);
    CHECK(webhook_retry_delay(2, 10, 0.5) == 3.0);      /* a test's small unit */
    double total = 0;
    for (int i = 1; i < 8; i++)
        total += webhook_retry_delay(i, 1000, 0.5);
    CHECK(total > 24 * 3600 && total < 30 * 3600);      /* about a day */
    int odd[] = {0, -3, 100, 2147483647};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        double d = webhook_retry_delay(odd[i], 1000, 0.5);
        CHECK(isfinite(d) && d >= 5 && d <= 36000);
    }
}

static wh_outcome judged(http_outcome oc, long status, long retry_after)
{
    http_response r = {.status = status, .retry_after = retry_after};
    snprintf(r.err, sizeof r.err, "Timeout was reached");
    wh_outcome w;
    judge(oc, &r, &w);
    return w;
}

static void test_judge(void)
{
    wh_outcome w = judged(HTTP_ANSWERED, 204, -1);
    CHECK(strcmp(w.state, "delivered") == 0 && !w.retry && !w.error[0]);
    w = judged(HTTP_TOO_LARGE, 200, -1); /* a 2xx with a long body still delivers */
    CHECK(strcmp(w.state, "delivered") == 0);
    w = judged(HTTP_ANSWERED, 410, -1);
    CHECK(strcmp(w.state, "failed") == 0 && w.disable && !w.retry);
    w = judged(HTTP_ANSWERED, 429, 7);
    CHECK(w.retry && w.retry_after == 7 && strcmp(w.state, "pending") == 0);
    w = judged(HTTP_ANSWERED, 503, 0); /* Retry-After: 0 is "now", not "the schedule" */
    CHECK(w.retry && w.retry_after > 0 && w.retry_after < 1);
    w = judged(HTTP_ANSWERED, 500, 30); /* Retry-After only on 429 and 503 */
    CHECK(w.retry && w.retry_after == 0 && strcmp(w.error, "HTTP 500") == 0);
    w = judged(HTTP_ANSWERED, 503, -1);
    CHECK(w.retry && w.retry_after == 0);
    w = judged(HTTP_ANSWERED, 302, -1);
    CHECK(w.retry && strcmp(w.error, "HTTP 302: a redirect, not followed") == 0);
    w = judged(HTTP_ANSWERED, 100, -1);
    CHECK(w.retry);
    w = judged(HTTP_NO_ANSWER, 0, -1);
    CHECK(w.retry && w.status == 0 && strcmp(w.error, "no answer: Timeout was reached") == 0);
    w = judged(HTTP_REFUSED_ADDRESS, 0, -1);
    CHECK(strcmp(w.state, "failed") == 0 && !w.retry && !w.disable);
    w = judged(HTTP_BAD_REQUEST, 0, -1);
    CHECK(strcmp(w.state, "failed") == 0 && !w.retry);
}

int main(void)
{
    test_schedule();
    test_judge();
    return CHECK_DONE("webhook");
}
