/* GET /stream/list: the caller's streams, newest first. */
#include "handlers.h"

int handle_stream_list(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
