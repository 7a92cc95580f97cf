/* The webhook.deliver kind (sql/012_webhooks.sql): one attempt of one
 * delivery to a customer's endpoint, signed as Standard Webhooks asks,
 * through the slot's outbound client with the address check on. The
 * attempt's outcome is written on the delivery row (fenced by the lease)
 * before the kind returns; a worker killed between the send and that write
 * sends again after the lease, under the same webhook-id. */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "providers/webhook_sig.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

/* Standard Webhooks' schedule: the delay after the nth failed attempt, in
 * units of MEDIAGATE_WEBHOOK_RETRY_UNIT_MS (a second by default): 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, about 28 h in all. */
static const int wh_schedule[] = {5, 300, 1800, 7200, 18000, 36000, 36000};
#define WH_SCHEDULE_LEN ((int)(sizeof wh_schedule / sizeof wh_schedule[0]))

double webhook_retry_delay(int attempt, long unit_ms, double jitter01)
{
    int i = attempt < 1 ? 0 : attempt > WH_SCHEDULE_LEN ? WH_SCHEDULE_LEN - 1 : attempt - 1;
    return wh_schedule[i] * (double)unit_ms / 1000.0 * (0.8 + 0.4 * jitter01);
}

/* The longest Retry-After honoured: a day. */
#define WH_RETRY_AFTER_CAP 86400.0

/* What became of one attempt, as the delivery row records it. */
typedef struct wh_outcome {
    const char *state;  /* pending, delivered, failed */
    long status;        /* the HTTP status, 0 when none */
    char error[200];    /* "" on success */
    bool retry;         /* another attempt may succeed */
    double retry_after; /* > 0: the server's Retry-After, in seconds */
    bool disable;       /* 410 Gone: the endpoint is disabled */
    bool tried;         /* a request was attempted */
} wh_outcome;

/* Judges a call's outcome: only 2xx delivers; 410 disables the endpoint;
 * a refused address or a bad URL fails for good; anything else (3xx
 * included: redirects are not followed) is retried, 429 and 503 after
 * their Retry-After. */
static void judge(http_outcome oc, const http_response *resp, wh_outcome *w)
{
    *w = (wh_outcome){.state = "pending", .status = resp->status, .tried = true};
    bool answered = oc == HTTP_ANSWERED || (oc == HTTP_TOO_LARGE && resp->status >= 200);
    if (answered && resp->status >= 200 && resp->status < 300) {
        w->state = "delivered";
        return;
    }
    if (answered && resp->status == 410) {
        w->state = "failed";
        w->disable = true;
        snprintf(w->error, sizeof w->error, "HTTP 410 Gone: the endpoint is disabled");
        return;
    }
    if (answered) {
        w->retry = true;
        if ((resp->status == 429 || resp->status == 503) && resp->retry_after >= 0)
            w->retry_after = resp->retry_after > 0 ? (double)resp->retry_after : 0.01;
        if (resp->status >= 300 && resp->status < 400)
            snprintf(w->error, sizeof w->error, "HTTP %ld: a redirect, not followed", resp->status);
        else
            snprintf(w->error, sizeof w->error, "HTTP %ld", resp->status);
        return;
    }
    w->status = 0;
    if (oc == HTTP_REFUSED_ADDRESS || oc == HTTP_BAD_REQUEST) {
        w->state = "failed";
        snprintf(w->error, sizeof w->error, "%s: %s", http_outcome_name(oc), resp->err);
        return;
    }
    w->retry = true;
    snprintf(w->error, sizeof w->error, "%s: %s", http_outcome_name(oc), resp->err);
}

/* Writes w on delivery did for the attempt in hand, retrying a database
 * that is away for up to about 10 s. Returns 1 when recorded, 0 when the
 * attempt is no longer this worker's, -1 when it could not be written. */
static int record(task_ctx *ctx, const char *did, const wh_outcome *w, double next)
{
    char tid[24], tok[16], st[16], nx[32];
    snprintf(tid, sizeof tid, "%lld", ctx->id);
    snprintf(tok, sizeof tok, "%d", ctx->attempt);
    snprintf(st, sizeof st, "%ld", w->status);
    snprintf(nx, sizeof nx, "%.3f", next);
    const char *v[] = {did, tid, tok, w->state, w->status ? st : NULL,
                       w->error[0] ? w->error : NULL, next > 0 ? nx : NULL,
                       w->disable ? "HTTP 410 Gone" : NULL, w->tried ? "1" : "0"};
    double wait = 0.2;
    for (double spent = 0; spent < 10; spent += wait, wait = wait * 2 > 2 ? 2 : wait * 2) {
        PGresult *r = NULL;
        int rc = db_exec(ctx->db, W_WH_RECORD, 9, v, &r);
        if (rc == 0) {
            int n = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
            return n > 0 ? 1 : 0;
        }
        if (rc != 503)
            return -1;
        usleep((useconds_t)(wait * 1e6));
    }
    return -1;
}

void kind_webhook_deliver(task_ctx *ctx, task_result *res)
{
    int64_t delivery;
    PGresult *r = NULL;
    char did[24], tsbuf[24], sig[96], hid[160], hts[48], hsig[128];
    unsigned char key[128];
    char body_buf[4096];
    if (jint(ctx->payload, "delivery_id", INT64_MIN, INT64_MAX, &delivery) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "malformed task payload");
        goto out;
    }
    snprintf(did, sizeof did, "%lld", (long long)delivery);
    const char *lv[] = {did};
    int st = db_exec(ctx->db, W_WH_LOAD, 1, lv, &r);
    if (st != 0) {
        res->outcome = TASK_RETRY;
        res->retry_after = 5;
        snprintf(res->message, sizeof res->message, "the database is unavailable");
        goto out;
    }
    /* Gone with its endpoint, or settled by an attempt whose finish was
     * lost: nothing to send. */
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 2), "pending") != 0) {
        res->outcome = TASK_DONE;
        goto out;
    }
    const char *msg_id = PQgetvalue(r, 0, 0), *body = PQgetvalue(r, 0, 1),
               *url = PQgetvalue(r, 0, 3);
    size_t body_len = (size_t)PQgetlength(r, 0, 1);
    const task_kind *k = task_kind_find(ctx->kind);
    bool last = !k || ctx->attempt >= k->max_attempts;
    wh_outcome w;
    int klen = stdwh_key(PQgetvalue(r, 0, 4), key, sizeof key);
    if (strcmp(PQgetvalue(r, 0, 5), "t") != 0) {
        w = (wh_outcome){.state = "failed"};
        snprintf(w.error, sizeof w.error, "the endpoint is disabled (%.150s)",
                 PQgetvalue(r, 0, 6));
    } else if (klen <= 0) {
        w = (wh_outcome){.state = "failed"};
        snprintf(w.error, sizeof w.error, "the endpoint's secret is unusable");
    } else {
        if (atomic_load(ctx->cancel)) {
            res->outcome = TASK_HANDBACK;
            goto out;
        }
        long long now = (long long)time(NULL);
        snprintf(tsbuf, sizeof tsbuf, "%lld", now);
        if (stdwh_sign(key, (size_t)klen, msg_id, now, body, body_len, sig, sizeof sig) != 0) {
            res->outcome = TASK_FAILED;
            snprintf(res->message, sizeof res->message, "signing failed");
            goto out;
        }
        snprintf(hid, sizeof hid, "webhook-id: %s", msg_id);
        snprintf(hts, sizeof hts, "webhook-timestamp: %s", tsbuf);
        snprintf(hsig, sizeof hsig, "webhook-signature: %s", sig);
        const char *hdrs[] = {"Content-Type: application/json", hid, hts, hsig};
        long to = ctx->cfg->webhook_timeout_ms;
        http_request req = {.method = "POST", .url = url, .headers = hdrs, .nheaders = 4,
                            .body = body, .body_len = body_len,
                            .connect_timeout_ms = to < 5000 ? to : 5000, .timeout_ms = to,
                            .customer = true};
        http_response resp = {.body = body_buf, .body_cap = sizeof body_buf};
        judge(http_client_do(ctx->http, &req, &resp), &resp, &w);
    }
    double next = 0;
    if (w.retry && last) {
        char why[sizeof w.error];
        snprintf(why, sizeof why, "%s", w.error);
        w.state = "failed";
        w.retry = false;
        snprintf(w.error, sizeof w.error, "gave up after %d attempts: %.150s", ctx->attempt, why);
    } else if (w.retry) {
        unsigned seed = (unsigned)(ctx->id * 2654435761u) ^ (unsigned)time(NULL);
        next = w.retry_after > 0 ? (w.retry_after < WH_RETRY_AFTER_CAP ? w.retry_after
                                                                       : WH_RETRY_AFTER_CAP)
                                 : webhook_retry_delay(ctx->attempt, ctx->cfg->webhook_retry_unit_ms,
                                                       (double)rand_r(&seed) / RAND_MAX);
    }
    int rec = record(ctx, did, &w, next);
    log_info("task %lld: webhook %s (delivery %s) attempt %d: %s%s%s", ctx->id, msg_id, did,
             ctx->attempt, w.state, w.error[0] ? ": " : "", w.error);
    if (rec < 0) {
        /* Sent, perhaps, but not recorded: send again (the receiver
         * dedupes on webhook-id). */
        res->outcome = TASK_RETRY;
        res->retry_after = 5;
        snprintf(res->message, sizeof res->message, "the outcome could not be recorded");
        goto out;
    }
    snprintf(res->message, sizeof res->message, "%s", w.error);
    if (strcmp(w.state, "delivered") == 0)
        res->outcome = TASK_DONE;
    else if (w.retry) {
        res->outcome = TASK_RETRY;
        res->retry_after = next;
    } else
        res->outcome = TASK_FAILED;
out:
    OPENSSL_cleanse(key, sizeof key);
    PQclear(r);
}
