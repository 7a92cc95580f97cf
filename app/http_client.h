#ifndef MEDIAGATE_HTTP_CLIENT_H
#define MEDIAGATE_HTTP_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

/* The one outbound HTTP client (libcurl). Every call: http and https only,
 * no proxy from the environment, TLS verified, no redirect followed, the
 * caller's timeouts and response cap, no signals. curl_global_init() must
 * have run before the first http_client_init(). */

/* What became of a call. Only HTTP_ANSWERED has a complete response. */
typedef enum http_outcome {
    HTTP_ANSWERED,      /* status is the server's, whatever it is (3xx included) */
    HTTP_NO_ANSWER,     /* DNS, connect, TLS, or a timeout or lost connection
                         * before the response was complete: retryable. The
                         * server may have seen the request, so retry only
                         * what it can dedupe. */
    HTTP_TOO_LARGE,     /* the body exceeded the caller's cap */
    HTTP_REFUSED_ADDRESS, /* a customer URL resolved only to non-public addresses */
    HTTP_BAD_REQUEST,   /* bad URL, a scheme other than http(s), or an internal error */
} http_outcome;

/* A request body read from a file descriptor with pread (a retry of the
 * call sends the same bytes again). */
typedef struct http_body_fd {
    int fd;
    long long offset;
    long long len;
} http_body_fd;

/* A response body written to a file descriptor (from its current offset)
 * when the status is 2xx; any other status's body goes to the response's
 * buffer as usual. More than cap bytes is HTTP_TOO_LARGE. */
typedef struct http_sink {
    int fd;
    long long cap;
    long long written; /* set by the call */
    /* Called once before the first byte of a 2xx body, with the status
     * (the response's headers are readable with http_client_header): it
     * may move fd's offset and change cap; false ends the transfer
     * (HTTP_BAD_REQUEST, "cancelled"). NULL: none. */
    bool (*begin)(void *arg, long status);
    void *begin_arg;
} http_sink;

typedef struct http_request {
    const char *method;          /* "GET", "POST", "PUT", ...; NULL is GET */
    const char *url;
    const char *const *headers;  /* "Name: value" lines, sent as given */
    size_t nheaders;
    const char *body;            /* NULL for none; not copied */
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;             /* the whole call */
    bool customer;               /* a customer's URL: refuse non-public addresses */
} http_request;

/* Streamed bodies (http_client_stream). */
typedef struct http_stream {
    const http_body_fd *body_fd; /* the request's body, instead of req->body; NULL: none */
    http_sink *sink;             /* a 2xx response's body; NULL: into resp->body */
    long stall_s;                /* > 0: a transfer that moves no byte for this long ends
                                  * (HTTP_NO_ANSWER), whatever timeout_ms says */
    /* Called as the transfer goes (often: throttle it), with the bytes sent
     * and received so far; false ends it (HTTP_BAD_REQUEST, "cancelled").
     * NULL: none. */
    bool (*progress)(void *arg, long long sent, long long received);
    void *progress_arg;
} http_stream;

/* The caller owns body: set body and body_cap before the call. The client
 * writes at most body_cap - 1 bytes and always a NUL after them. */
typedef struct http_response {
    char *body;
    size_t body_cap;
    size_t body_len;
    long status;      /* 0 when no status line arrived */
    long retry_after; /* seconds from Retry-After, -1 when absent or unparseable */
    char err[128];    /* "" on HTTP_ANSWERED; never holds the URL or headers */
} http_response;

/* One per worker slot (reused between calls), or one per call on a request
 * thread. allow_loopback lets customer URLs reach 127.0.0.0/8 and ::1 (and
 * nothing else non-public): for tests only. */
typedef struct http_client {
    void *curl;         /* CURL *, reused: curl_easy_reset between calls */
    bool allow_loopback;
    bool unchecked;     /* its connection cache may hold connections opened
                         * without the address check */
    const char *ca_file; /* PEM bundle trusted instead of the system's
                          * (MEDIAGATE_OUTBOUND_CA_FILE); NULL or "": the
                          * system's. Not owned. */
} http_client;

/* Returns 0, or -1 when libcurl cannot make a handle. */
int http_client_init(http_client *c, bool allow_loopback);
/* Frees the handle and its connections; c may be zeroed or freed already. */
void http_client_free(http_client *c);

/* Sends req and fills resp (status, body, retry_after, err). Returns the
 * outcome; resp->status is meaningful on HTTP_ANSWERED and HTTP_TOO_LARGE.
 * Without a URL, a body buffer, or both timeouts > 0 it is
 * HTTP_BAD_REQUEST at once. An empty "Expect:" goes with the headers (no
 * 100-continue wait). */
http_outcome http_client_do(http_client *c, const http_request *req, http_response *resp);

/* http_client_do for a request the server must not get twice (a create
 * without a dedupe key): on a new connection, since libcurl resends a
 * request whose reused connection closed before any answer, and the
 * server may have acted on the first. */
http_outcome http_client_do_once(http_client *c, const http_request *req, http_response *resp);

/* http_client_do with streamed bodies (io may be NULL). A local read or
 * write failure is HTTP_BAD_REQUEST ("local file I/O failed"). */
http_outcome http_client_stream(http_client *c, const http_request *req, const http_stream *io,
                                http_response *resp);

/* The value of response header name of c's last call into buf (cap
 * bytes). Returns 0, or -1 when it had none or buf is too small. */
int http_client_header(const http_client *c, const char *name, char *buf, size_t cap);

/* A short name of the outcome, for logs: "answered", "no answer", ... */
const char *http_outcome_name(http_outcome o);

/* NULL when a customer URL may reach sa, else why not: "loopback",
 * "private", "link-local", ... allow_loopback admits loopback only. */
const char *http_address_refusal(const struct sockaddr *sa, socklen_t len, bool allow_loopback);

/* A Retry-After value (delta-seconds or an HTTP-date) as seconds after
 * now, 0 for a date in the past, or -1 when it is neither. */
long http_retry_after(const char *buf, size_t len, time_t now);

#endif
