#include "router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "handlers.h"

/* The route table: adding a route is one row here and one file in
 * handlers/. */
static const route routes[] = {
    {"GET", "/media/job_id", handle_media_job_id, ROUTE_READ, AUTH_PUBLIC, CORS_BROWSER, LOG_ALL},
    {"GET", "/media/status", handle_media_status, ROUTE_READ, AUTH_PUBLIC, CORS_BROWSER, LOG_ALL},
    {"POST", "/media/jobs", handle_media_jobs, 0, AUTH_CALLER, CORS_BROWSER, LOG_ALL},
    /* /notifications/<backend>: each sender's verifier is its row in
     * notify_backends[] (handlers/notify/notify.c) */
    {"POST", "/notifications/", handle_notify, ROUTE_PREFIX, AUTH_OWN, CORS_NONE, LOG_ALL},
    {"POST", "/stream/start", handle_stream_start, 0, AUTH_CALLER, CORS_BROWSER, LOG_ALL},
    {"POST", "/stream/stop", handle_stream_stop, 0, AUTH_CALLER, CORS_BROWSER, LOG_ALL},
    {"GET", "/stream/status", handle_stream_status, 0, AUTH_CALLER, CORS_BROWSER, LOG_ALL},
    /* nginx asks for every HLS segment a broadcaster PUTs */
    {"GET", "/stream/upload_auth", handle_stream_upload_auth, 0, AUTH_INTERNAL, CORS_NONE,
     LOG_ERRORS},
    {"POST", "/uploads", handle_uploads_create, 0, AUTH_CALLER, CORS_BROWSER, LOG_ALL},
    /* a slot's token, or an API key for PUT /uploads/<name>; the path holds
     * the uploader's file name */
    {"PUT", "/uploads/", handle_uploads_put, ROUTE_PREFIX | ROUTE_STREAM_BODY | ROUTE_OWN_QUERY,
     AUTH_OWN, CORS_BROWSER, LOG_ROUTE},
    /* probes and the scraper: no browser reads them, nor are they logged
     * unless they fail; nginx/mediagate.conf keeps /metrics on loopback */
    {"GET", "/healthz", handle_healthz, ROUTE_NO_SHED, AUTH_PUBLIC, CORS_NONE, LOG_ERRORS},
    {"GET", "/readyz", handle_readyz, 0, AUTH_PUBLIC, CORS_NONE, LOG_ERRORS},
    {"GET", "/metrics", handle_metrics, 0, AUTH_PUBLIC, CORS_NONE, LOG_ERRORS},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static char allow_of[NROUTES][128];
static pthread_once_t allow_once = PTHREAD_ONCE_INIT;

/* True when path is routes[i]'s: equal, or under it for a prefix row. */
static bool path_matches(const route *rt, const char *path)
{
    if (rt->flags & ROUTE_PREFIX)
        return strncmp(rt->path, path, strlen(rt->path)) == 0 && path[strlen(rt->path)];
    return strcmp(rt->path, path) == 0;
}

/* Fills allow_of[i] with every method served at routes[i].path. */
static void build_allow(void)
{
    for (size_t i = 0; i < NROUTES; i++) {
        char *a = allow_of[i];
        size_t n = 0;
        a[0] = '\0';
        for (size_t j = 0; j < NROUTES; j++) {
            if (strcmp(routes[i].path, routes[j].path) != 0)
                continue;
            n += (size_t)snprintf(a + n, sizeof allow_of[i] - n, "%s%s", n ? ", " : "",
                                  routes[j].method);
            if (strcmp(routes[j].method, "GET") == 0)
                n += (size_t)snprintf(a + n, sizeof allow_of[i] - n, ", HEAD");
        }
        snprintf(a + n, sizeof allow_of[i] - n, ", OPTIONS");
    }
}

/* The row for (method, path) in *rt: 200; or 405 with *rt the path's first
 * row; or 404 with *rt NULL. *allow as for router_lookup. */
static int find(const char *method, const char *path, const route **rt, const char **allow)
{
    pthread_once(&allow_once, build_allow);
    *rt = NULL;
    *allow = NULL;
    for (size_t i = 0; path && i < NROUTES; i++) {
        if (!path_matches(&routes[i], path))
            continue;
        if (!*rt) {
            *rt = &routes[i];
            *allow = allow_of[i];
        }
        if (method && strcmp(routes[i].method, method) == 0) {
            *rt = &routes[i];
            return 200;
        }
    }
    return *rt ? 405 : 404;
}

int router_lookup(const char *method, const char *path, handler_fn *fn,
                  const char **allow)
{
    const route *rt;
    int st = find(method, path, &rt, allow);
    *fn = st == 200 ? rt->fn : NULL;
    return st;
}

bool router_streams_body(const char *method, const char *path)
{
    const route *rt;
    const char *allow;
    return find(method, path, &rt, &allow) == 200 && (rt->flags & ROUTE_STREAM_BODY);
}

bool router_origin_ok(request *r, const char *origin)
{
    if (!origin ||
        cors_same_origin(origin, request_param(r, "REQUEST_SCHEME"), request_param(r, "HTTP_HOST"),
                         request_param(r, "SERVER_NAME")))
        return true;
    if (!cors_allowed(&r->cfg->origins, origin, strlen(origin)))
        return false;
    r->cors_origin = origin;
    return true;
}

size_t router_count(void)
{
    return NROUTES;
}

const route *router_row(size_t i)
{
    return i < NROUTES ? &routes[i] : NULL;
}

size_t router_index(const route *rt)
{
    return rt && rt >= routes && rt < routes + NROUTES ? (size_t)(rt - routes) : NROUTES;
}

const char *router_log_path(const route *rt, const char *path, int status)
{
    if (!rt)
        return path;
    if (rt->log == LOG_ERRORS && status < 400)
        return NULL;
    return rt->log == LOG_ROUTE ? rt->path : path;
}

/* A request that waited for a thread past MEDIAGATE_QUEUE_WAIT_MS: its
 * caller has waited long enough, and the threads are behind. It is
 * answered 503 + Retry-After at once, without its route running, so the
 * queue drains at the cost of a refusal. One log line a second at most
 * says how many. */
static int shed(request *r)
{
    static atomic_ulong pending;
    static _Atomic long long last_log_s;
    metrics_request_shed();
    unsigned long n = atomic_fetch_add(&pending, 1) + 1;
    long long now = (long long)time(NULL), last = atomic_load(&last_log_s);
    if (now != last && atomic_compare_exchange_strong(&last_log_s, &last, now)) {
        n = atomic_exchange(&pending, 0);
        log_warn("queue wait %lld ms passed MEDIAGATE_QUEUE_WAIT_MS (%ld ms): answered 503 without "
                 "running the route (%lu such request%s since the last line)",
                 r->queue_wait_ms, r->cfg->queue_wait_ms, n, n == 1 ? "" : "s");
    }
    return reply_error(r, 503, "mediagate is overloaded; retry later.");
}

int router_dispatch(request *r)
{
    const route *rt;
    int st = find(r->method, r->path, &rt, &r->allow);
    if (st == 404)
        return reply_error(r, 404, "No route matches.");
    /* Not there for anyone else: the same answer as no route at all. */
    if (rt->auth == AUTH_INTERNAL && !request_param(r, "MEDIAGATE_SUBREQUEST")) {
        r->allow = NULL;
        return reply_error(r, 404, "No route matches.");
    }

    r->route = rt;
    if (rt->cors == CORS_NONE) {
        /* Never read from a browser: no Access-Control headers, and a
         * foreign origin's request does not run at all. */
        if (r->origin &&
            !cors_same_origin(r->origin, request_param(r, "REQUEST_SCHEME"),
                              request_param(r, "HTTP_HOST"), request_param(r, "SERVER_NAME")))
            return reply_error(r, 403, "This route is not for browsers.");
    } else if (!router_origin_ok(r, r->origin))
        return reply_error(r, 422, "ORIGIN is invalid.");
    if (strcmp(r->method, "OPTIONS") == 0) {
        r->preflight = true;
        r->cache_control = "no-store";
        return 204;
    }
    if (r->cfg->queue_wait_ms > 0 && r->queue_wait_ms > r->cfg->queue_wait_ms &&
        !(rt->flags & ROUTE_NO_SHED))
        return shed(r);
    if (st == 405)
        return reply_error(r, 405, "Method not allowed.");
    if (r->body_status)
        return reply_error(r, r->body_status, r->body_error);

    if (r->query && (st = parse_query(r->a, r->query, strlen(r->query), &r->qp)) != PARSE_OK) {
        if (st != PARSE_NOMEM && (rt->flags & ROUTE_OWN_QUERY)) {
            r->qp = (params){NULL, 0};
            r->query_status = st;
        } else
            switch (st) {
            case PARSE_NUL:
                return reply_error(r, 400, "The query string contains a NUL byte.");
            case PARSE_UTF8:
                return reply_error(r, 400, "The query string is not valid UTF-8.");
            case PARSE_TOO_MANY:
                return reply_error(r, 400, "The query string has too many parameters.");
            case PARSE_NOMEM:
                return reply_error(r, 500, "Out of memory.");
            default:
                return reply_error(r, 400, "The query string has a malformed escape.");
            }
    }
    if (rt->auth == AUTH_CALLER && (st = stream_caller(r, &r->owner)) != 0)
        return st;
    /* A write may queue tasks: they carry the request's id (the worker logs
     * it). A failure here shows again in the handler's own statement. */
    if (strcmp(rt->method, "GET") != 0 && r->request_id && r->db) {
        PGresult *res = NULL;
        const char *vals[] = {r->request_id};
        db_exec(r->db, STMT_SET_REQUEST_ID, 1, vals, &res);
        PQclear(res);
    }
    if ((rt->flags & ROUTE_READ) && r->read_db && !db_read_usable(r->read_db))
        metrics_read_skipped(); /* the replica's hold-off: the primary answers */
    else if ((rt->flags & ROUTE_READ) && r->read_db) {
        struct db *primary = r->db;
        r->db = r->read_db;
        st = rt->fn(r);
        r->db = primary;
        if (st != 503)
            return st;
        /* The replica is unavailable: a read is safe to run again, on the
         * primary. */
        metrics_read_fallback();
        json_object_put(r->out);
        r->out = NULL;
        r->cache_control = NULL;
        r->etag = false;
        r->etag_extra = NULL;
    }
    return rt->fn(r);
}
