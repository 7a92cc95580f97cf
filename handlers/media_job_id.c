/* GET /media/job_id?input_file=<path>: the newest job for an input file. */
#include "caller.h"
#include "db.h"
#include "handlers.h"

int handle_media_job_id(request *r)
{
    int ret;
    const char *input;
    PGresult *res = NULL;
    json_object *o = NULL;

    ret = require_param(r, "input_file", &input);
    if (ret)
        goto out;
    const char *vals[] = {input};
    ret = db_exec(r->db, STMT_JOB_ID_BY_INPUT, 1, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    /* A job with an ACL is found only by its owner and the callers the ACL
     * admits. */
    bool guarded = PQntuples(res) == 1 && !PQgetisnull(res, 0, 1);
    if (guarded) {
        bool ok;
        const char *owner = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
        if ((ret = caller_admits(r, r->caller, owner, PQgetvalue(res, 0, 1), &ok)) != 0)
            goto out;
        if (!ok) {
            ret = reply_error(r, 422, "Not found item.");
            goto out;
        }
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "job_id", json_object_new_string(PQgetvalue(res, 0, 0)));
    r->out = o;
    o = NULL;
    /* A newer job may appear for the same file at any time: browsers
     * revalidate on every use, a shared cache keeps a public answer 1 s. */
    r->cache_control = guarded ? "private, no-cache" : "public, max-age=0, s-maxage=1";
    r->etag = true;
    if (guarded)
        r->etag_extra = arena_strdup(r->a, PQgetvalue(res, 0, 1));
    ret = 200;
out:
    json_object_put(o);
    PQclear(res);
    return ret;
}
