/* The tencent.process_media kind: a NewFileUpload (app/notify/tencent.c)
 * queues it in the transaction that creates the job, and this starts
 * Tencent VOD's ProcessMedia (API 3.0, version 2018-07-17) for the file,
 * signed TC3-HMAC-SHA256. SessionId is the FileId, Tencent's own 3-day
 * dedupe key, so a retry after a lost answer never starts a second
 * transcode. ProcedureStateChanged later completes the job as before. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hash.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "providers/tc3.h"
#include "request.h"
#include "worker/kinds.h"

#define TENCENT_ERROR 21     /* the job's error_code when Tencent refuses for good */
#define RESPONSE_MAX 65536
#define CONTENT_TYPE "application/json; charset=utf-8"

bool kind_tencent_serves(const config *cfg)
{
    return cfg->tencent_process;
}

/* The Host header of url ("host" or "host:port"), which TC3 signs.
 * Returns 0 or -1. */
static int url_host(const char *url, char *out, size_t cap)
{
    int ret = -1;
    char *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL; /* the scheme's default: not in Host */
    int n = snprintf(out, cap, "%s%s%s", host, port ? ":" : "", port ? port : "");
    ret = n > 0 && (size_t)n < cap ? 0 : -1;
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ret;
}

/* The ProcessMedia body for file_id: a new reference. */
static json_object *request_body(const config *cfg, const char *file_id)
{
    json_object *b = json_object_new_object(), *task = json_object_new_object(),
                *set = json_object_new_array();
    char session[65];
    for (int i = 0; i < cfg->tencent_ndefs; i++) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "Definition", json_object_new_int64(cfg->tencent_defs[i]));
        json_object_array_add(set, t);
    }
    json_object_object_add(task, "TranscodeTaskSet", set);
    json_object_object_add(b, "FileId", json_object_new_string(file_id));
    json_object_object_add(b, "MediaProcessTask", task);
    /* SessionId holds at most 50 characters: a longer FileId is hashed. */
    if (strlen(file_id) <= 50)
        snprintf(session, sizeof session, "%s", file_id);
    else {
        sha256_hex(file_id, strlen(file_id), session);
        session[48] = '\0';
    }
    json_object_object_add(b, "SessionId", json_object_new_string(session));
    if (cfg->tencent_subappid > 0)
        json_object_object_add(b, "SubAppId", json_object_new_int64(cfg->tencent_subappid));
    return b;
}

/* True for the error codes that a later attempt may not meet: Tencent's
 * internal errors, rate limits, and a signature that expired in flight. */
static bool transient_code(const char *code)
{
    static const char *const prefixes[] = {"InternalError", "RequestLimitExceeded",
                                           "ResourceUnavailable", "AuthFailure.SignatureExpire"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(code, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* Reads Tencent's answer (status, body) into res. Its errors come inside
 * Response.Error whatever the HTTP status. */
static void read_answer(task_ctx *ctx, long status, const char *body, size_t len,
                        long retry_after, task_result *res)
{
    const char *perr;
    json_object *root = parse_json(body, len, &perr), *resp, *err;
    if (jobj(root, "Response", json_type_object, &resp) <= 0) {
        /* Not Tencent's envelope: a proxy's or load balancer's answer. */
        if (status >= 500 || status == 429) {
            res->retry_after = retry_after > 0 ? (double)retry_after : 0;
            task_fail(res, TASK_RETRY, TENCENT_ERROR, "Tencent ProcessMedia: HTTP %ld", status);
        } else
            task_fail(res, TASK_FAILED, TENCENT_ERROR,
                      "Tencent ProcessMedia: HTTP %ld without an API response", status);
        goto out;
    }
    if (jobj(resp, "Error", json_type_object, &err) > 0) {
        const char *code = jstr_or(err, "Code", "UnknownError"),
                   *msg = jstr_or(err, "Message", "");
        if (strcmp(code, "InvalidParameterValue.SessionId") == 0) {
            /* A start with this SessionId already happened: ours, whose
             * answer was lost. Not an error; the TaskId stays unknown. */
            log_info("task %lld: ProcessMedia for %s was started already (SessionId)", ctx->id,
                     ctx->job_id ? ctx->job_id : "-");
            res->outcome = TASK_DONE;
            goto out;
        }
        task_fail(res, transient_code(code) ? TASK_RETRY : TASK_FAILED, TENCENT_ERROR,
                  "Tencent ProcessMedia: %.80s: %.400s", code, msg);
        goto out;
    }
    const char *task_id = jstr_or(resp, "TaskId", NULL);
    if (!task_id || !*task_id || strlen(task_id) > 200) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "Tencent ProcessMedia: an answer without a TaskId");
        goto out;
    }
    res->outcome = TASK_DONE;
    res->job_event = json_object_new_object();
    json_object_object_add(res->job_event, "backend_task_id", json_object_new_string(task_id));
    log_info("task %lld: ProcessMedia started for job %s: TaskId %s", ctx->id,
             ctx->job_id ? ctx->job_id : "-", task_id);
out:
    json_object_put(root);
}

void kind_tencent_process_media(task_ctx *ctx, task_result *res)
{
    const config *cfg = ctx->cfg;
    json_object *body = NULL;
    const char *fid = "";
    char host[300], ts[24], authz[1024], h_host[320], h_ts[48], h_authz[1100], h_region[96];
    char resp_body[RESPONSE_MAX + 1];
    if (jstr(ctx->payload, "file_id", &fid) <= 0 || !*fid) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "the task names no Tencent FileId");
        goto out;
    }
    if (!cfg->tencent_process) {
        /* Queued while another worker served it; this one has no key. */
        res->outcome = TASK_RETRY;
        res->retry_after = 300;
        snprintf(res->message, sizeof res->message, "MEDIAGATE_TENCENT_SECRET_ID is not set here");
        goto out;
    }
    if (url_host(cfg->tencent_api_url, host, sizeof host) != 0) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "MEDIAGATE_TENCENT_API_URL has no host");
        goto out;
    }
    body = request_body(cfg, fid);
    const char *payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    time_t now = time(NULL);
    tc3_request sr = {cfg->tencent_secret_id, cfg->tencent_secret_key, "vod", host, "POST", "/", "",
                      CONTENT_TYPE, payload, strlen(payload), now};
    if (tc3_sign(&sr, NULL, 0, NULL, 0, authz, sizeof authz) != 0) {
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "the ProcessMedia call could not be signed");
        goto out;
    }
    snprintf(ts, sizeof ts, "%lld", (long long)now);
    snprintf(h_host, sizeof h_host, "Host: %s", host);
    snprintf(h_ts, sizeof h_ts, "X-TC-Timestamp: %s", ts);
    snprintf(h_authz, sizeof h_authz, "Authorization: %s", authz);
    snprintf(h_region, sizeof h_region, "X-TC-Region: %s", cfg->tencent_region);
    const char *hdrs[] = {"Content-Type: " CONTENT_TYPE, h_host, "X-TC-Action: ProcessMedia",
                          "X-TC-Version: 2018-07-17", h_ts, h_authz, h_region};
    size_t nh = *cfg->tencent_region ? 7 : 6;
    http_request req = {"POST", cfg->tencent_api_url, hdrs, nh, payload, strlen(payload),
                        5000, 20000, false};
    http_response resp = {.body = resp_body, .body_cap = sizeof resp_body};
    http_outcome oc = ctx->http && ctx->http->curl ? http_client_do(ctx->http, &req, &resp)
                                                   : HTTP_BAD_REQUEST;
    switch (oc) {
    case HTTP_ANSWERED:
        read_answer(ctx, resp.status, resp.body, resp.body_len, resp.retry_after, res);
        break;
    case HTTP_NO_ANSWER:
    case HTTP_TOO_LARGE:
        /* Maybe it started: the same SessionId makes the retry safe. */
        task_fail(res, TASK_RETRY, TENCENT_ERROR, "Tencent ProcessMedia: %s (%s)",
                  http_outcome_name(oc), resp.err);
        break;
    default:
        task_fail(res, TASK_FAILED, TENCENT_ERROR, "Tencent ProcessMedia: %s (%s)",
                  http_outcome_name(oc), resp.err);
        break;
    }
out:
    json_object_put(body);
}
