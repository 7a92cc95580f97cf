#include "router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "caller.h"
#include "config.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"

/* The route table: adding a route is one row here and one file in
 * handlers/. */
static const route routes[] = {
    {.method = "GET", .path = "/media/job_id", .fn = handle_media_job_id, .flags = ROUTE_READ,
     .auth = AUTH_VIEWER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "GET", .path = "/media/status", .fn = handle_media_status, .flags = ROUTE_READ,
     .auth = AUTH_VIEWER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* a private job's playlists from the bucket: the signature in the path
     * is the credential (app/playback.h), so the log names only the row */
    {.method = "GET", .path = "/media/hls/", .fn = handle_media_hls,
     .flags = ROUTE_PREFIX | ROUTE_READ, .auth = AUTH_PUBLIC, .cors = CORS_BROWSER,
     .log = LOG_ROUTE},
    /* an encrypted job's HLS key: the caller's identity is the credential */
    {.method = "GET", .path = "/media/key/", .fn = handle_media_key,
     .flags = ROUTE_PREFIX | ROUTE_READ, .auth = AUTH_VIEWER, .cors = CORS_BROWSER,
     .log = LOG_ALL},
    /* not ROUTE_READ: a first request writes (its row, its task) */
    {.method = "GET", .path = "/media/thumbnail", .fn = handle_media_thumbnail,
     .auth = AUTH_VIEWER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "PUT", .path = "/media/captions/", .fn = handle_captions_put,
     .flags = ROUTE_PREFIX, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "DELETE", .path = "/media/captions/", .fn = handle_captions_delete,
     .flags = ROUTE_PREFIX, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "POST", .path = "/media/jobs", .fn = handle_media_jobs,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* the library: the caller's jobs (owner, or named by the ACL), newest
     * first; one job; its edit (ACL, title) and deletion by its owner */
    {.method = "GET", .path = "/media/jobs", .fn = handle_media_list, .flags = ROUTE_READ,
     .auth = AUTH_VIEWER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "GET", .path = "/media/jobs/", .fn = handle_media_job_get,
     .flags = ROUTE_PREFIX | ROUTE_READ, .auth = AUTH_VIEWER, .cors = CORS_BROWSER,
     .log = LOG_ALL},
    {.method = "PATCH", .path = "/media/jobs/", .fn = handle_media_job_patch,
     .flags = ROUTE_PREFIX, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "DELETE", .path = "/media/jobs/", .fn = handle_media_job_delete,
     .flags = ROUTE_PREFIX, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* a job's history: notifications, tasks, webhook deliveries */
    {.method = "GET", .path = "/media/events", .fn = handle_media_events, .flags = ROUTE_READ,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* the installation's webhooks, for MEDIAGATE_ADMIN_USERS */
    {.method = "GET", .path = "/media/webhooks", .fn = handle_webhooks_list, .flags = ROUTE_READ,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "GET", .path = "/media/webhooks/deliveries", .fn = handle_webhook_deliveries,
     .flags = ROUTE_READ, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "POST", .path = "/media/webhooks/deliveries/", .fn = handle_webhook_redeliver,
     .flags = ROUTE_PREFIX, .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* the console's short-lived session, made from an API key; the token
     * is the credential, so the log names only the route */
    {.method = "POST", .path = "/media/session", .fn = handle_session_create,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ROUTE},
    {.method = "GET", .path = "/media/session", .fn = handle_session_get,
     .auth = AUTH_VIEWER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "DELETE", .path = "/media/session", .fn = handle_session_delete,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* nginx-rtmp's callbacks, from nginx on this host: nginx's questions,
     * not events to store. Before the prefix row below, which find() would
     * otherwise pick first. */
    {.method = "POST", .path = "/notifications/rtmp", .fn = handle_rtmp,
     .auth = AUTH_OWN, .cors = CORS_NONE, .log = LOG_ALL},
    /* /notifications/<backend>: each sender's verifier is its row in
     * notify_backends[] (app/notify/notify.c) */
    {.method = "POST", .path = "/notifications/", .fn = handle_notify, .flags = ROUTE_PREFIX,
     .auth = AUTH_OWN, .cors = CORS_NONE, .log = LOG_ALL},
    {.method = "POST", .path = "/stream/start", .fn = handle_stream_start,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "POST", .path = "/stream/stop", .fn = handle_stream_stop,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "GET", .path = "/stream/status", .fn = handle_stream_status,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    {.method = "GET", .path = "/stream/list", .fn = handle_stream_list, .flags = ROUTE_READ,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* nginx asks for every HLS segment a broadcaster PUTs */
    {.method = "GET", .path = "/stream/upload_auth", .fn = handle_stream_upload_auth,
     .auth = AUTH_INTERNAL, .cors = CORS_NONE, .log = LOG_ERRORS},
    {.method = "POST", .path = "/uploads", .fn = handle_uploads_create,
     .auth = AUTH_CALLER, .cors = CORS_BROWSER, .log = LOG_ALL},
    /* resumable uploads, tus 1.0: before the /uploads/ rows below, which
     * find() would otherwise pick first. The creation with an API key (the
     * handler asks caller_identify); then a slot's tus URL, its token the
     * credential (HEAD arrives as GET) */
    {.method = "POST", .path = "/uploads/tus", .fn = handle_tus_create,
     .flags = ROUTE_STREAM_BODY, .auth = AUTH_OWN, .cors = CORS_TUS, .log = LOG_ALL},
    {.method = "POST", .path = "/uploads/tus/", .fn = handle_tus_create_slot,
     .flags = ROUTE_PREFIX | ROUTE_STREAM_BODY | ROUTE_OWN_QUERY,
     .auth = AUTH_OWN, .cors = CORS_TUS, .log = LOG_ROUTE},
    {.method = "GET", .path = "/uploads/tus/", .fn = handle_tus_head,
     .flags = ROUTE_PREFIX | ROUTE_OWN_QUERY, .auth = AUTH_OWN, .cors = CORS_TUS,
     .log = LOG_ROUTE},
    {.method = "PATCH", .path = "/uploads/tus/", .fn = handle_tus_patch,
     .flags = ROUTE_PREFIX | ROUTE_STREAM_BODY | ROUTE_OWN_QUERY,
     .auth = AUTH_OWN, .cors = CORS_TUS, .log = LOG_ROUTE},
    {.method = "DELETE", .path = "/uploads/tus/", .fn = handle_tus_delete,
     .flags = ROUTE_PREFIX | ROUTE_OWN_QUERY, .auth = AUTH_OWN, .cors = CORS_TUS,
     .log = LOG_ROUTE},
    /* a slot's token, or else an owner as for AUTH_CALLER (the handler asks
     * caller_identify once it knows which); the path holds the uploader's
     * file name */
    {.method = "PUT", .path = "/uploads/", .fn = handle_uploads_put,
     .flags = ROUTE_PREFIX | ROUTE_STREAM_BODY | ROUTE_OWN_QUERY,
     .auth = AUTH_OWN, .cors = CORS_BROWSER, .log = LOG_ROUTE},
    /* S3 storage: the completion call of a slot whose file the client put
     * in the bucket (the slot's token; no body) */
    {.method = "POST", .path = "/uploads/", .fn = handle_uploads_complete,
     .flags = ROUTE_PREFIX | ROUTE_OWN_QUERY,
     .auth = AUTH_OWN, .cors = CORS_BROWSER, .log = LOG_ROUTE},
    /* probes and the scraper: no browser reads them, nor are they logged
     * unless they fail; nginx/mediagate.conf keeps /metrics on loopback */
    {.method = "GET", .path = "/healthz", .fn = handle_healthz, .flags = ROUTE_NO_SHED,
     .auth = AUTH_PUBLIC, .cors = CORS_NONE, .log = LOG_ERRORS},
    {.method = "GET", .path = "/readyz", .fn = handle_readyz,
     .auth = AUTH_PUBLIC, .cors = CORS_NONE, .log = LOG_ERRORS},
    {.method = "GET", .path = "/metrics", .fn = handle_metrics,
     .auth = AUTH_PUBLIC, .cors = CORS_NONE, .log = LOG_ERRORS},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static char allow_of[NROUTES][128];
static char label_of[NROUTES][160];
static const char *labels[NROUTES];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* True when path is routes[i]'s: equal, or under it for a prefix row. */
static bool path_matches(const route *rt, const char *path)
{
    if (rt->flags & ROUTE_PREFIX)
        return strncmp(rt->path, path, strlen(rt->path)) == 0 && path[strlen(rt->path)];
    return strcmp(rt->path, path) == 0;
}

/* Fills allow_of[i] with every method served at routes[i].path, and
 * labels[i] with "<method> <path>". */
static void build_tables(void)
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
        snprintf(label_of[i], sizeof label_of[i], "%s %s", routes[i].method, routes[i].path);
        labels[i] = label_of[i];
    }
}

/* The row for (method, path) in *rt: 200; or 405 with *rt the path's first
 * row; or 404 with *rt NULL. *allow as for router_lookup. */
static int find(const char *method, const char *path, const route **rt, const char **allow)
{
    pthread_once(&tables_once, build_tables);
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

size_t router_count(void)
{
    return NROUTES;
}

const char *const *router_labels(void)
{
    pthread_once(&tables_once, build_tables);
    return labels;
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

/* What the caller of each kind of row must bring. */
static const caller_need need_of[] = {
    [AUTH_CALLER] = CALLER_OWNER,
    [AUTH_VIEWER] = CALLER_OPTIONAL,
    [AUTH_PUBLIC] = CALLER_NONE,
    [AUTH_OWN] = CALLER_NONE, /* the handler's verifier may ask for one */
    [AUTH_INTERNAL] = CALLER_NONE,
};

/* The row's credential, then its handler, on r->db: what a read runs again
 * on the primary when the replica is unavailable. Returns the status. */
static int run(request *r, const route *rt)
{
    int st = caller_identify(r, need_of[rt->auth], r->caller);
    if (st)
        return st;
    /* A write may queue tasks: they carry the request's id (the worker logs
     * it). A failure here shows again in the handler's own statement. */
    if (strcmp(rt->method, "GET") != 0 && r->request_id && r->db) {
        PGresult *res = NULL;
        const char *vals[] = {r->request_id};
        db_exec(r->db, STMT_SET_REQUEST_ID, 1, vals, &res);
        PQclear(res);
    }
    return rt->fn(r);
}

/* Parses r's query into r->qp. Returns 0, or the refusal's status; on a
 * ROUTE_OWN_QUERY row a refused query is no fields and r->query_status. */
static int query_of(request *r, const route *rt)
{
    int st;
    if (!r->query || (st = parse_query(r->a, r->query, strlen(r->query), &r->qp)) == PARSE_OK)
        return 0;
    if (st != PARSE_NOMEM && (rt->flags & ROUTE_OWN_QUERY)) {
        r->qp = (params){NULL, 0};
        r->query_status = st;
        return 0;
    }
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

/* run() for a ROUTE_READ row when there is a replica: on it, unless its
 * breaker is open, and again on the primary when it is unavailable (503). */
static int run_read(request *r, const route *rt)
{
    if (!db_read_usable(r->read_db)) {
        metrics_read_skipped(); /* the replica's hold-off: the primary answers */
        return run(r, rt);
    }
    struct db *primary = r->db;
    r->db = r->read_db;
    int st = run(r, rt);
    r->db = primary;
    if (st != 503 || r->primary_failed)
        return st; /* answered, or the primary itself is unavailable */
    /* The replica is unavailable: a read is safe to run again, on the
     * primary. */
    metrics_read_fallback();
    json_object_put(r->out);
    r->out = NULL;
    r->cache_control = NULL;
    r->etag = false;
    r->etag_extra = NULL;
    return run(r, rt);
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
        if (r->origin && !cors_request_same_origin(r, r->origin))
            return reply_error(r, 403, "This route is not for browsers.");
    } else if (!cors_origin_ok(r, &r->cfg->origins, r->origin))
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

    if ((st = query_of(r, rt)) != 0)
        return st;
    if (!(r->caller = arena_alloc(r->a, sizeof *r->caller)))
        return reply_error(r, 500, "Out of memory.");
    return (rt->flags & ROUTE_READ) && r->read_db ? run_read(r, rt) : run(r, rt);
}
