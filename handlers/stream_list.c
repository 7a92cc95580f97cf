/* GET /stream/list: the caller's streams, newest first. */
#include <string.h>

#include "caller.h"
#include "db.h"
#include "handlers.h"
#include "stream.h"

/* What the live console shows without another request: each stream as
 * /stream/status answers it, plus, while it may broadcast, where it plays
 * (as /stream/start's playback.hls). */
int handle_stream_list(request *r)
{
    PGresult *res = NULL;
    const char *owner = r->caller->owner;
    if (!owner) /* the route is AUTH_CALLER */
        return reply_error(r, 500, "The route has no caller.");
    const char *vals[] = {owner};
    int ret = db_exec(r->db, STMT_STREAM_LIST, 1, vals, &res);
    if (ret)
        return reply_db_error(r, ret);
    json_object *streams = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_object *s = stream_object(res, i);
        char url[1100];
        if (strcmp(PQgetvalue(res, i, 2), "STOPPED") != 0 &&
            stream_hls_url(r->cfg, PQgetvalue(res, i, 0), url, sizeof url)) {
            json_object *playback = json_object_new_object();
            json_object_object_add(playback, "hls", json_object_new_string(url));
            json_object_object_add(s, "playback", playback);
        }
        json_object_array_add(streams, s);
    }
    PQclear(res);
    r->out = json_object_new_object();
    json_object_object_add(r->out, "success", json_object_new_boolean(1));
    json_object_object_add(r->out, "streams", streams);
    /* Polled by the console: revalidate with the ETag; private to the caller. */
    r->cache_control = "private, no-cache";
    r->etag = true;
    return 200;
}
