#ifndef MEDIAGATE_ROUTER_H
#define MEDIAGATE_ROUTER_H
#include "request.h"

typedef struct route {
    const char *method;
    const char *path;
    handler_fn fn;
} route;

/* Looks up (method, path). Returns 200 with *fn set, 404 when no route has
 * that path, or 405. *allow is set whenever the path is known: its methods,
 * with HEAD beside GET and OPTIONS, e.g. "GET, HEAD, OPTIONS". */
int router_lookup(const char *method, const char *path, handler_fn *fn,
                  const char **allow);

/* The CORS decision for an Origin: true when there is none (NULL),
 * it is the site's own (cors_same_origin with REQUEST_SCHEME, Host and
 * SERVER_NAME), or MEDIAGATE_ALLOWED_ORIGINS allows it, which sets
 * r->cors_origin to echo it. False: refuse the request. */
bool router_origin_ok(request *r, const char *origin);

/* Runs one request through routing, CORS, the preflight, query parsing
 * and the handler. Returns the status for response_render(). */
int router_dispatch(request *r);

#endif
