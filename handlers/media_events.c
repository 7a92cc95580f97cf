/* GET /media/events?job_id=: a job's history (its creation and current
 * state, notifications, tasks, webhook deliveries; mediagate_job_events),
 * oldest first, for its owner and administrators; to anyone else it is an
 * unknown job, as /media/status answers one. */
#include <string.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"

#define JOB_ID_MAX 255

int handle_media_events(request *r)
{
    int ret;
    const char *id, *err;
    PGresult *res = NULL;
    json_object *events = NULL;
    if ((ret = require_param(r, "job_id", &id)) != 0)
        return ret;
    if (strlen(id) > JOB_ID_MAX)
        return reply_error(r, 422, "Not found item.");
    const char *vals[] = {id, r->caller->owner, caller_is_admin(r, r->caller) ? "t" : "f"};
    if ((ret = db_exec(r->db, STMT_JOB_EVENTS, 3, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    if (!(events = parse_json(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), &err))) {
        ret = reply_error(r, 500, "The job's events could not be read.");
        goto out;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(id));
    json_object_object_add(r->out, "events", events);
    events = NULL;
    /* It depends on who asks, and changes with every event. */
    r->cache_control = "no-store";
    ret = 200;
out:
    json_object_put(events);
    PQclear(res);
    return ret;
}
