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

/* Runs one request through routing, CORS, the preflight, query parsing
 * and the handler. Returns the status for response_render(). */
int router_dispatch(request *r);

#endif
