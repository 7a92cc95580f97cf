#ifndef MEDIAGATE_RESPONSE_H
#define MEDIAGATE_RESPONSE_H
#include <stddef.h>

#include "request.h"

/* The reason phrase for an HTTP status ("OK", "Not Found", …). */
const char *http_reason(int status);

/* True when the If-None-Match header value matches etag (a quoted strong
 * tag), using the weak comparison RFC 9110 prescribes for it. */
bool etag_matches(const char *if_none_match, const char *etag);

typedef struct rendered {
    char *data;     /* headers and body, ready for the FastCGI stream */
    size_t len;
    size_t body_len;
    int status;     /* the status actually sent (200 may become 304) */
} rendered;

/* The one place that writes a status line and headers. Serializes r->out,
 * adds ETag / 304, Cache-Control, Vary, CORS, Allow and Retry-After, and
 * renders everything into arena memory. Returns 0, or -1 on out-of-memory. */
int response_render(request *r, int status, rendered *out);

#endif
