/* The jwplatform.refresh kind: a JW Platform webhook (app/notify/
 * jwplatform.c) names a video or channel, and this asks the management API
 * for it now (/v1/videos/show, /v1/channels/show) and writes the mirror
 * (sql/013 mediagate_mirror_put): the answer replaces the row, a NotFound
 * marks it deleted. Rate limits and calls that never reached the API are
 * retried later; the sync is the backstop for anything lost. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "http_client.h"
#include "jwplatform/api.h"
#include "json.h"
#include "log.h"
#include "worker/kinds.h"
#include "worker/wsql.h"

bool kind_jwplatform_serves(const config *cfg)
{
    return cfg->jwplatform_mirror;
}

/* Writes the resource (data NULL: gone) into the mirror, unless the task
 * is no longer ours (a newer attempt may hold a newer answer). The write
 * is idempotent: a retry after a crash writes the platform's state again. */
static void put(task_ctx *ctx, const char *type, const char *key, json_object *data,
                task_result *res)
{
    PGresult *r = NULL;
    if (ctx->beat && !ctx->beat(ctx, TASK_BEAT_CHECK)) {
        res->outcome = TASK_HANDBACK;
        return;
    }
    const char *text = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE)
                            : NULL;
    const char *v[] = {type, key, text};
    int st = db_exec(ctx->db, W_MIRROR_PUT, 3, v, &r);
    if (st != 0) {
        res->outcome = TASK_RETRY;
        snprintf(res->message, sizeof res->message, "the mirror could not be written (%d)", st);
    } else {
        res->outcome = TASK_DONE;
        log_info("task %lld: %s %s refreshed: %s", ctx->id, type, key, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
}

void kind_jwplatform_refresh(task_ctx *ctx, task_result *res)
{
    json_object *root = NULL, *data;
    const char *type = NULL, *key = NULL;
    jw_api api = {0};
    char err[512];
    double after = 0;
    if (jstr(ctx->payload, "type", &type) <= 0 || jstr(ctx->payload, "key", &key) <= 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "the task names no resource");
        goto out;
    }
    bool video = strcmp(type, "video") == 0;
    if (!video && strcmp(type, "channel") != 0) {
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "unknown resource type");
        goto out;
    }
    if (!ctx->cfg->jwplatform_mirror || !ctx->http || jw_api_init(&api, ctx->cfg, ctx->http) != 0) {
        res->outcome = TASK_RETRY;
        res->retry_after = 300;
        snprintf(res->message, sizeof res->message, "the JW Platform API is not configured here");
        goto out;
    }
    jw_param prm[] = {{video ? "video_key" : "channel_key", key}};
    jw_outcome oc = jw_api_get(&api, video ? "videos/show" : "channels/show", prm, 1, &root, &after,
                               err, sizeof err);
    switch (oc) {
    case JW_OK:
        if (jobj(root, type, json_type_object, &data) <= 0) {
            res->outcome = TASK_FAILED;
            snprintf(res->message, sizeof res->message, "the answer has no \"%s\" object", type);
            break;
        }
        put(ctx, type, key, data, res);
        break;
    case JW_NOT_FOUND:
        put(ctx, type, key, NULL, res);
        break;
    case JW_RATE_LIMITED:
    case JW_UNREACHED:
    case JW_SERVER_ERROR:
        res->outcome = TASK_RETRY;
        res->retry_after = after;
        snprintf(res->message, sizeof res->message, "JW Platform %s: %s", type, err);
        break;
    default:
        res->outcome = TASK_FAILED;
        snprintf(res->message, sizeof res->message, "JW Platform %s: %s", type, err);
        break;
    }
out:
    json_object_put(root);
    jw_api_free(&api);
}
