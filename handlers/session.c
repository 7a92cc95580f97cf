/* POST, GET, DELETE /media/session: the console's short-lived session,
 * made from an API key; its token (mgs_...) is then the caller's credential. */
#include "handlers.h"

int handle_session_create(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_session_get(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_session_delete(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
