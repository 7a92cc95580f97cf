/* The one outbound HTTP client: every outgoing request goes through
 * http_client_do(). */
#include "http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Addresses a customer URL may not reach, first match wins: the IANA
 * special-purpose registries, plus everything IPv6 outside 2000::/3. */
typedef struct net_range {
    const char *net;
    int bits;
    const char *why;
} net_range;

static const net_range v4_refused[] = {
    {"0.0.0.0", 8, "unspecified"},     {"10.0.0.0", 8, "private"},
    {"100.64.0.0", 10, "shared (CGNAT)"}, {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local"}, {"172.16.0.0", 12, "private"},
    {"192.0.0.0", 24, "reserved"},     {"192.0.2.0", 24, "documentation"},
    {"192.88.99.0", 24, "reserved"},   {"192.168.0.0", 16, "private"},
    {"198.18.0.0", 15, "benchmarking"}, {"198.51.100.0", 24, "documentation"},
    {"203.0.113.0", 24, "documentation"}, {"224.0.0.0", 4, "multicast"},
    {"255.255.255.255", 32, "broadcast"}, {"240.0.0.0", 4, "reserved"},
};

static const net_range v6_refused[] = {
    {"::", 128, "unspecified"},     {"::1", 128, "loopback"},
    {"fc00::", 7, "private"},       {"fe80::", 10, "link-local"},
    {"ff00::", 8, "multicast"},     {"2001:db8::", 32, "documentation"},
    {"2001::", 23, "reserved"},     {"3fff::", 20, "documentation"},
};

/* True when the first bits of addr equal those of net (both n bytes). */
static bool in_prefix(const uint8_t *addr, const uint8_t *net, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(addr, net, (size_t)whole) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return rest == 0 || (addr[whole] & mask) == (net[whole] & mask);
}

/* The reason of the first range in table holding addr, or NULL. */
static const char *lookup(int family, const uint8_t *addr, const net_range *table, size_t n)
{
    uint8_t net[16];
    for (size_t i = 0; i < n; i++)
        if (inet_pton(family, table[i].net, net) == 1 && in_prefix(addr, net, table[i].bits))
            return table[i].why;
    return NULL;
}

static const char *v4_refusal(const uint8_t a[4])
{
    return lookup(AF_INET, a, v4_refused, sizeof v4_refused / sizeof *v4_refused);
}

static const char *v6_refusal(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    /* Forms that carry an IPv4 address are judged by it. */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_refusal(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 */
        return v4_refusal(a + 2);
    const char *why = lookup(AF_INET6, a, v6_refused, sizeof v6_refused / sizeof *v6_refused);
    if (!why && (a[0] & 0xe0) != 0x20)
        why = "reserved"; /* not global unicast */
    return why;
}

const char *http_address_refusal(const struct sockaddr *sa, socklen_t len, bool allow_loopback)
{
    const char *why = "not an IP address";
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        why = v4_refusal((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        why = v6_refusal(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    if (why && allow_loopback && strcmp(why, "loopback") == 0)
        return NULL;
    return why;
}

long http_retry_after(const char *buf, size_t len, time_t now)
{
    char s[64];
    while (len && (*buf == ' ' || *buf == '\t'))
        buf++, len--;
    while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof s)
        return -1;
    memcpy(s, buf, len);
    s[len] = '\0';
    if (strspn(s, "0123456789") == len) {
        unsigned long long v = strtoull(s, NULL, 10);
        return v > INT32_MAX ? INT32_MAX : (long)v;
    }
    time_t t = curl_getdate(s, NULL);
    if (t == -1)
        return -1;
    return t > now ? (long)(t - now) : 0;
}

int http_client_header(const http_client *c, const char *name, char *buf, size_t cap)
{
    struct curl_header *hd;
    if (!c->curl || curl_easy_header(c->curl, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK ||
        strlen(hd->value) >= cap)
        return -1;
    memcpy(buf, hd->value, strlen(hd->value) + 1);
    return 0;
}

const char *http_outcome_name(http_outcome o)
{
    static const char *const names[] = {
        [HTTP_ANSWERED] = "answered",
        [HTTP_NO_ANSWER] = "no answer",
        [HTTP_TOO_LARGE] = "response too large",
        [HTTP_REFUSED_ADDRESS] = "refused address",
        [HTTP_BAD_REQUEST] = "bad request",
    };
    return (unsigned)o < sizeof names / sizeof *names ? names[o] : "unknown";
}

int http_client_init(http_client *c, bool allow_loopback)
{
    *c = (http_client){curl_easy_init(), allow_loopback, false, NULL};
    return c->curl ? 0 : -1;
}

void http_client_free(http_client *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

/* What one call's callbacks see. */
typedef struct call {
    const http_client *client;
    http_response *resp;
    bool customer;
    bool overflow;
    int opened, refused;
    const char *why;
    const http_body_fd *src; /* a streamed request body, and how much of it went */
    long long sent;
    http_sink *sink;
    bool io_error; /* reading src or writing the sink failed */
    const http_stream *io;
    bool cancelled; /* io->progress asked to stop */
    bool once;      /* http_client_do_once */
    bool begun;     /* the sink's begin was called */
} call;

/* Opens each socket curl connects (close-on-exec), after checking a
 * customer URL's resolved address: the last moment before connect(), so a
 * name that resolves differently the second time gains nothing. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    call *k = arg;
    const char *why = NULL;
    if (k->customer)
        why = purpose != CURLSOCKTYPE_IPCXN
                  ? "not a connection"
                  : http_address_refusal(&a->addr, a->addrlen, k->client->allow_loopback);
    if (why) {
        k->refused++;
        k->why = why;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd != CURL_SOCKET_BAD)
        k->opened++;
    return fd;
}

/* Writes a 2xx body into the sink; false when it failed or overflowed. */
static bool to_sink(call *k, long status, const char *p, size_t len)
{
    http_sink *s = k->sink;
    if (!k->begun && s->begin) {
        k->begun = true;
        if (!s->begin(s->begin_arg, status)) {
            k->cancelled = true;
            return false;
        }
    }
    if ((long long)len > s->cap - s->written) {
        k->overflow = true;
        return false;
    }
    while (len) {
        ssize_t w = write(s->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            k->io_error = true;
            return false;
        }
        p += w;
        len -= (size_t)w;
        s->written += w;
    }
    return true;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    call *k = arg;
    http_response *r = k->resp;
    size_t len = sz * n;
    long status = 0;
    if (k->sink &&
        curl_easy_getinfo(k->client->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
        status >= 200 && status < 300)
        return to_sink(k, status, p, len) ? len : 0;
    if (len > r->body_cap - 1 - r->body_len) {
        k->overflow = true;
        return 0; /* aborts the transfer */
    }
    memcpy(r->body + r->body_len, p, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

/* Reads the next piece of a streamed request body (pread: a rewind costs
 * nothing). */
static size_t on_read(char *p, size_t sz, size_t n, void *arg)
{
    call *k = arg;
    long long left = k->src->len - k->sent;
    size_t want = sz * n < (unsigned long long)left ? sz * n : (size_t)left;
    if (want == 0)
        return 0;
    ssize_t r;
    do
        r = pread(k->src->fd, p, want, (off_t)(k->src->offset + k->sent));
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        k->io_error = true; /* the file is shorter than promised, or unreadable */
        return CURL_READFUNC_ABORT;
    }
    k->sent += r;
    return (size_t)r;
}

/* curl rewinds a body it must send again (a redirect or auth is never
 * followed, but a reused connection that closed is retried). */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    call *k = arg;
    if (origin != SEEK_SET || offset < 0 || offset > k->src->len)
        return CURL_SEEKFUNC_CANTSEEK;
    k->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    call *k = arg;
    if (k->io->progress(k->io->progress_arg, (long long)ulnow, (long long)dlnow))
        return 0;
    k->cancelled = true;
    return 1; /* aborts the transfer */
}

static http_outcome classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return HTTP_ANSWERED;
    case CURLE_FILESIZE_EXCEEDED:
        return HTTP_TOO_LARGE;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_FAILED_INIT:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return HTTP_BAD_REQUEST;
    default:
        return HTTP_NO_ANSWER; /* resolve, connect, TLS, timeout, reset, ... */
    }
}

/* Sets every option of one call on a freshly reset handle. Returns the
 * first failure (an option this libcurl lacks is a failure). */
static CURLcode set_options(CURL *h, const http_request *req, const http_stream *io,
                            struct curl_slist *hdrs, call *k)
{
    const char *method = req->method ? req->method : "GET";
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                        \
    do {                                                                                     \
        if (rc == CURLE_OK)                                                                  \
            rc = curl_easy_setopt(h, opt, val);                                              \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (k->client->ca_file && *k->client->ca_file)
        SET(CURLOPT_CAINFO, k->client->ca_file);
    SET(CURLOPT_NOSIGNAL, 1L);
    if (k->once) /* a new connection's request is never resent by libcurl */
        SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_off_t maxsize = (curl_off_t)(k->resp->body_cap - 1);
    if (k->sink && k->sink->cap > maxsize)
        maxsize = k->sink->cap;
    if (strcmp(method, "HEAD") != 0) /* a HEAD's Content-Length is no body */
        SET(CURLOPT_MAXFILESIZE_LARGE, maxsize);
    if (io && io->progress) {
        SET(CURLOPT_NOPROGRESS, 0L);
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, k);
    }
    if (io && io->stall_s > 0) {
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, io->stall_s);
    }
    SET(CURLOPT_USERAGENT, "mediagate/" MEDIAGATE_VERSION);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, k);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, k);
    if (k->src) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)k->src->len);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, k);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, k);
    } else if (req->body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body);
    }
    if (strcmp(method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L);
    else if (strcmp(method, k->src ? "PUT" : req->body ? "POST" : "GET") != 0)
        SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
    return rc;
}

/* Fills resp->retry_after from the last response's Retry-After header. */
static void read_retry_after(CURL *h, http_response *resp)
{
    struct curl_header *hd;
    if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
        resp->retry_after = http_retry_after(hd->value, strlen(hd->value), time(NULL));
}

static http_outcome perform(http_client *c, const http_request *req, const http_stream *io,
                            bool once, http_response *resp);

http_outcome http_client_do(http_client *c, const http_request *req, http_response *resp)
{
    return perform(c, req, NULL, false, resp);
}

http_outcome http_client_do_once(http_client *c, const http_request *req, http_response *resp)
{
    return perform(c, req, NULL, true, resp);
}

http_outcome http_client_stream(http_client *c, const http_request *req, const http_stream *io,
                                http_response *resp)
{
    return perform(c, req, io, false, resp);
}

/* One call: the three above. */
static http_outcome perform(http_client *c, const http_request *req, const http_stream *io,
                            bool once, http_response *resp)
{
    http_outcome ret = HTTP_BAD_REQUEST;
    struct curl_slist *hdrs = NULL;
    call k = {c, resp, req->customer, false, 0, 0, NULL, io ? io->body_fd : NULL, 0,
              io ? io->sink : NULL, false, io, false, once, false};
    resp->body_len = 0;
    resp->status = 0;
    resp->retry_after = -1;
    resp->err[0] = '\0';
    if (k.sink)
        k.sink->written = 0;
    if (!resp->body || resp->body_cap == 0 || !req->url || req->connect_timeout_ms <= 0 ||
        req->timeout_ms <= 0) {
        snprintf(resp->err, sizeof resp->err, "no URL, body buffer or timeout given");
        goto out;
    }
    resp->body[0] = '\0';
    /* Connections opened unchecked must not serve a customer URL. */
    if (req->customer && c->unchecked) {
        http_client_free(c);
        c->unchecked = false;
    }
    if (!c->curl && !(c->curl = curl_easy_init())) {
        snprintf(resp->err, sizeof resp->err, "out of memory");
        goto out;
    }
    curl_easy_reset(c->curl);
    for (size_t i = 0; i <= req->nheaders; i++) {
        /* "Expect:" last: no 100-continue round trip before a body. */
        struct curl_slist *more =
            curl_slist_append(hdrs, i < req->nheaders ? req->headers[i] : "Expect:");
        if (!more) {
            snprintf(resp->err, sizeof resp->err, "out of memory");
            goto out;
        }
        hdrs = more;
    }
    CURLcode rc = set_options(c->curl, req, io, hdrs, &k);
    if (rc == CURLE_OK) {
        c->unchecked |= !req->customer;
        rc = curl_easy_perform(c->curl);
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    read_retry_after(c->curl, resp);
    ret = classify(rc);
    if (k.overflow)
        ret = HTTP_TOO_LARGE;
    if (rc != CURLE_OK && k.refused && !k.opened)
        ret = HTTP_REFUSED_ADDRESS;
    if (k.io_error && ret != HTTP_TOO_LARGE)
        ret = HTTP_BAD_REQUEST; /* our side: no retry sends a body we cannot read */
    if (k.cancelled && ret != HTTP_ANSWERED)
        ret = HTTP_BAD_REQUEST; /* the caller's decision: never retried */
    if (k.cancelled && ret == HTTP_BAD_REQUEST)
        snprintf(resp->err, sizeof resp->err, "cancelled");
    else if (k.io_error)
        snprintf(resp->err, sizeof resp->err, "local file I/O failed");
    else if (ret == HTTP_TOO_LARGE)
        snprintf(resp->err, sizeof resp->err, "response larger than %zu bytes",
                 resp->body_cap - 1);
    else if (ret == HTTP_REFUSED_ADDRESS)
        snprintf(resp->err, sizeof resp->err, "refused a %s address", k.why);
    else if (ret != HTTP_ANSWERED)
        snprintf(resp->err, sizeof resp->err, "%s", curl_easy_strerror(rc));
out:
    curl_slist_free_all(hdrs);
    return ret;
}
