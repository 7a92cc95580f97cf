/* The jwplatform upload target (app/uploads/target.h). Not built yet: the row
 * answers 501 until it is. */
#include "uploads/target.h"

#include "request.h"

int upload_target_jwplatform_create(request *r, const upload_slot *s)
{
    (void)s;
    return reply_error(r, 501, "This upload target is not available yet.");
}
