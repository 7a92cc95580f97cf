/* POST /stream/stop: end a broadcast; its key stops working at once. A
 * second stop answers the first stop_date. */
#include "db.h"
#include "handlers.h"
#include "stream.h"

int handle_stream_stop(request *r)
{
    PGresult *res;
    int ret = stream_by_id(r, STMT_STREAM_STOP, &res);
    PQclear(res);
    r->cache_control = "no-store";
    return ret ? ret : 200;
}
