/* POST /stream/stop: end a broadcast; its key stops working at once. A
 * second stop answers the first stop_date. */
#include "db.h"
#include "handlers.h"
#include "stream.h"

int handle_stream_stop(request *r)
{
    int ret, st;
    const char *owner;
    PGresult *res = NULL;

    ret = stream_caller(r, &owner);
    if (ret)
        goto out;
    const char *id = stream_param(r, "id", &st);
    if (st) {
        ret = st;
        goto out;
    }
    if (!id || !*id) {
        ret = reply_error(r, 400, "Not found parameter id.");
        goto out;
    }
    if (!stream_id_valid(id)) {
        ret = reply_error(r, 400, "The parameter id is not a stream id.");
        goto out;
    }
    const char *vals[] = {id, owner};
    ret = db_exec(r->db, STMT_STREAM_STOP, 2, vals, &res);
    if (ret) {
        ret = reply_db_error(r, ret);
        goto out;
    }
    if (PQntuples(res) != 1) {
        ret = reply_error(r, 404, "No such stream.");
        goto out;
    }
    r->out = json_object_new_object();
    json_object_object_add(r->out, "stream", stream_object(res, 0));
    r->cache_control = "no-store";
    ret = 200;
out:
    PQclear(res);
    return ret;
}
