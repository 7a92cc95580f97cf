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

/* The credential a route accepts. The router reads it (caller.h) and sets
 * r->caller before the handler runs, so no handler can forget it.
 * AUTH_CALLER is 0: a row that names none asks for the most. */
typedef enum route_auth {
    AUTH_CALLER,   /* an owner, as MEDIAGATE_STREAM_AUTH says: an API key, or
                    * the user the site's auth step vouches for; refused 401
                    * without one; r->caller->owner is set (CALLER_OWNER) */
    AUTH_VIEWER,   /* anyone; a caller who brings a credential (API key,
                    * REMOTE_USER, OAuth2 token) is identified, for ACLs, and
                    * refused 401 when it fails (CALLER_OPTIONAL) */
    AUTH_PUBLIC,   /* anyone; no credential is read (CORS still applies) */
    AUTH_OWN,      /* the handler's own verifier: a notification backend's
                    * secret, an upload URL's token */
    AUTH_INTERNAL, /* nginx's internal subrequest only: it sets the FastCGI
                    * param MEDIAGATE_SUBREQUEST, which no client header can */
} route_auth;

/* Who may read the answer from a browser on another origin. */
typedef enum route_cors {
    CORS_BROWSER, /* MEDIAGATE_ALLOWED_ORIGINS: an allowed Origin is echoed
                   * (preflights too), any other is refused with 422 */
    CORS_TUS,     /* as CORS_BROWSER, for the tus protocol (handlers/tus.c):
                   * its headers in preflights and exposed, Tus-Resumable on
                   * every answer, its discovery headers on OPTIONS */
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

/* Runs one request through routing, CORS, the preflight, query parsing,
 * the row's credential and the handler. Returns the status for response_render(); r->log_path
 * is then what the access log shows (NULL: nothing). */
int router_dispatch(request *r);

/* The route table's rows, for /metrics: how many, and a label for each
 * ("GET /media/status", in the table's order, static), for
 * metrics_routes() at start; and the index of a row (router_count() for
 * NULL), for metrics_request(). */
size_t router_count(void);
const char *const *router_labels(void);
size_t router_index(const route *rt);

/* The access log's path for a request that ended with status on row rt
 * (NULL: no route matched): path, rt's own path, or NULL to log nothing. */
const char *router_log_path(const route *rt, const char *path, int status);

#endif
