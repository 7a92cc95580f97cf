#ifndef MEDIAGATE_ROUTER_H
#define MEDIAGATE_ROUTER_H
#include "request.h"

/* Route flags. */
enum {
    ROUTE_PREFIX = 1,      /* path ends in '/' and matches every path under it */
    ROUTE_STREAM_BODY = 2, /* the handler reads the body itself (request_read) */
    ROUTE_READ = 4,        /* reads only: from the replica when there is one,
                            * from the primary when it is unavailable */
    ROUTE_OWN_QUERY = 8,   /* the query holds the credential (?token=): a
                            * query the parser refuses reaches the handler
                            * with no fields and r->query_status set, so it
                            * answers as for a wrong credential */
    ROUTE_NO_SHED = 16,    /* answered even past MEDIAGATE_QUEUE_WAIT_MS: it
                            * costs no more than the refusal would */
};

/* Who may call a route; the router checks it before the handler runs, so
 * no handler can forget it. */
typedef enum route_auth {
    AUTH_PUBLIC,   /* anyone (the read routes; CORS still applies) */
    AUTH_CALLER,   /* an API key, or the user the site's auth step vouches
                    * for (MEDIAGATE_STREAM_AUTH); r->owner is set */
    AUTH_OWN,      /* the handler's own verifier: a notification backend's
                    * secret, an upload URL's token */
    AUTH_INTERNAL, /* nginx's internal subrequest only: it sets the FastCGI
                    * param MEDIAGATE_SUBREQUEST, which no client header can */
} route_auth;

/* Who may read the answer from a browser on another origin. */
typedef enum route_cors {
    CORS_BROWSER, /* MEDIAGATE_ALLOWED_ORIGINS: an allowed Origin is echoed
                   * (preflights too), any other is refused with 422 */
    CORS_NONE,    /* server to server (senders, nginx itself): no
                   * Access-Control headers ever; a request from a foreign
                   * origin is refused with 403 */
} route_cors;

/* What the app's access log (MEDIAGATE_ACCESS_LOG) keeps of a route. It
 * never holds a query string, so a ?token= stays out of it. */
typedef enum route_log {
    LOG_ALL,    /* every request */
    LOG_ERRORS, /* refusals and failures only (status >= 400): routes nginx
                 * calls for every segment of a broadcast */
    LOG_ROUTE,  /* every request, under the row's path instead of the
                 * request's (paths that carry names the user chose) */
} route_log;

typedef struct route {
    const char *method;
    const char *path;
    handler_fn fn;
    int flags;
    route_auth auth;
    route_cors cors;
    route_log log;
} route;

/* Looks up (method, path). Returns 200 with *fn set, 404 when no route has
 * that path, or 405. *allow is set whenever the path is known: its methods,
 * with HEAD beside GET and OPTIONS, e.g. "GET, HEAD, OPTIONS". */
int router_lookup(const char *method, const char *path, handler_fn *fn,
                  const char **allow);

/* True when the route of (method, path) reads its body itself, so the
 * loop must not read it first. */
bool router_streams_body(const char *method, const char *path);

/* The CORS decision for an Origin: true when there is none (NULL),
 * it is the site's own (cors_same_origin with REQUEST_SCHEME, Host and
 * SERVER_NAME), or MEDIAGATE_ALLOWED_ORIGINS allows it, which sets
 * r->cors_origin to echo it. False: refuse the request. */
bool router_origin_ok(request *r, const char *origin);

/* Runs one request through routing, CORS, the preflight, query parsing
 * and the handler. Returns the status for response_render(); r->log_path
 * is then what the access log shows (NULL: nothing). */
int router_dispatch(request *r);

/* The route table's rows, for /metrics: how many, row i (NULL past the
 * end), and the index of a row (router_count() for NULL). */
size_t router_count(void);
const route *router_row(size_t i);
size_t router_index(const route *rt);

/* The access log's path for a request that ended with status on row rt
 * (NULL: no route matched): path, rt's own path, or NULL to log nothing. */
const char *router_log_path(const route *rt, const char *path, int status);

#endif
