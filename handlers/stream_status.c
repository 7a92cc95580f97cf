/* GET /stream/status?id=…: the stream object, polled by mobile clients. */
#include "db.h"
#include "handlers.h"
#include "stream.h"

int handle_stream_status(request *r)
{
    PGresult *res;
    int ret = stream_by_id(r, STMT_STREAM_GET, &res);
    PQclear(res);
    if (ret)
        return ret;
    /* Cheap to poll: revalidate with the ETag; private to the caller. */
    r->cache_control = "private, no-cache";
    r->etag = true;
    return 200;
}
