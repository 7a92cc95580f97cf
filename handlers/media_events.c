/* GET /media/events?job_id=: a job's history (notifications, tasks,
 * webhook deliveries), for its owner and administrators. */
#include "handlers.h"

int handle_media_events(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
