/* POST /media/jobs (API key): registers a job that an external backend
 * runs, so that its notifications find it (Zencoder and Tencent events for
 * unknown jobs get 404 by design). Form-encoded like the stream routes:
 * backend, backend_job_id, input_file. */
#include <string.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"
#include "hash.h"
#include "stream.h"

/* The backends whose notifications look a job up by their own id. */
static const char *const external[] = {"zencoder", "tencent", "mediaconvert"};

int handle_media_jobs(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;
    if (!(owner = r->caller->owner)) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    static const char *const names[] = {"backend", "backend_job_id", "input_file"};
    const char *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = stream_param(r, names[i], &st);
        if (st)
            return st;
        if (!v[i] || !*v[i]) {
            char msg[64];
            snprintf(msg, sizeof msg, "Not found parameter %s.", names[i]);
            return reply_error(r, 400, msg);
        }
    }
    bool known = false;
    for (size_t i = 0; i < sizeof external / sizeof external[0]; i++)
        known |= strcmp(v[0], external[i]) == 0;
    if (!known)
        return reply_error(r, 400, "backend must be zencoder, tencent or mediaconvert.");
    long idl = utf8_length(v[1], strlen(v[1])), inl = utf8_length(v[2], strlen(v[2]));
    if (idl < 0 || idl > 200)
        return reply_error(r, 400, "backend_job_id must be 1 to 200 characters of UTF-8.");
    if (inl < 0 || strlen(v[2]) > 8192)
        return reply_error(r, 400, "input_file must be at most 8192 bytes of UTF-8.");
    char id[UUID_BUF];
    uuid_new(id);
    const char *vals[] = {id, v[0], v[1], v[2]};
    ret = db_exec(r->db, STMT_JOB_REGISTER, 4, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQgetisnull(res, 0, 0) || strcmp(PQgetvalue(res, 0, 0), id) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "Job %.60s has that backend job id already.",
                 PQgetisnull(res, 0, 0) ? "?" : PQgetvalue(res, 0, 0));
        ret = reply_error(r, 409, msg);
        goto out;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "job_id", json_object_new_string(id));
    json_object_object_add(r->out, "backend", json_object_new_string(v[0]));
    json_object_object_add(r->out, "backend_job_id", json_object_new_string(v[1]));
    json_object_object_add(r->out, "input_file", json_object_new_string(v[2]));
    r->cache_control = "no-store";
    ret = 201;
out:
    PQclear(res);
    return ret;
}
