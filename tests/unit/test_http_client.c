/* The outbound client against a small HTTP server inside this program
 * (127.0.0.1, a thread per connection, canned answers chosen by path):
 * answers, redirects not followed, the size cap, timeouts, refusals of
 * non-public addresses before any connection, Retry-After, a request
 * sent once on a new connection; and the
 * address classifier and the Retry-After parser on literals. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_client.h"

static int port;
static atomic_int accepts;  /* connections the server accepted */
static atomic_int requests; /* requests it read */
static atomic_int drops;    /* requests to /drop: read, then the connection closed */

static void send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

/* Sends a status line, extra header lines, and body (with its length
 * unless stream, then the connection closes to end it). */
static void answer(int fd, const char *status, const char *headers, const char *body,
                   size_t len, bool stream)
{
    char head[1024];
    int n = stream ? snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sConnection: close\r\n\r\n",
                              status, headers)
                   : snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n",
                              status, headers, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Reads one request into buf (head and body). Returns its length, or -1
 * when the peer closed first. */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want && len < cap - 1) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return (ssize_t)len;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[16384], method[16], path[256], big[2000], hdr[256];
    memset(big, 'x', sizeof big);
    ssize_t len;
    while ((len = read_request(fd, req, sizeof req)) >= 0) {
        atomic_fetch_add(&requests, 1);
        if (sscanf(req, "%15s %255s", method, path) != 2)
            break;
        if (strcmp(path, "/drop") == 0) {
            atomic_fetch_add(&drops, 1);
            break; /* acted on, perhaps; no answer */
        }
        if (strcmp(path, "/keep") == 0) {
            answer(fd, "200 OK", "", "kept", 4, false);
            continue; /* keep-alive: the next request on this connection */
        }
        if (strcmp(path, "/ok") == 0)
            answer(fd, "200 OK", "", "hello", 5, false);
        else if (strcmp(path, "/redirect") == 0) {
            snprintf(hdr, sizeof hdr, "Location: http://127.0.0.1:%d/ok\r\n", port);
            answer(fd, "302 Found", hdr, "moved", 5, false);
        } else if (strcmp(path, "/big") == 0)
            answer(fd, "200 OK", "", big, sizeof big, false);
        else if (strcmp(path, "/bigstream") == 0)
            answer(fd, "200 OK", "", big, sizeof big, true);
        else if (strcmp(path, "/exact") == 0)
            answer(fd, "200 OK", "", big, 1024, false);
        else if (strcmp(path, "/retry7") == 0)
            answer(fd, "503 Service Unavailable", "Retry-After: 7\r\n", "", 0, false);
        else if (strcmp(path, "/retrydate") == 0) {
            time_t t = time(NULL) + 120;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(hdr, sizeof hdr, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
            answer(fd, "429 Too Many Requests", hdr, "", 0, false);
        } else if (strcmp(path, "/echo") == 0)
            answer(fd, "200 OK", "", req, (size_t)len, false);
        else if (strcmp(path, "/silent") == 0)
            continue; /* never answers; waits for the client to give up */
        else
            answer(fd, "404 Not Found", "", "", 0, false);
        break;
    }
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&accepts, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

/* A 127.0.0.1 socket on a free port, listening or not. Returns the fd. */
static int local_socket(bool do_listen, int *out_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        (do_listen && listen(fd, 64) != 0) ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    *out_port = ntohs(a.sin_port);
    return fd;
}

static char body[1025]; /* a cap of 1024 bytes */

/* One call: url with "%d" for the server's port. */
static http_outcome call(http_client *c, const char *method, const char *url_fmt, bool customer,
                         long timeout_ms, http_response *r)
{
    char url[256];
    snprintf(url, sizeof url, url_fmt, port);
    http_request req = {method, url, NULL, 0, NULL, 0, 1000, timeout_ms, customer};
    *r = (http_response){.body = body, .body_cap = sizeof body};
    return http_client_do(c, &req, r);
}

static void answers(http_client *c)
{
    http_response r;
    int before = atomic_load(&requests);
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/ok", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "hello");
    CHECK_INT(r.body_len, 5);
    CHECK_INT(r.retry_after, -1);
    CHECK_STR(r.err, "");

    /* A 302 is an answer: returned with its status, not followed. */
    before = atomic_load(&requests);
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/redirect", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 302);
    CHECK_STR(r.body, "moved");
    CHECK_INT(atomic_load(&requests) - before, 1);

    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/nothing", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 404);

    /* Exactly the cap fits; one byte more does not, announced or not. */
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/exact", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.body_len, 1024);
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/big", false, 2000, &r), HTTP_TOO_LARGE);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.err, "response larger than 1024 bytes");
    CHECK(r.body_len <= 1024 && r.body[r.body_len] == '\0');
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/bigstream", false, 2000, &r), HTTP_TOO_LARGE);
    CHECK(r.body_len <= 1024 && r.body[r.body_len] == '\0');

    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/retry7", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 503);
    CHECK_INT(r.retry_after, 7);
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/retrydate", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 429);
    CHECK(r.retry_after >= 118 && r.retry_after <= 121);
}

/* Method, headers and body go out as given; no Expect, no proxy. */
static void sends(http_client *c)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    const char *hdrs[] = {"Content-Type: application/json", "X-Test: 1"};
    const char payload[] = "{\"a\":1}";
    http_request req = {"POST", url, hdrs, 2, payload, sizeof payload - 1, 1000, 2000, false};
    http_response r = {.body = body, .body_cap = sizeof body};
    CHECK_INT(http_client_do(c, &req, &r), HTTP_ANSWERED);
    CHECK_HAS(r.body, "POST /echo HTTP/1.1\r\n");
    CHECK_HAS(r.body, "\r\nX-Test: 1\r\n");
    CHECK_HAS(r.body, "\r\nContent-Type: application/json\r\n");
    CHECK_HAS(r.body, "\r\nUser-Agent: mediagate/");
    CHECK_HAS(r.body, "\r\n\r\n{\"a\":1}");
    CHECK_LACKS(r.body, "Expect");
    req.method = "PUT";
    CHECK_INT(http_client_do(c, &req, &r), HTTP_ANSWERED);
    CHECK_HAS(r.body, "PUT /echo HTTP/1.1\r\n");
    req = (http_request){"DELETE", url, NULL, 0, NULL, 0, 1000, 2000, false};
    CHECK_INT(http_client_do(c, &req, &r), HTTP_ANSWERED);
    CHECK_HAS(r.body, "DELETE /echo HTTP/1.1\r\n");
}

static bool keep_going(void *arg, long long sent, long long received)
{
    long long *seen = arg;
    seen[0] = sent;
    seen[1] = received;
    return true;
}

static bool stop_now(void *arg, long long sent, long long received)
{
    return false;
}

/* What a sink's begin saw. */
typedef struct begin_seen {
    int calls;
    long status;
    int fd;
    bool refuse;
} begin_seen;

/* A sink's begin: records the call and moves the file's offset to 100,
 * or refuses. */
static bool begin_at_100(void *arg, long status)
{
    begin_seen *b = arg;
    b->calls++;
    b->status = status;
    return !b->refuse && lseek(b->fd, 100, SEEK_SET) == 100;
}

/* http_client_stream: a body from a file (offset and length), a 2xx body
 * into a file with its cap, any other status's body into the buffer; a
 * header of the last answer. */
static void streams(http_client *c)
{
    char url[256], path[] = "/tmp/mg-http-stream-XXXXXX", got[2048];
    int fd = mkstemp(path), out = -1;
    if (!CHECK(fd >= 0))
        return;
    CHECK_INT(write(fd, "0123456789abcdef", 16), 16);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    http_request req = {"PUT", url, NULL, 0, NULL, 0, 1000, 2000, false};
    http_body_fd src = {fd, 4, 6};
    http_stream io = {.body_fd = &src, .stall_s = 5};
    http_response r = {.body = body, .body_cap = sizeof body};
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_HAS(r.body, "PUT /echo HTTP/1.1\r\n");
    CHECK_HAS(r.body, "\r\nContent-Length: 6\r\n");
    CHECK_HAS(r.body, "\r\n\r\n456789");
    CHECK_LACKS(r.body, "456789a");
    /* A file shorter than promised is our failure, not the server's. */
    src = (http_body_fd){fd, 10, 100};
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_BAD_REQUEST);
    CHECK_STR(r.err, "local file I/O failed");

    out = open(path, O_RDWR | O_TRUNC);
    http_sink sink = {.fd = out, .cap = 2000};
    io = (http_stream){.sink = &sink, .stall_s = 5};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/exact", port);
    req = (http_request){"GET", url, NULL, 0, NULL, 0, 1000, 2000, false};
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_INT(sink.written, 1024);
    CHECK_INT(r.body_len, 0);
    CHECK_INT(pread(out, got, sizeof got, 0), 1024);
    CHECK(got[0] == 'x' && got[1023] == 'x');
    sink.cap = 1000;
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_TOO_LARGE);
    CHECK(sink.written <= 1000);
    /* A 404's body is no object: the buffer gets it, the file nothing. */
    sink.cap = 2000;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing", port);
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_INT(r.status, 404);
    CHECK_INT(sink.written, 0);

    /* The progress function sees the bytes; false ends the call, not retryable. */
    sink.cap = 2000;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/exact", port);
    long long seen[2] = {-1, -1};
    io = (http_stream){.sink = &sink, .progress = keep_going, .progress_arg = seen};
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_INT(seen[1], 1024);
    io.progress = stop_now;
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_BAD_REQUEST);
    CHECK_STR(r.err, "cancelled");

    /* The sink's begin runs once, before the first byte of a 2xx body
     * (never for another status), and may move the file's offset; false
     * ends the call as cancelled. */
    begin_seen bs = {.fd = out};
    sink = (http_sink){.fd = out, .cap = 2000, .begin = begin_at_100, .begin_arg = &bs};
    io = (http_stream){.sink = &sink};
    CHECK_INT(ftruncate(out, 0), 0);
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_INT(bs.calls, 1);
    CHECK_INT(bs.status, 200);
    CHECK_INT(pread(out, got, sizeof got, 0), 1124);
    CHECK(got[0] == '\0' && got[100] == 'x' && got[1123] == 'x');
    bs.refuse = true;
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_BAD_REQUEST);
    CHECK_STR(r.err, "cancelled");
    bs.calls = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing", port);
    CHECK_INT(http_client_stream(c, &req, &io, &r), HTTP_ANSWERED);
    CHECK_INT(bs.calls, 0);

    char v[32];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/retry7", port);
    CHECK_INT(http_client_stream(c, &req, NULL, &r), HTTP_ANSWERED);
    CHECK_INT(http_client_header(c, "Retry-After", v, sizeof v), 0);
    CHECK_STR(v, "7");
    CHECK_INT(http_client_header(c, "retry-after", v, 1), -1); /* too small */
    CHECK_INT(http_client_header(c, "ETag", v, sizeof v), -1);
    close(fd);
    close(out);
    unlink(path);
}

static void no_answer(http_client *c)
{
    http_response r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(call(c, NULL, "http://127.0.0.1:%d/silent", false, 300, &r), HTTP_NO_ANSWER);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(r.status, 0);
    CHECK_HAS(r.err, "imeout");
    CHECK(t1.tv_sec - t0.tv_sec < 2);

    int closed_port, fd = local_socket(false, &closed_port);
    CHECK(fd >= 0);
    close(fd); /* nobody listens there now */
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/?token=SECRET", closed_port);
    http_request req = {NULL, url, NULL, 0, NULL, 0, 1000, 2000, false};
    r = (http_response){.body = body, .body_cap = sizeof body};
    CHECK_INT(http_client_do(c, &req, &r), HTTP_NO_ANSWER);
    CHECK_INT(r.status, 0);
    CHECK(r.err[0] != '\0');
    CHECK_LACKS(r.err, "SECRET");
    CHECK_LACKS(r.err, "127.0.0.1");

    /* Names that do not resolve never reach anyone either. */
    CHECK_INT(call(c, NULL, "http://no-such-host.invalid:%d/", false, 2000, &r), HTTP_NO_ANSWER);
}

static void bad_requests(http_client *c)
{
    http_response r;
    int before = atomic_load(&accepts);
    CHECK_INT(call(c, NULL, "ftp://127.0.0.1:%d/", false, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(call(c, NULL, "ftp://127.0.0.1:%d/", true, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(call(c, NULL, "file:///etc/passwd#%d", false, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(r.body_len, 0);
    CHECK_INT(call(c, NULL, "file:///etc/passwd#%d", true, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(call(c, NULL, "gopher://127.0.0.1:%d/", false, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(call(c, NULL, "not a url %d", false, 2000, &r), HTTP_BAD_REQUEST);
    CHECK_INT(atomic_load(&accepts) - before, 0);
    /* No timeout, no buffer: refused before anything. */
    http_request req = {NULL, "http://127.0.0.1/", NULL, 0, NULL, 0, 1000, 0, false};
    r = (http_response){.body = body, .body_cap = sizeof body};
    CHECK_INT(http_client_do(c, &req, &r), HTTP_BAD_REQUEST);
    req.timeout_ms = 1000;
    r = (http_response){0};
    CHECK_INT(http_client_do(c, &req, &r), HTTP_BAD_REQUEST);
}

/* Customer URLs: non-public addresses are refused before any connection. */
static void customer(http_client *strict, http_client *tests)
{
    static const char *const refused[] = {
        "http://127.0.0.1:%d/ok",          "http://localhost:%d/ok",
        "http://10.0.0.1:%d/ok",           "http://169.254.169.254:%d/ok",
        "http://[::1]:%d/ok",              "http://[::ffff:127.0.0.1]:%d/ok",
        "http://0.0.0.0:%d/ok",            "http://[::]:%d/ok",
        "http://2130706433:%d/ok",         "http://192.168.1.1:%d/ok",
    };
    http_response r;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int before = atomic_load(&accepts);
        if (!CHECK_INT(call(strict, NULL, refused[i], true, 2000, &r), HTTP_REFUSED_ADDRESS))
            fprintf(stderr, "  for %s: %s\n", refused[i], r.err);
        CHECK_HAS(r.err, "refused a ");
        CHECK_INT(atomic_load(&accepts) - before, 0);
    }
    call(strict, NULL, "http://localhost:%d/ok", true, 2000, &r);
    CHECK_STR(r.err, "refused a loopback address");

    /* The loopback allowance lets loopback through, and nothing else. */
    CHECK_INT(call(tests, NULL, "http://127.0.0.1:%d/ok", true, 2000, &r), HTTP_ANSWERED);
    CHECK_STR(r.body, "hello");
    CHECK_INT(call(tests, NULL, "http://10.0.0.1:%d/ok", true, 2000, &r), HTTP_REFUSED_ADDRESS);
    CHECK_INT(call(tests, NULL, "http://169.254.169.254:%d/", true, 2000, &r),
              HTTP_REFUSED_ADDRESS);
}

/* A slot's handle is reused (its connections too), but a connection it
 * opened for an internal URL never carries a customer's request. */
static void reuse(void)
{
    http_client c;
    http_response r;
    CHECK_INT(http_client_init(&c, false), 0);
    int before = atomic_load(&accepts);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", false, 2000, &r), HTTP_ANSWERED);
    CHECK_STR(r.body, "kept");
    CHECK_INT(atomic_load(&accepts) - before, 1);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", true, 2000, &r), HTTP_REFUSED_ADDRESS);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", false, 2000, &r), HTTP_ANSWERED);
    http_client_free(&c);
    http_client_free(&c); /* twice is harmless */

    /* The same with the loopback allowance: customer calls may then reach
     * 127.0.0.1, but over a connection opened with the check. */
    CHECK_INT(http_client_init(&c, true), 0);
    before = atomic_load(&accepts);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", false, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", true, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", true, 2000, &r), HTTP_ANSWERED);
    CHECK_INT(atomic_load(&accepts) - before, 2);
    http_client_free(&c);
}

/* A request the server read, then closed its kept-alive connection
 * without an answer: libcurl resends it on a new connection by itself,
 * unless it went out with http_client_do_once (a create the server must
 * not get twice). */
static void once(void)
{
    http_client c;
    http_response r;
    char url[256];
    CHECK_INT(http_client_init(&c, false), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/drop", port);
    http_request req = {"POST", url, NULL, 0, "{}", 2, 1000, 2000, false};
    for (int i = 0; i < 2; i++) {
        CHECK_INT(call(&c, NULL, "http://127.0.0.1:%d/keep", false, 2000, &r), HTTP_ANSWERED);
        int before = atomic_load(&drops);
        r = (http_response){.body = body, .body_cap = sizeof body};
        http_outcome oc = i ? http_client_do_once(&c, &req, &r) : http_client_do(&c, &req, &r);
        CHECK_INT(oc, HTTP_NO_ANSWER);
        CHECK_INT(atomic_load(&drops) - before, i ? 1 : 2);
    }
    http_client_free(&c);
}

/* The reason http_address_refusal gives for a literal address. */
static const char *why(const char *ip, bool allow_loopback)
{
    struct sockaddr_storage ss = {0};
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1)
            return "unparsed";
        return http_address_refusal((struct sockaddr *)a, sizeof *a, allow_loopback);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
        return "unparsed";
    return http_address_refusal((struct sockaddr *)a, sizeof *a, allow_loopback);
}

static void classifier(void)
{
    static const char *const cases[][2] = {
        /* public */
        {"8.8.8.8", NULL}, {"1.1.1.1", NULL}, {"9.255.255.255", NULL}, {"11.0.0.0", NULL},
        {"100.63.255.255", NULL}, {"100.128.0.0", NULL}, {"126.255.255.255", NULL},
        {"128.0.0.0", NULL}, {"169.253.255.255", NULL}, {"169.255.0.0", NULL},
        {"172.15.255.255", NULL}, {"172.32.0.0", NULL}, {"192.167.255.255", NULL},
        {"192.169.0.0", NULL}, {"198.17.255.255", NULL}, {"198.20.0.0", NULL},
        {"223.255.255.255", NULL}, {"2606:4700:4700::1111", NULL},
        {"2001:4860:4860::8888", NULL}, {"2a00:1450:4001:80b::200e", NULL},
        {"::ffff:8.8.8.8", NULL}, {"64:ff9b::808:808", NULL}, {"2002:808:808::1", NULL},
        /* IPv4 */
        {"0.0.0.0", "unspecified"}, {"0.1.2.3", "unspecified"}, {"10.0.0.0", "private"},
        {"10.255.255.255", "private"}, {"100.64.0.1", "shared (CGNAT)"},
        {"100.127.255.255", "shared (CGNAT)"}, {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"}, {"169.254.0.0", "link-local"},
        {"169.254.169.254", "link-local"}, {"172.16.0.1", "private"},
        {"172.31.255.255", "private"}, {"192.168.0.1", "private"},
        {"192.168.255.255", "private"}, {"192.0.0.8", "reserved"},
        {"192.0.2.1", "documentation"}, {"192.88.99.1", "reserved"},
        {"198.18.0.1", "benchmarking"}, {"198.19.255.255", "benchmarking"},
        {"198.51.100.7", "documentation"}, {"203.0.113.9", "documentation"},
        {"224.0.0.1", "multicast"}, {"239.255.255.250", "multicast"},
        {"240.0.0.1", "reserved"}, {"255.255.255.254", "reserved"},
        {"255.255.255.255", "broadcast"},
        /* IPv6 */
        {"::", "unspecified"}, {"::1", "loopback"}, {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:10.1.2.3", "private"}, {"::ffff:169.254.169.254", "link-local"},
        {"::ffff:100.64.0.1", "shared (CGNAT)"}, {"::ffff:0.0.0.0", "unspecified"},
        {"::ffff:255.255.255.255", "broadcast"}, {"::ffff:224.0.0.1", "multicast"},
        {"::127.0.0.1", "reserved"}, {"::2", "reserved"}, {"100::1", "reserved"},
        {"fc00::1", "private"}, {"fd12:3456:789a::1", "private"},
        {"fe80::1", "link-local"}, {"febf:ffff::1", "link-local"},
        {"fec0::1", "reserved"}, {"ff02::1", "multicast"}, {"ff05::1:3", "multicast"},
        {"2001:db8::1", "documentation"}, {"2001::1", "reserved"},
        {"2001:1ff::1", "reserved"}, {"3fff::1", "documentation"}, {"5f00::1", "reserved"},
        {"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::a00:1", "private"},
        {"64:ff9b:1::1", "reserved"}, {"2002:a00:1::1", "private"},
        {"2002:7f00:1::", "loopback"}, {"2002:a9fe:a9fe::1", "link-local"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = why(cases[i][0], false);
        if (!CHECK_STR(got, cases[i][1]))
            fprintf(stderr, "  for %s\n", cases[i][0]);
    }
    /* The allowance admits loopback in every spelling, and only that. */
    CHECK_STR(why("127.0.0.1", true), NULL);
    CHECK_STR(why("127.1.2.3", true), NULL);
    CHECK_STR(why("::1", true), NULL);
    CHECK_STR(why("::ffff:127.0.0.1", true), NULL);
    CHECK_STR(why("10.0.0.1", true), "private");
    CHECK_STR(why("169.254.169.254", true), "link-local");
    CHECK_STR(why("::", true), "unspecified");
    CHECK_STR(why("fe80::1", true), "link-local");
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    CHECK_STR(http_address_refusal((struct sockaddr *)&un, sizeof un, true), "not an IP address");
    struct sockaddr_in short_one = {.sin_family = AF_INET6};
    CHECK_STR(http_address_refusal((struct sockaddr *)&short_one, sizeof short_one, false),
              "not an IP address");
}

static void retry_after(void)
{
#define RA(s, now) http_retry_after((s), strlen(s), (now))
    time_t t = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK_INT(RA("7", 0), 7);
    CHECK_INT(RA(" 120 ", 0), 120);
    CHECK_INT(RA("0", 0), 0);
    CHECK_INT(RA("99999999999999999999", 0), INT32_MAX);
    CHECK_INT(RA("Wed, 21 Oct 2015 07:28:00 GMT", t - 120), 120);
    CHECK_INT(RA("Wednesday, 21-Oct-15 07:28:00 GMT", t - 120), 120); /* RFC 850 */
    CHECK_INT(RA("Wed Oct 21 07:28:00 2015", t - 120), 120);          /* asctime */
    CHECK_INT(RA("Wed, 21 Oct 2015 07:28:00 GMT", t + 5), 0);         /* past */
    CHECK_INT(RA("", 0), -1);
    CHECK_INT(RA("   ", 0), -1);
    CHECK_INT(RA("soon", 0), -1);
    CHECK_INT(RA("-5", 0), -1);
    CHECK_INT(RA("1.5", 0), -1);
    CHECK_INT(http_retry_after("7 and more", 1, 0), 7); /* the length is the bound */
#undef RA
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* A proxy in the environment must change nothing. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    classifier();
    retry_after();

    int lfd = local_socket(true, &port);
    pthread_t t;
    if (!CHECK(lfd >= 0) ||
        !CHECK(pthread_create(&t, NULL, serve, (void *)(intptr_t)lfd) == 0))
        return CHECK_DONE("http_client");
    pthread_detach(t);

    http_client strict, tests;
    CHECK_INT(http_client_init(&strict, false), 0);
    CHECK_INT(http_client_init(&tests, true), 0);
    answers(&strict);
    sends(&strict);
    streams(&strict);
    no_answer(&strict);
    bad_requests(&strict);
    customer(&strict, &tests);
    answers(&strict); /* the handle still works after refusals */
    reuse();
    once();
    CHECK_STR(http_outcome_name(HTTP_NO_ANSWER), "no answer");
    http_client_free(&strict);
    http_client_free(&tests);
    curl_global_cleanup();
    return CHECK_DONE("http_client");
}
