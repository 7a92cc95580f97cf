/* The installation's webhook endpoints and deliveries, and redelivery, for
 * MEDIAGATE_ADMIN_USERS (caller_is_admin). */
#include "handlers.h"

int handle_webhooks_list(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_webhook_deliveries(request *r)
{
    return reply_error(r, 404, "Not found item.");
}

int handle_webhook_redeliver(request *r)
{
    return reply_error(r, 404, "Not found item.");
}
