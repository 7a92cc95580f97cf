/* DELETE /media/jobs/<id>: its owner deletes it (canceled if running; its
 * files removed by a job.delete task; a job.deleted webhook), in one
 * transaction (sql/functions/mediagate_job_delete.sql). Anyone else, an
 * unknown or deleted job: what /media/status answers an unknown job. */
#include <json-c/json.h>
#include <string.h>

#include "caller.h"
#include "db.h"
#include "encoders/encoder.h"
#include "handlers.h"
#include "playback.h"

#define PREFIX "/media/jobs/"

int handle_media_job_delete(request *r)
{
    int ret;
    PGresult *res = NULL;
    char job[101], kinds[512], remote[256];
    const char *p = r->path + strlen(PREFIX);
    size_t n = strspn(p, PLAYBACK_JOB_CHARS);
    if (n < 1 || n > 100 || p[n] != '\0' || !r->caller->owner)
        return reply_error(r, 422, "Not found item.");
    memcpy(job, p, n + 1);
    encoder_array(kinds, sizeof kinds, encoder_pick_create_kind);
    encoder_array(remote, sizeof remote, encoder_pick_canceler);
    const char *vals[] = {job, r->caller->owner, kinds, remote};
    if ((ret = db_exec(r->db, STMT_JOB_DELETE, 4, vals, &res)) != 0) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "deleted") != 0) {
        ret = reply_error(r, 422, "Not found item.");
        goto out;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "job_id", json_object_new_string(job));
    json_object_object_add(o, "job_status", json_object_new_string(PQgetvalue(res, 0, 1)));
    r->out = o;
    ret = 202;
out:
    PQclear(res);
    return ret;
}
