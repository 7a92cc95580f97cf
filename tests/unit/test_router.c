/* Unit tests for app/router.c: the route table, and dispatch of the
 * requests that are answered before a handler needs the database. */
#include <string.h>

#include "caller.h"
#include "check.h"
#include "config.h"
#include "handlers.h"
#include "router.h"
#include "request.h"

#define ALLOW "GET, HEAD, OPTIONS"
#define GOOD_ORIGIN "https://app.example.com"

static void test_lookup(void)
{
    handler_fn fn = handle_media_job_id;
    const char *allow = "unset";

    CHECK_INT(router_lookup("GET", "/media/status", &fn, &allow), 200);
    CHECK(fn == handle_media_status);
    CHECK_STR(allow, ALLOW);
    CHECK_INT(router_lookup("GET", "/media/job_id", &fn, &allow), 200);
    CHECK(fn == handle_media_job_id);
    CHECK_STR(allow, ALLOW);

    static const char *not_get[] = {"POST", "PUT", "DELETE", "PATCH", "get", "OPTIONS"};
    for (size_t i = 0; i < sizeof not_get / sizeof not_get[0]; i++) {
        fn = handle_media_status;
        if (!CHECK_INT(router_lookup(not_get[i], "/media/status", &fn, &allow), 405))
            fprintf(stderr, "  method %s\n", not_get[i]);
        CHECK(fn == NULL);
        CHECK_STR(allow, ALLOW);
    }
    CHECK_INT(router_lookup(NULL, "/media/status", &fn, &allow), 405);
    CHECK_STR(allow, ALLOW);

    /* nginx-rtmp's callbacks are a route of their own, picked before the
     * senders' prefix row; every other sender still takes the prefix row. */
    CHECK_INT(router_lookup("POST", "/notifications/rtmp", &fn, &allow), 200);
    CHECK(fn == handle_rtmp);
    CHECK_STR(allow, "POST, OPTIONS");
    CHECK_INT(router_lookup("GET", "/notifications/rtmp", &fn, &allow), 405);
    CHECK_STR(allow, "POST, OPTIONS");
    static const char *senders[] = {"/notifications/zencoder", "/notifications/rtmpx",
                                    "/notifications/rtmp/", "/notifications/nope"};
    for (size_t i = 0; i < sizeof senders / sizeof senders[0]; i++) {
        fn = NULL;
        if (!CHECK_INT(router_lookup("POST", senders[i], &fn, &allow), 200) ||
            !CHECK(fn == handle_notify))
            fprintf(stderr, "  path %s\n", senders[i]);
    }

    static const char *unknown[] = {"/nope", "", "/", "/media", "/media/status/",
                                    "/MEDIA/STATUS", "/media/status?job_id=1",
                                    "//media/status", "media/status", "/media/statusx"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        fn = handle_media_status;
        allow = "unset";
        if (!CHECK_INT(router_lookup("GET", unknown[i], &fn, &allow), 404))
            fprintf(stderr, "  path \"%s\"\n", unknown[i]);
        CHECK(fn == NULL);
        CHECK(allow == NULL);
    }
    fn = handle_media_status;
    allow = "unset";
    CHECK_INT(router_lookup("GET", NULL, &fn, &allow), 404);
    CHECK(fn == NULL && allow == NULL);
}

/* A fresh request, as serve.c builds it (HEAD already shown as GET). */
static request make(arena *a, const config *cfg, const char *method, const char *path,
                    const char *query, const char *origin)
{
    request r = {0};
    r.a = a;
    r.cfg = cfg;
    r.method = method;
    r.path = path;
    r.query = query;
    r.origin = origin;
    return r;
}

/* Checks r->out is {"success": false, "message": msg}. */
static void check_message(const request *r, const char *msg, int line)
{
    struct json_object *s = NULL, *m = NULL;
    bool ok = r->out && json_object_object_get_ex(r->out, "success", &s) &&
              json_object_is_type(s, json_type_boolean) && !json_object_get_boolean(s) &&
              json_object_object_get_ex(r->out, "message", &m) &&
              strcmp(json_object_get_string(m), msg) == 0;
    if (!check_(ok, __FILE__, line, "error body"))
        fprintf(stderr, "  got %s, want message \"%s\"\n",
                r->out ? json_object_to_json_string(r->out) : "(no body)", msg);
}

static void done(request *r, arena *a)
{
    json_object_put(r->out);
    r->out = NULL;
    arena_reset(a);
}

static void test_dispatch(arena *a, const config *cfg)
{
    request r;

    r = make(a, cfg, "GET", "/nope", "job_id=1", NULL);
    CHECK_INT(router_dispatch(&r), 404);
    check_message(&r, "No route matches.", __LINE__);
    CHECK(r.allow == NULL);
    done(&r, a);

    /* An internal route (nginx's auth_request check) is not there for a
     * request without MEDIAGATE_SUBREQUEST, whatever its headers say. */
    char *hdrs[] = {"HTTP_X_ORIGINAL_METHOD=PUT", "HTTP_X_ORIGINAL_URI=/live/x/y.ts",
                    "HTTP_AUTHORIZATION=Bearer abc", NULL};
    r = make(a, cfg, "GET", "/stream/upload_auth", NULL, NULL);
    r.env = hdrs;
    CHECK_INT(router_dispatch(&r), 404);
    check_message(&r, "No route matches.", __LINE__);
    CHECK(r.allow == NULL);
    done(&r, a);

    /* AUTH_CALLER routes: the router refuses a request without a caller
     * before any handler runs. */
    static const char *caller_routes[][2] = {{"POST", "/stream/start"}, {"POST", "/stream/stop"},
                                             {"GET", "/stream/status"}, {"POST", "/uploads"},
                                             {"POST", "/media/jobs"}};
    for (size_t i = 0; i < sizeof caller_routes / sizeof caller_routes[0]; i++) {
        r = make(a, cfg, caller_routes[i][0], caller_routes[i][1], NULL, NULL);
        CHECK_INT(router_dispatch(&r), 401);
        CHECK(r.caller && !r.caller->owner && !r.caller->authenticated);
        done(&r, a);
    }

    /* A 404 is not a CORS question: no origin check, no echo. */
    r = make(a, cfg, "GET", "/nope", NULL, "https://evil.example.net");
    CHECK_INT(router_dispatch(&r), 404);
    CHECK(r.cors_origin == NULL);
    done(&r, a);

    static const char *bad_origins[] = {"https://evil.example.net",
                                        GOOD_ORIGIN ".evil.net",
                                        "http://app.example.com",
                                        "null",
                                        "",
                                        GOOD_ORIGIN "\r\nX-Injected: 1"};
    for (size_t i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++) {
        r = make(a, cfg, "GET", "/media/status", "job_id=abc", bad_origins[i]);
        if (!CHECK_INT(router_dispatch(&r), 422))
            fprintf(stderr, "  origin \"%s\"\n", bad_origins[i]);
        check_message(&r, "ORIGIN is invalid.", __LINE__);
        CHECK(r.cors_origin == NULL);
        CHECK(!r.preflight);
        done(&r, a);
    }
    /* A refused origin is refused for a preflight too. */
    r = make(a, cfg, "OPTIONS", "/media/status", NULL, "https://evil.example.net");
    CHECK_INT(router_dispatch(&r), 422);
    CHECK(!r.preflight && r.cors_origin == NULL);
    done(&r, a);

    /* The preflight is answered by the router; no handler runs (it would
     * reply 400 for the missing job_id, and it has no database). */
    r = make(a, cfg, "OPTIONS", "/media/status", NULL, GOOD_ORIGIN);
    CHECK_INT(router_dispatch(&r), 204);
    CHECK(r.preflight);
    CHECK_STR(r.cors_origin, GOOD_ORIGIN);
    CHECK_STR(r.allow, ALLOW);
    CHECK(r.out == NULL);
    CHECK_STR(r.cache_control, "no-store");
    done(&r, a);

    r = make(a, cfg, "OPTIONS", "/media/job_id", "input_file=%zz", NULL);
    CHECK_INT(router_dispatch(&r), 204);
    CHECK(r.preflight);
    CHECK(r.cors_origin == NULL);
    CHECK(r.out == NULL);
    done(&r, a);

    r = make(a, cfg, "POST", "/media/status", "job_id=abc", NULL);
    CHECK_INT(router_dispatch(&r), 405);
    check_message(&r, "Method not allowed.", __LINE__);
    CHECK_STR(r.allow, ALLOW);
    done(&r, a);

    r = make(a, cfg, "DELETE", "/media/job_id", NULL, GOOD_ORIGIN);
    CHECK_INT(router_dispatch(&r), 405);
    CHECK_STR(r.cors_origin, GOOD_ORIGIN);
    CHECK_STR(r.allow, ALLOW);
    done(&r, a);

    static const char *bad_query[] = {"%zz", "job_id=%zz", "job_id=%4", "job_id=abc&x=%"};
    for (size_t i = 0; i < sizeof bad_query / sizeof bad_query[0]; i++) {
        r = make(a, cfg, "GET", "/media/status", bad_query[i], NULL);
        if (!CHECK_INT(router_dispatch(&r), 400))
            fprintf(stderr, "  query \"%s\"\n", bad_query[i]);
        check_message(&r, "The query string has a malformed escape.", __LINE__);
        done(&r, a);
    }
    r = make(a, cfg, "GET", "/media/status", "job_id=a%00b", NULL);
    CHECK_INT(router_dispatch(&r), 400);
    check_message(&r, "The query string contains a NUL byte.", __LINE__);
    done(&r, a);

    /* Not UTF-8: refused by the parser, before the handler or any caller
     * check runs (r.db is NULL here). */
    static const char *not_utf8[] = {"input_file=%FF", "input_file=a%C3%28b", "%C0%AF=1",
                                     "input_file=%ED%A0%80", "input_file=\xff"};
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        r = make(a, cfg, "GET", "/media/job_id", not_utf8[i], GOOD_ORIGIN);
        if (!CHECK_INT(router_dispatch(&r), 400))
            fprintf(stderr, "  query \"%s\"\n", not_utf8[i]);
        check_message(&r, "The query string is not valid UTF-8.", __LINE__);
        CHECK_STR(r.cors_origin, GOOD_ORIGIN);
        done(&r, a);
    }

    char many[PARAMS_MAX * 2 + 8];
    size_t n = 0;
    for (int i = 0; i <= PARAMS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%sx", i ? "&" : "");
    r = make(a, cfg, "GET", "/media/status", many, NULL);
    CHECK_INT(router_dispatch(&r), 400);
    check_message(&r, "The query string has too many parameters.", __LINE__);
    done(&r, a);

    r = make(a, cfg, "GET", "/media/job_id", "input_file=a.mp4", GOOD_ORIGIN);
    r.body_status = 413;
    r.body_error = "The request body is larger than this server accepts.";
    CHECK_INT(router_dispatch(&r), 413);
    check_message(&r, "The request body is larger than this server accepts.", __LINE__);
    CHECK_STR(r.cors_origin, GOOD_ORIGIN);
    done(&r, a);

    /* The handlers check their parameter before touching the database, so
     * these reach them safely with r->db NULL. */
    r = make(a, cfg, "GET", "/media/status", NULL, GOOD_ORIGIN);
    CHECK_INT(router_dispatch(&r), 400);
    check_message(&r, "Not found parameter.", __LINE__);
    CHECK_STR(r.cors_origin, GOOD_ORIGIN);
    done(&r, a);

    r = make(a, cfg, "GET", "/media/status", "other=1", NULL);
    CHECK_INT(router_dispatch(&r), 400);
    check_message(&r, "Not found parameter job_id.", __LINE__);
    done(&r, a);

    r = make(a, cfg, "GET", "/media/job_id", "input_file=", NULL);
    CHECK_INT(router_dispatch(&r), 422);
    check_message(&r, "Not exist parameter input_file.", __LINE__);
    CHECK_INT(r.qp.n, 1);
    done(&r, a);

    /* ROUTE_OWN_QUERY: the upload PUT's handler gets a refused query (its
     * ?token=) empty, with the reason, and answers it (here: uploads are
     * not configured); the router does not. */
    static const char *own[] = {"token=%zz", "token=%FF", "token=a%00b"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        r = make(a, cfg, "PUT", "/uploads/0b6f1f8e-5d3a-4c1e-9f59-7d8f2a1c3b4e/x.mp4", own[i],
                 NULL);
        if (!CHECK_INT(router_dispatch(&r), 403))
            fprintf(stderr, "  query \"%s\"\n", own[i]);
        check_message(&r, "Uploads are not configured (MEDIAGATE_UPLOADS_DIR).", __LINE__);
        CHECK(r.query_status != 0 && r.qp.n == 0);
        done(&r, a);
    }
}

/* The CORS and logging columns of the route table. */
static void test_policy(arena *a, const config *cfg)
{
    request r;
    /* Senders are servers: an allowed browser origin gets no CORS headers
     * and a foreign one does not reach the verifier. */
    static const char *senders[] = {"/notifications/zencoder", "/notifications/tencent",
                                    "/notifications/mediaconvert", "/notifications/rtmp",
                                    "/notifications/nope"};
    for (size_t i = 0; i < sizeof senders / sizeof senders[0]; i++) {
        r = make(a, cfg, "POST", senders[i], NULL, GOOD_ORIGIN);
        if (!CHECK_INT(router_dispatch(&r), 403))
            fprintf(stderr, "  path %s\n", senders[i]);
        check_message(&r, "This route is not for browsers.", __LINE__);
        CHECK(r.cors_origin == NULL);
        done(&r, a);
        r = make(a, cfg, "OPTIONS", senders[i], NULL, GOOD_ORIGIN);
        CHECK_INT(router_dispatch(&r), 403);
        CHECK(r.cors_origin == NULL);
        done(&r, a);
    }
    /* Without an Origin the row's verifier runs: no secret configured. */
    r = make(a, cfg, "POST", "/notifications/zencoder", NULL, NULL);
    CHECK_INT(router_dispatch(&r), 403);
    check_message(&r, "Notifications from zencoder are not configured.", __LINE__);
    done(&r, a);
    r = make(a, cfg, "POST", "/notifications/nope", NULL, NULL);
    CHECK_INT(router_dispatch(&r), 404);
    check_message(&r, "No notification backend has that name.", __LINE__);
    done(&r, a);
    r = make(a, cfg, "POST", "/notifications/", NULL, NULL);
    CHECK_INT(router_dispatch(&r), 404);
    done(&r, a);
    r = make(a, cfg, "GET", "/notifications/zencoder", NULL, NULL);
    CHECK_INT(router_dispatch(&r), 405);
    CHECK_STR(r.allow, "POST, OPTIONS");
    done(&r, a);
    /* nginx-rtmp's callbacks: only from this host. */
    char *far[] = {"REMOTE_ADDR=203.0.113.7", NULL}, *near[] = {"REMOTE_ADDR=127.0.0.1", NULL};
    r = make(a, cfg, "POST", "/notifications/rtmp", NULL, NULL);
    r.env = far;
    CHECK_INT(router_dispatch(&r), 403);
    check_message(&r, "Only nginx on this host may send rtmp callbacks.", __LINE__);
    done(&r, a);
    r = make(a, cfg, "POST", "/notifications/rtmp", NULL, NULL);
    r.env = near;
    CHECK_INT(router_dispatch(&r), 400); /* reaches the handler: no call= */
    check_message(&r, "Not an nginx-rtmp callback: call and name are required.", __LINE__);
    /* ... on its own row: /metrics counts it as "POST /notifications/rtmp",
     * and the access log shows the path as before. */
    CHECK(r.route && strcmp(r.route->path, "/notifications/rtmp") == 0);
    CHECK_STR(router_log_path(r.route, "/notifications/rtmp", 400), "/notifications/rtmp");
    CHECK_STR(router_labels()[router_index(r.route)], "POST /notifications/rtmp");
    done(&r, a);

    /* Browser routes echo an allowed origin, refusals included. */
    r = make(a, cfg, "PUT", "/uploads/x.mp4", NULL, GOOD_ORIGIN);
    CHECK_INT(router_dispatch(&r), 403); /* no MEDIAGATE_UPLOADS_DIR here */
    CHECK_STR(r.cors_origin, GOOD_ORIGIN);
    /* The access log shows the row for paths with the user's file names. */
    CHECK_STR(router_log_path(r.route, "/uploads/x.mp4", 401), "/uploads/");
    done(&r, a);
    r = make(a, cfg, "GET", "/media/status", "other=1", NULL);
    CHECK_INT(router_dispatch(&r), 400);
    CHECK_STR(router_log_path(r.route, "/media/status", 200), "/media/status");
    done(&r, a);
    CHECK_STR(router_log_path(NULL, "/nope", 404), "/nope");
    /* nginx's per-segment check logs only its refusals. */
    char *sub[] = {"MEDIAGATE_SUBREQUEST=1", NULL};
    r = make(a, cfg, "GET", "/stream/upload_auth", NULL, NULL);
    r.env = sub;
    (void)router_dispatch(&r);
    CHECK(r.route != NULL);
    CHECK(router_log_path(r.route, "/stream/upload_auth", 200) == NULL);
    CHECK_STR(router_log_path(r.route, "/stream/upload_auth", 403), "/stream/upload_auth");
    done(&r, a);
}

/* The router reads the credential a row accepts and sets r->caller before
 * the handler runs (caller.h); these requests need no database. */
static void test_callers(arena *a, const config *cfg)
{
    request r;
    config trusting = *cfg;
    trusting.trust_remote_user = true;
    char *basic[] = {"HTTP_AUTHORIZATION=Basic abc", NULL};
    char *empty[] = {"HTTP_AUTHORIZATION=Bearer ", NULL};
    char *alice[] = {"REMOTE_USER=alice", "HTTP_AUTHORIZATION=Basic abc", NULL};

    /* AUTH_VIEWER: a credential of another form is refused before the
     * handler looks anything up, with or without a job_id. */
    static const char *viewer_queries[] = {"job_id=1", NULL};
    for (size_t i = 0; i < 2; i++) {
        r = make(a, cfg, "GET", "/media/status", viewer_queries[i], NULL);
        r.env = basic;
        CHECK_INT(router_dispatch(&r), 401);
        check_message(&r, "Authorization must be Bearer <API key or OAuth2 token>.", __LINE__);
        CHECK(r.caller && !r.caller->authenticated);
        done(&r, a);
    }
    r = make(a, cfg, "GET", "/media/job_id", "input_file=x", NULL);
    r.env = empty;
    CHECK_INT(router_dispatch(&r), 401);
    done(&r, a);
    /* The site's user comes first when it is trusted, and the handler
     * sees it (here it refuses the query). */
    r = make(a, &trusting, "GET", "/media/status", "other=1", NULL);
    r.env = alice;
    CHECK_INT(router_dispatch(&r), 400);
    check_message(&r, "Not found parameter job_id.", __LINE__);
    CHECK(r.caller && r.caller->authenticated);
    CHECK_STR(r.caller->kind, "remote_user");
    CHECK_STR(r.caller->user, "alice");
    CHECK_STR(r.caller->owner, "user:alice");
    done(&r, a);

    /* AUTH_CALLER: an owner or 401, as MEDIAGATE_STREAM_AUTH says. */
    r = make(a, &trusting, "GET", "/stream/status", NULL, NULL);
    r.env = alice;
    CHECK_INT(router_dispatch(&r), 400); /* the handler ran: no id */
    check_message(&r, "Not found parameter id.", __LINE__);
    CHECK_STR(r.caller->owner, "user:alice");
    done(&r, a);
    r = make(a, &trusting, "GET", "/stream/status", NULL, NULL);
    r.env = basic;
    CHECK_INT(router_dispatch(&r), 401);
    check_message(&r, "Authentication required.", __LINE__);
    done(&r, a);
    r = make(a, cfg, "POST", "/stream/start", NULL, NULL);
    r.env = alice; /* not trusted here */
    CHECK_INT(router_dispatch(&r), 401);
    check_message(&r, "Authentication required: Authorization: Bearer <API key>.", __LINE__);
    CHECK(r.caller && !r.caller->owner);
    done(&r, a);

    /* AUTH_PUBLIC reads no credential: a malformed one changes nothing. */
    r = make(a, &trusting, "GET", "/healthz", NULL, NULL);
    r.env = alice;
    CHECK_INT(router_dispatch(&r), 200);
    CHECK(r.caller && !r.caller->authenticated && !r.caller->user);
    CHECK_STR(r.caller->kind, "anonymous");
    done(&r, a);

    /* The one Bearer parser. */
    static const struct {
        const char *env, *token;
        bool given;
    } bearers[] = {
        {NULL, NULL, false},
        {"HTTP_AUTHORIZATION=", NULL, false},
        {"HTTP_AUTHORIZATION=Bearer ", NULL, true},
        {"HTTP_AUTHORIZATION=Bearer", NULL, true},
        {"HTTP_AUTHORIZATION=Basic abc", NULL, true},
        {"HTTP_AUTHORIZATION=Bearerabc", NULL, true},
        {"HTTP_AUTHORIZATION=Bearer abc", "abc", true},
        {"HTTP_AUTHORIZATION=bEARER mgk_1", "mgk_1", true},
        {"HTTP_AUTHORIZATION=Bearer  two", "two", true}, /* RFC 6750: 1*SP */
        {"HTTP_AUTHORIZATION=Bearer    mgs_3", "mgs_3", true},
        {"HTTP_AUTHORIZATION=Bearer    ", NULL, true},
    };
    for (size_t i = 0; i < sizeof bearers / sizeof bearers[0]; i++) {
        char *env[] = {(char *)bearers[i].env, NULL};
        bool given = !bearers[i].given;
        r = make(a, cfg, "GET", "/healthz", NULL, NULL);
        r.env = env;
        const char *t = caller_bearer(&r, &given);
        bool ok = given == bearers[i].given &&
                  (t && bearers[i].token ? strcmp(t, bearers[i].token) == 0 : t == bearers[i].token);
        if (!CHECK(ok))
            fprintf(stderr, "  %s: got \"%s\"\n", bearers[i].env ? bearers[i].env : "(none)",
                    t ? t : "(null)");
        done(&r, a);
    }
}

int main(void)
{
    config cfg = {0};
    char err[256];
    arena a;
    test_lookup();
    if (!CHECK_INT(cors_compile(&cfg.origins, "https://app\\.example\\.com", err,
                                sizeof err), 0))
        return CHECK_DONE("test_router");
    cfg.retry_after = 2;
    cfg.uploads_dir = "";
    arena_init(&a, 0);
    test_dispatch(&a, &cfg);
    test_callers(&a, &cfg);
    test_policy(&a, &cfg);
    arena_free(&a);
    cors_free(&cfg.origins);
    return CHECK_DONE("test_router");
}
