/* The sns.confirm kind: a SubscriptionConfirmation that passed
 * verification (app/notify/sns.c) queues it with the message's
 * SubscribeURL, and this GETs that URL, which confirms the subscription.
 * The URL is checked again here against MEDIAGATE_SNS_CERT_HOST (https, an
 * SNS host), so a task row written by other means reaches no other host.
 * SNS keeps the token valid for three days. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "providers/sns.h"
#include "worker/kinds.h"

#define ANSWER_MAX 16384

/* Sets res to outcome with a message (no job: no job event). */
static void outcome(task_result *res, task_outcome oc, const char *msg)
{
    res->outcome = oc;
    snprintf(res->message, sizeof res->message, "%s", msg);
}

/* The text between <tag> and </tag> in xml, into out (cap bytes), or "". */
static void xml_text(const char *xml, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(xml, open), *b = a ? strstr(a, close) : NULL;
    out[0] = '\0';
    if (a && b)
        snprintf(out, cap, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

void kind_sns_confirm(task_ctx *ctx, task_result *res)
{
    const config *cfg = ctx->cfg;
    char body[ANSWER_MAX + 1], arn[512], msg[300];
    const char *url = jstr_or(ctx->payload, "subscribe_url", NULL);
    if (!url || !sns_url_ok(url, cfg->sns_host_re_ok ? &cfg->sns_host_re : NULL, false)) {
        log_warn("task %lld: SubscribeURL refused: not https on a host matching %s", ctx->id,
                 cfg->sns_cert_host);
        outcome(res, TASK_FAILED, "the SubscribeURL is not an https URL on an SNS host");
        return;
    }
    http_request req = {"GET", url, NULL, 0, NULL, 0, 5000, 20000, false};
    http_response resp = {.body = body, .body_cap = sizeof body};
    http_outcome oc = ctx->http && ctx->http->curl ? http_client_do(ctx->http, &req, &resp)
                                                   : HTTP_BAD_REQUEST;
    if (oc == HTTP_ANSWERED && resp.status == 200) {
        xml_text(body, "SubscriptionArn", arn, sizeof arn);
        log_info("task %lld: SNS subscription confirmed: %s", ctx->id, arn[0] ? arn : "(no ARN)");
        outcome(res, TASK_DONE, "");
        return;
    }
    if (oc == HTTP_ANSWERED) {
        /* SNS's error document names the reason (an expired token, ...). */
        xml_text(body, "Code", arn, sizeof arn);
        snprintf(msg, sizeof msg, "SNS ConfirmSubscription: HTTP %ld %.200s", resp.status, arn);
        outcome(res, resp.status >= 500 || resp.status == 429 ? TASK_RETRY : TASK_FAILED, msg);
        res->retry_after = resp.retry_after > 0 ? (double)resp.retry_after : 0;
        return;
    }
    snprintf(msg, sizeof msg, "SNS ConfirmSubscription: %s (%s)", http_outcome_name(oc), resp.err);
    outcome(res, oc == HTTP_NO_ANSWER || oc == HTTP_TOO_LARGE ? TASK_RETRY : TASK_FAILED, msg);
}
