/* The installation's webhook endpoints and deliveries, and redelivery, for
 * MEDIAGATE_ADMIN_USERS (caller_is_admin): what `mediagate webhook list`,
 * `deliveries` and `redeliver` show and do (the same SQL functions), over
 * HTTP. Never an endpoint's secret, nor a delivery's body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"

#define PREFIX "/media/webhooks/deliveries/"
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 200
#define JOB_ID_MAX 255

/* 0 when the caller administers the installation, else 403 replied. */
static int admin_only(request *r)
{
    if (caller_is_admin(r, r->caller))
        return 0;
    return reply_error(r, 403, "Only administrators (MEDIAGATE_ADMIN_USERS) may see webhooks.");
}

/* True when s[0..n) is 1 to 19 ASCII digits naming a positive bigint; then
 * out (cap 24) holds it without leading zeros. */
static bool bigint_ok(const char *s, size_t n, char out[24])
{
    if (n == 0 || n > 19 || strspn(s, "0123456789") < n)
        return false;
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno || v <= 0)
        return false;
    snprintf(out, 24, "%lld", v);
    return true;
}

/* Parses a JSON text the database built; NULL when it is not one. */
static json_object *from_db(const PGresult *res, int row, int col)
{
    const char *err;
    if (PQgetisnull(res, row, col))
        return NULL;
    return parse_json(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), &err);
}

/* Answers status with {"success": true, key: *v}, no-store; takes *v. */
static int reply_with(request *r, int status, const char *key, json_object **v)
{
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, key, *v);
    *v = NULL;
    r->cache_control = "no-store";
    return status;
}

int handle_webhooks_list(request *r)
{
    int ret;
    PGresult *res = NULL;
    json_object *eps = NULL;
    if ((ret = admin_only(r)) != 0)
        return ret;
    if ((ret = db_exec(r->db, STMT_WEBHOOK_ENDPOINTS, 0, NULL, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (!(eps = from_db(res, 0, 0))) {
        ret = reply_error(r, 500, "The endpoints could not be read.");
        goto out;
    }
    ret = reply_with(r, 200, "endpoints", &eps);
out:
    json_object_put(eps);
    PQclear(res);
    return ret;
}

/* Query parameter name, or NULL when absent or empty. */
static const char *opt_param(request *r, const char *name)
{
    const param *p = params_get(&r->qp, name);
    return p && p->val[0] ? p->val : NULL;
}

int handle_webhook_deliveries(request *r)
{
    int ret;
    PGresult *res = NULL;
    json_object *list = NULL;
    char endpoint[24], cursor[24], rows[16];
    long limit = LIMIT_DEFAULT;
    if ((ret = admin_only(r)) != 0)
        return ret;
    const char *ep = opt_param(r, "endpoint_id"), *job = opt_param(r, "job_id"),
               *state = opt_param(r, "state"), *lim = opt_param(r, "limit"),
               *cur = opt_param(r, "cursor");
    if (ep && !bigint_ok(ep, strlen(ep), endpoint))
        return reply_error(r, 400, "endpoint_id must be an endpoint's id (digits).");
    if (job && (strlen(job) > JOB_ID_MAX || utf8_length(job, strlen(job)) < 0))
        return reply_error(r, 400, "job_id must be a job's id (at most 255 bytes).");
    if (state && strcmp(state, "pending") != 0 && strcmp(state, "delivered") != 0 &&
        strcmp(state, "failed") != 0)
        return reply_error(r, 400, "state must be pending, delivered or failed.");
    if (lim) {
        limit = strspn(lim, "0123456789") == strlen(lim) && strlen(lim) <= 4 ? strtol(lim, NULL, 10)
                                                                             : 0;
        if (limit < 1 || limit > LIMIT_MAX)
            return reply_error(r, 400, "limit must be 1 to 200.");
    }
    if (cur && !bigint_ok(cur, strlen(cur), cursor))
        return reply_error(r, 400, "cursor must be a next_cursor this route answered.");
    snprintf(rows, sizeof rows, "%ld", limit + 1);
    const char *vals[] = {ep ? endpoint : NULL, job, state, cur ? cursor : NULL, rows};
    if ((ret = db_exec(r->db, STMT_WEBHOOK_DELIVERIES, 5, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    int n = PQntuples(res);
    bool more = n > limit;
    if (more)
        n = (int)limit;
    list = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *d = from_db(res, i, 1);
        if (!d) {
            ret = reply_error(r, 500, "A delivery could not be read.");
            goto out;
        }
        json_object_array_add(list, d);
    }
    ret = reply_with(r, 200, "deliveries", &list);
    json_object_object_add(r->out, "next_cursor",
                           more ? json_object_new_string(PQgetvalue(res, n - 1, 0)) : NULL);
out:
    json_object_put(list);
    PQclear(res);
    return ret;
}

int handle_webhook_redeliver(request *r)
{
    int ret;
    PGresult *res = NULL;
    json_object *d = NULL;
    char id[24], msg[160];
    /* <digits>/redeliver, nothing else */
    const char *p = r->path + strlen(PREFIX);
    size_t n = strspn(p, "0123456789");
    if (strcmp(p + n, "/redeliver") != 0)
        return reply_error(r, 404, "No route matches.");
    if ((ret = admin_only(r)) != 0)
        return ret;
    if (!bigint_ok(p, n, id))
        return reply_error(r, 404, "No such delivery.");
    const char *vals[] = {id};
    if ((ret = db_exec(r->db, STMT_WEBHOOK_REDELIVER, 1, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    const char *result = PQgetvalue(res, 0, 0);
    if (strcmp(result, "no_such_delivery") == 0) {
        ret = reply_error(r, 404, "No such delivery.");
        goto out;
    }
    if (strcmp(result, "queued_already") == 0) {
        snprintf(msg, sizeof msg, "Delivery %s is queued already: it is sent again soon.", id);
        ret = reply_error(r, 409, msg);
        goto out;
    }
    if (strcmp(result, "endpoint_disabled") == 0) {
        snprintf(msg, sizeof msg,
                 "The endpoint of delivery %s is disabled: nothing is sent to it "
                 "(GET /media/webhooks says why).",
                 id);
        ret = reply_error(r, 409, msg);
        goto out;
    }
    if (!(d = from_db(res, 0, 1))) {
        ret = reply_error(r, 500, "The delivery could not be read.");
        goto out;
    }
    ret = reply_with(r, 202, "delivery", &d);
out:
    json_object_put(d);
    PQclear(res);
    return ret;
}
