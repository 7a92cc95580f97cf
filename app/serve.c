#include "serve.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "providers/oauth2.h"
#include "response.h"
#include "router.h"

/* State owned by one request thread. */
typedef struct worker {
    pthread_t tid;
    int listen_fd;
    arena a;
    db db;
    db rdb;        /* the read replica's, when configured */
    bool has_rdb;
    bool unix_socket; /* the listening socket is AF_UNIX */
    _Atomic(const config *) cfg_in_use; /* the settings its request reads */
    atomic_int in_accept;
    atomic_int done;
} worker;

/* The settings requests read. SIGHUP swaps in a new one; the one it
 * replaces is retired, and freed once no thread's cfg_in_use names it.
 * The settings serve started with are never freed (the connections keep
 * them). */
static _Atomic(const config *) live_cfg;
#define MAX_RETIRED 64
static config *retired[MAX_RETIRED];
static size_t nretired;

/* The live settings for one request, announced in w->cfg_in_use before
 * use and checked again after, so a reload cannot free them under it. */
static const config *cfg_acquire(worker *w)
{
    const config *c;
    do {
        c = atomic_load(&live_cfg);
        atomic_store(&w->cfg_in_use, c);
    } while (c != atomic_load(&live_cfg));
    return c;
}

static void cfg_release(worker *w)
{
    atomic_store(&w->cfg_in_use, NULL);
}

/* Frees the retired settings no request thread uses any more. */
static void reap_retired(worker *ws, long n)
{
    for (size_t i = 0; i < nretired;) {
        bool used = false;
        for (long k = 0; k < n && !used; k++)
            used = atomic_load(&ws[k].cfg_in_use) == retired[i];
        if (used) {
            i++;
            continue;
        }
        config_free(retired[i]);
        free(retired[i]);
        retired[i] = retired[--nretired];
    }
}

static unsigned reload_applied, reload_pinned;

static void on_changed(const cfg_setting *s, bool applied)
{
    if (applied) {
        reload_applied++;
        log_info("SIGHUP: %s changed; applied", s->name);
    } else {
        reload_pinned++;
        log_warn("SIGHUP: %s changed, but it needs a restart; the running value stays until then",
                 s->name);
    }
}

static const char *env_of(const char *name)
{
    return getenv(name);
}

/* SIGHUP: reads the settings file and the environment again. A bad file
 * changes nothing; otherwise the reloadable settings take effect for the
 * next request, and each change is logged. */
static void reload(const config *boot, worker *ws, long n)
{
    const config *cur = atomic_load(&live_cfg);
    cfg_errors errs = {0};
    reap_retired(ws, n);
    if (nretired == MAX_RETIRED) {
        log_warn("SIGHUP: earlier settings are still in use; try again later");
        return;
    }
    config *next = calloc(1, sizeof *next);
    if (!next)
        return;
    reload_applied = reload_pinned = 0;
    size_t bad = config_reload(cur, next, cur->source, env_of, &errs, on_changed);
    if (bad) {
        log_error("SIGHUP: %zu problem%s in the settings%s%s; the running settings stay", bad,
                  bad == 1 ? "" : "s", cur->source ? " of " : "", cur->source ? cur->source : "");
        for (size_t i = 0; i < errs.n; i++)
            log_error("SIGHUP: %s", errs.msg[i]);
        cfg_errors_free(&errs);
        config_free(next);
        free(next);
        return;
    }
    cfg_errors_free(&errs);
    atomic_store(&live_cfg, next);
    log_set_json(next->log_json);
    if (cur != boot)
        retired[nretired++] = (config *)cur;
    log_info("SIGHUP: settings re-read from %s: %u applied, %u need a restart",
             cur->source ? cur->source : "the environment", reload_applied, reload_pinned);
}

static atomic_int stopping;
static ino_t socket_ino; /* the socket file we created, to remove only ours */

/* Removes the socket file if it is still the one this process created. */
static void remove_own_socket(const char *path)
{
    struct stat st;
    if (socket_ino && stat(path, &st) == 0 && st.st_ino == socket_ino)
        unlink(path);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *fcgi_param(FCGX_Request *req, const char *name)
{
    const char *v = FCGX_GetParam(name, req->envp);
    return v && *v ? v : NULL;
}

/* The request path without the query, from DOCUMENT_URI (nginx's
 * normalized path) or else REQUEST_URI; NULL when the mount prefix is set
 * and the path lies outside it. nginx/mediagate-upload.conf's internal
 * locations name fixed, unprefixed paths and say so with
 * MEDIAGATE_UNPREFIXED (a FastCGI param, which no client can send). */
static const char *request_path(request *r, FCGX_Request *req)
{
    const char *p = fcgi_param(req, "DOCUMENT_URI");
    if (!p) {
        const char *uri = fcgi_param(req, "REQUEST_URI");
        if (!uri)
            return NULL;
        const char *q = strchr(uri, '?');
        p = q ? arena_strndup(r->a, uri, (size_t)(q - uri)) : uri;
        if (!p)
            return NULL;
    }
    const char *prefix = r->cfg->prefix;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen == 0 || fcgi_param(req, "MEDIAGATE_UNPREFIXED"))
        return p;
    if (strncmp(p, prefix, plen) != 0 || p[plen] != '/')
        return NULL;
    return p + plen;
}

/* Reads a body of exactly the declared length, or records why not. */
static void read_body(request *r, FCGX_Request *req)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    size_t len = 0;
    switch (parse_content_length(cl, cl ? strlen(cl) : 0, (size_t)r->cfg->max_body, &len)) {
    case PARSE_OK:
        break;
    case PARSE_TOO_LARGE:
        r->body_status = 413;
        r->body_error = "The request body is larger than this server accepts.";
        return;
    default:
        r->body_status = 400;
        r->body_error = "Content-Length is malformed.";
        return;
    }
    if (len == 0)
        return;
    char *b = arena_alloc(r->a, len + 1);
    if (!b) {
        r->body_status = 413;
        r->body_error = "The request body is larger than this server accepts.";
        return;
    }
    size_t got = 0;
    while (got < len) {
        int n = FCGX_GetStr(b + got, (int)(len - got), req->in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != len) {
        r->body_status = 400;
        r->body_error = "The request body is shorter than Content-Length.";
        return;
    }
    b[len] = '\0';
    r->body = b;
    r->body_len = len;
}

/* The request's id: nginx's $request_id (the snippet passes it as
 * MEDIAGATE_REQUEST_ID, which no client can set) when it looks like one,
 * else 128 random bits in hex, in buf. */
static const char *request_id_of(FCGX_Request *req, char buf[33])
{
    const char *v = fcgi_param(req, "MEDIAGATE_REQUEST_ID");
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
    if (v && strlen(v) <= 64 && strspn(v, ok) == strlen(v))
        return v;
    unsigned char rnd[16];
    static const char hex[] = "0123456789abcdef";
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static atomic_ullong seq;
        long long t = now_us();
        unsigned long long k = atomic_fetch_add(&seq, 1);
        memcpy(rnd, &t, sizeof t);
        memcpy(rnd + 8, &k, sizeof k);
    }
    for (int i = 0; i < 16; i++) {
        buf[2 * i] = hex[rnd[i] >> 4];
        buf[2 * i + 1] = hex[rnd[i] & 15];
    }
    buf[32] = '\0';
    return buf;
}

/* How long the request waited between nginx passing it on (its $msec in
 * MEDIAGATE_REQUEST_START, which nginx sets and no client can) and now, in
 * ms; -1 when nginx did not say. Both clocks are the wall clock: nginx on
 * another host needs a synchronized one. */
static long long queue_wait_of(FCGX_Request *req)
{
    const char *v = fcgi_param(req, "MEDIAGATE_REQUEST_START");
    long long start;
    struct timespec ts;
    if (!v || !parse_msec(v, strlen(v), &start) || clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    long long waited = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - start;
    return waited < 0 ? 0 : waited;
}

/* Answers one request. Returns true when its body was read in full (or
 * it had none), so nothing of it is left unread on the connection. */
static bool handle(worker *w, FCGX_Request *req)
{
    long long t0 = now_us();
    request r = {0};
    r.queue_wait_ms = queue_wait_of(req);
    rendered out;
    char idbuf[33];
    r.a = &w->a;
    r.cfg = cfg_acquire(w);
    r.db = r.primary_db = &w->db;
    r.read_db = w->has_rdb ? &w->rdb : NULL;
    r.request_id = request_id_of(req, idbuf);
    log_set_request_id(r.request_id);
    const char *method = fcgi_param(req, "REQUEST_METHOD");
    r.method = method ? method : "GET";
    r.head = strcmp(r.method, "HEAD") == 0;
    if (r.head)
        r.method = "GET";
    r.path = request_path(&r, req);
    r.query = fcgi_param(req, "QUERY_STRING");
    r.origin = fcgi_param(req, "HTTP_ORIGIN");
    r.if_none_match = fcgi_param(req, "HTTP_IF_NONE_MATCH");
    r.content_type = fcgi_param(req, "CONTENT_TYPE");
    r.env = req->envp;
    if (router_streams_body(r.method, r.path))
        r.in = req->in; /* the handler reads it, however large */
    else
        read_body(&r, req);

    int status = router_dispatch(&r);
    if (response_render(&r, status, &out) != 0) {
        static const char oom[] = "Status: 500 Internal Server Error\r\n"
                                  "Content-Length: 0\r\nCache-Control: no-store\r\n\r\n";
        out = (rendered){(char *)oom, sizeof oom - 1, 0, 500};
    }
    FCGX_PutStr(out.data, (int)out.len, req->out);
    long long took = now_us() - t0;
    metrics_request(router_index(r.route), method, out.status, took);
    const char *logged = router_log_path(r.route, fcgi_param(req, "DOCUMENT_URI"), out.status);
    if (r.cfg->access_log && logged)
        log_access(method ? method : "-", logged, out.status, took, out.body_len);
    log_set_request_id(NULL);
    cfg_release(w);
    json_object_put(r.out);
    arena_reset(&w->a);
    return !r.in && !r.body_status;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    FCGX_Request req;
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &wake, NULL);

    if (FCGX_InitRequest(&req, w->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest failed");
        goto out;
    }
    while (!atomic_load(&stopping)) {
        atomic_store(&w->in_accept, 1);
        int rc = atomic_load(&stopping) ? -1 : FCGX_Accept_r(&req);
        atomic_store(&w->in_accept, 0);
        if (rc < 0) {
            if (atomic_load(&stopping))
                break;
            if (rc != -EINTR) {
                log_warn("accept failed: %s", strerror(-rc));
                usleep(10000);
            }
            continue;
        }
        bool read_all = handle(w, &req);
        /* libfcgi closes a connection gracefully: shutdown, then up to 2 s
         * waiting for nginx to close its end. A busy nginx takes that long,
         * and the thread serves nothing meanwhile: under overload that wait
         * was the app's throughput. On a unix socket, once the body was
         * read, a plain close loses nothing (nginx reads the whole answer
         * before the end of the stream), so the request is detached and
         * closed at once. A streamed body (an upload) keeps the graceful
         * close, which lets nginx finish sending what was not read. */
        if (w->unix_socket && read_all)
            FCGX_Detach(&req);
        FCGX_Finish_r(&req);
    }
out:
    db_close(&w->db);
    if (w->has_rdb)
        db_close(&w->rdb);
    arena_free(&w->a);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Creates the unix socket at path with mode 0660 (and the configured
 * group) from the start, replacing a stale socket but nothing else.
 * Returns the listening fd or -1. */
static int open_unix_socket(const config *cfg)
{
    int fd = -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cfg->socket);
    if (lstat(cfg->socket, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("%s exists and is not a socket; refusing to replace it", cfg->socket);
            return -1;
        }
        /* Replace a stale socket, never a live one. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            log_error("%s is in use by a running server; refusing to take it over", cfg->socket);
            return -1;
        }
        unlink(cfg->socket);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0) {
        log_error("bind %s: %s", cfg->socket, strerror(errno));
        goto fail;
    }
    if (stat(cfg->socket, &st) == 0)
        socket_ino = st.st_ino;
    if (cfg->has_socket_gid && chown(cfg->socket, (uid_t)-1, cfg->socket_gid) != 0) {
        log_error("chown %s to group %s: %s", cfg->socket, cfg->socket_group, strerror(errno));
        goto fail;
    }
    if (chmod(cfg->socket, 0660) != 0 || listen(fd, (int)cfg->backlog) != 0) {
        log_error("listen %s: %s", cfg->socket, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    remove_own_socket(cfg->socket);
    return -1;
}

static void on_wake(int sig)
{
    (void)sig; /* only interrupts a blocked accept() */
}

/* The listening socket: the one serve creates (own_socket), or fd 0 as
 * systemd hands it over. Returns it, or -1 having said why. */
static int open_listener(const config *cfg, bool own_socket)
{
    int on = 0;
    socklen_t l = sizeof on;
    if (own_socket)
        return open_unix_socket(cfg);
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &on, &l) != 0 || !on) {
        log_error("MEDIAGATE_SOCKET is not set and fd 0 is not a listening socket");
        return -1;
    }
    return 0;
}

/* FCGX_Init installed handlers; takes the signals back. They are blocked
 * (set holds them) for sigtimedwait; workers see only SIGUSR2, which wakes
 * them from accept() at shutdown. */
static void take_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_wake; /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGUSR2, &sa, NULL);
}

/* Starts cfg->threads request threads on listen_fd, each with its own
 * arena and connections in ws[i]. Returns how many started. */
static long start_workers(const config *cfg, worker *ws, int listen_fd)
{
    long started = 0;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    bool unix_socket = getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == 0 &&
                       ss.ss_family == AF_UNIX;
    for (long i = 0; i < cfg->threads; i++) {
        worker *w = &ws[i];
        w->listen_fd = listen_fd;
        w->unix_socket = unix_socket;
        arena_init(&w->a, 16384);
        db_init(&w->db, cfg);
        w->has_rdb = cfg->database_read_url && *cfg->database_read_url;
        if (w->has_rdb)
            db_init_read(&w->rdb, cfg);
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            log_error("pthread_create failed");
            break;
        }
        started++;
    }
    return started;
}

/* Records in PostgreSQL whether playback signs (MEDIAGATE_MEDIA_SIGNING_SECRET
 * set; it needs a restart), so that every host decides alike whether a job's
 * objects on the store may be public-read (app/playback.h, sql/021). Returns
 * true once recorded; false, warning once, while the database refuses. */
static bool record_signing(const config *cfg, db *d, bool *warned)
{
    const char *v[] = {*cfg->media_signing_secret ? "t" : "f"};
    PGresult *r = NULL;
    bool ok = db_exec(d, STMT_MEDIA_SIGNING, 1, v, &r) == 0;
    PQclear(r);
    if (ok)
        log_info("recorded for every host: media playback %s",
                 *v[0] == 't' ? "signed (objects private)" : "unsigned");
    else if (!*warned) {
        log_warn("cannot record whether media playback is signed (%s); objects on the store "
                 "stay private until it is recorded; trying again every second",
                 d->error);
        *warned = true;
    }
    return ok;
}

/* Waits for SIGTERM or SIGINT, reading the settings again on SIGHUP,
 * freeing retired settings and recording the signing decision until done
 * every second meanwhile. Returns the signal. */
static int wait_for_stop(const config *cfg, worker *ws, long started, sigset_t *set)
{
    db d;
    bool recorded = false, warned = false;
    db_init(&d, cfg);
    sigdelset(set, SIGUSR2);
    for (;;) {
        if (!recorded && (recorded = record_signing(cfg, &d, &warned)))
            db_close(&d);
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(set, NULL, &tick);
        reap_retired(ws, started);
        if (sig == SIGTERM || sig == SIGINT) {
            db_close(&d);
            return sig;
        }
        if (sig == SIGHUP)
            reload(cfg, ws, started);
        else if (sig >= 0)
            log_info("ignoring signal %d", sig);
    }
}

/* Wakes workers still blocked in accept() until all have finished, or
 * MEDIAGATE_SHUTDOWN_TIMEOUT runs out. Returns true when all finished (they
 * can be joined); false when some are still running. */
static bool drain(const config *cfg, worker *ws, long started)
{
    long long deadline = now_us() + (long long)cfg->shutdown_timeout * 1000000;
    for (;;) {
        long alive = 0;
        for (long i = 0; i < started; i++) {
            if (atomic_load(&ws[i].done))
                continue;
            alive++;
            if (atomic_load(&ws[i].in_accept))
                pthread_kill(ws[i].tid, SIGUSR2);
        }
        if (alive == 0)
            return true;
        if (now_us() > deadline) {
            log_warn("%ld requests still running after %lds; exiting", alive,
                     cfg->shutdown_timeout);
            return false;
        }
        usleep(20000);
    }
}

int serve_run(const config *cfg)
{
    int ret = 1;
    worker *ws = NULL;
    long started = 0;
    bool own_socket = cfg->socket && *cfg->socket;
    sigset_t set;
    metrics_routes(router_labels(), router_count());
    int listen_fd = open_listener(cfg, own_socket);
    if (listen_fd < 0)
        return 1;
    if (FCGX_Init() != 0) {
        log_error("FCGX_Init failed");
        goto out;
    }
    take_signals(&set);
    atomic_store(&live_cfg, cfg);
    log_set_json(cfg->log_json);
    ws = calloc((size_t)cfg->threads, sizeof *ws);
    if (!ws)
        goto out;
    started = start_workers(cfg, ws, listen_fd);
    if (started == 0)
        goto out;
    log_info("serving on %s with %ld threads", own_socket ? cfg->socket : "fd 0", started);
    oauth2_notice(cfg);

    int sig = wait_for_stop(cfg, ws, started, &set);
    log_info("signal %d: draining in-flight requests", sig);
    atomic_store(&stopping, 1);
    FCGX_ShutdownPending();
    if (own_socket)
        shutdown(listen_fd, SHUT_RDWR); /* wakes every accept() at once */
    ret = 0;
    if (drain(cfg, ws, started)) {
        for (long i = 0; i < started; i++)
            pthread_join(ws[i].tid, NULL);
        free(ws);
        ws = NULL;
    }
    log_info("stopped");
out:
    if (own_socket) {
        close(listen_fd);
        remove_own_socket(cfg->socket);
    }
    if (ret == 0 && ws) {
        /* Threads still running own their memory; exit without freeing. */
        fflush(NULL);
        _exit(0);
    }
    free(ws);
    return ret;
}
