/* POST /notifications/<backend>: the common path of every backend.
 * Authenticate, parse, then store raw and apply in one statement
 * (mediagate_notify in sql/002), so an acknowledged event is never lost and
 * a redelivery is applied once. The senders' table, verifiers and parsers
 * are in app/notify/. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "metrics.h"
#include "notify/notify.h"

/* Stores a body that failed to parse or apply, marked failed, under the
 * body's hash (an id taken from a broken body cannot be trusted). A body
 * that is wrong for good takes "sha256:<hex>", the key a body without an
 * id of its own is deduplicated by; one that failed for a reason of ours
 * (a 500) takes "retry:sha256:<hex>", so it is kept for a replay but never
 * occupies the key the sender's retry is applied under. Returns 0 or a
 * db_exec() status. */
static int store_failed(request *r, const notify_backend *b, const char *why, bool retryable)
{
    PGresult *res = NULL;
    char hex[65], id[96];
    sha256_hex(r->body ? r->body : "", r->body_len, hex);
    snprintf(id, sizeof id, "%ssha256:%s", retryable ? "retry:" : "", hex);
    const char *vals[] = {b->name, id, r->body ? r->body : "", why};
    int lens[] = {0, 0, (int)r->body_len, 0};
    int fmts[] = {0, 0, 1, 0};
    int ret = db_exec_params(r->db, STMT_NOTIFY_FAILED, 4, vals, lens, fmts, &res);
    PQclear(res);
    return ret;
}

/* Authenticates, stores raw and applies one notification. Returns the
 * HTTP status, with r->out set. */
static int notify_handle(request *r, const notify_backend *b)
{
    int ret;
    const char *result = NULL;
    char id[256] = "", err[256] = "", msg[320];
    json_object *ev = NULL;
    PGresult *res = NULL;

    const char *secret = notify_secret(b, r->cfg);
    if (!secret) {
        snprintf(msg, sizeof msg, "Notifications from %s are not configured.", b->name);
        ret = reply_error(r, 403, msg);
        goto out;
    }
    if ((ret = b->verify->check(r, b, secret, err, sizeof err)) != 0) {
        snprintf(msg, sizeof msg, "%s.", err);
        ret = reply_error(r, ret, msg);
        goto out;
    }
    ev = notify_parse(b, r->body ? r->body : "", r->body_len, id, sizeof id, err, sizeof err);
    /* An unparsable body may carry the id of a good event: keep it apart. */
    if (!id[0] || !ev) {
        char hex[65];
        sha256_hex(r->body ? r->body : "", r->body_len, hex);
        snprintf(id, sizeof id, "sha256:%s", hex);
    }
    if (!ev) {
        ret = store_failed(r, b, err[0] ? err : "unparsable body", false);
        if (ret) {
            ret = reply_db_error(r, ret);
            goto out;
        }
        snprintf(msg, sizeof msg, "Notification stored but not applied: %s",
                 err[0] ? err : "unparsable body");
        ret = reply_error(r, 400, msg);
        goto out;
    }
    const char *evtext = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    const char *vals[] = {b->name, id, r->body, evtext};
    int lens[] = {0, 0, (int)r->body_len, 0};
    int fmts[] = {0, 0, 1, 0};
    ret = db_exec_params(r->db, STMT_NOTIFY, 4, vals, lens, fmts, &res);
    if (ret == 404) {
        ret = reply_error(r, 404, "Unknown job.");
        goto out;
    }
    if (ret == 400 || ret == 409 || ret == 500) {
        /* The database refused the event (a bad value, a clash, a bug of
         * ours): keep it for a replay after a fix. A 500 still asks the
         * sender to retry. */
        int st = ret;
        ret = store_failed(r, b, "the database refused this event", st == 500);
        if (ret)
            ret = reply_db_error(r, ret);
        else if (st == 500)
            ret = reply_error(r, 500, "Notification stored but not applied: internal error.");
        else
            ret = reply_error(r, 400, "Notification stored but not applied: the database refused a value.");
        goto out;
    }
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    result = PQgetisnull(res, 0, 0) ? "applied" : PQgetvalue(res, 0, 0);
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "result", json_object_new_string(result));
    json_object_object_add(r->out, "event_id", json_object_new_string(id));
    ret = 200;
out:
    metrics_notification(b->name, notify_outcome(ret, result));
    PQclear(res);
    json_object_put(ev);
    return ret;
}

int handle_notify(request *r)
{
    const char *name = r->path + strlen("/notifications/");
    const notify_backend *b = notify_find(name);
    if (!b)
        return reply_error(r, 404, "No notification backend has that name.");
    return notify_handle(r, b);
}
