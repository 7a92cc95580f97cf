/* The S3 backend: a small REST client of the S3 API (path-style or
 * virtual-hosted, SigV4, x-amz-content-sha256 always sent), on the one
 * outbound HTTP client. Bodies stream from and to files; answers the store
 * did not give, 5xx and 503 SlowDown are tried again a bounded number of
 * times, after the store's Retry-After or an exponential backoff. */
#include "config.h"
#include "hash.h"
#include "providers/sigv4.h"
#include "storage/backend.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ERR_BODY_MAX 16384      /* an error's XML, a small answer */
#define LIST_BODY_MAX (4 << 20) /* a listing page of 1000 keys */
#define RETRY_AFTER_MAX_S 10    /* a longer Retry-After is the caller's to wait */
#define RETRY_WAIT_MAX_MS \
    30000 /* one call waits at most this long between tries, in all,
                                 * so a worker's lease outlives it */
#define STREAM_DEADLINE_MS (24L * 3600 * 1000)

/* --- where requests go ------------------------------------------------ */

/* A request's target: the URL curl opens, the Host header and the path
 * the signature covers (both as sent). */
typedef struct s3_target {
    char url[2400];
    char host[300];
    char path[1400];
} s3_target;

/* The endpoint of cfg (the setting, or AWS's regional one) split into its
 * scheme ("https") and authority ("host[:port]"). Returns 0 or -1. */
static int endpoint_parts(const config *cfg, char *scheme, size_t scap, char *auth, size_t acap)
{
    char aws[160];
    const char *e = cfg->storage_endpoint;
    if (!e || !*e) {
        snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", cfg->storage_region);
        e = aws;
    }
    const char *sep = strstr(e, "://");
    if (!sep || (size_t)(sep - e) >= scap)
        return -1;
    snprintf(scheme, scap, "%.*s", (int)(sep - e), e);
    size_t alen = strcspn(sep + 3, "/");
    if (alen == 0 || alen >= acap)
        return -1;
    snprintf(auth, acap, "%.*s", (int)alen, sep + 3);
    return 0;
}

/* The target of key (prefix added) or, key NULL, of the bucket itself. */
static int target_of(const config *cfg, const char *key, s3_target *t)
{
    char scheme[16], auth[256];
    const char *prefix = cfg->storage_prefix ? cfg->storage_prefix : "";
    const char *bucket = cfg->storage_bucket ? cfg->storage_bucket : "";
    bool virt = cfg->storage_addressing && strcmp(cfg->storage_addressing, "virtual") == 0;
    int n;
    if (endpoint_parts(cfg, scheme, sizeof scheme, auth, sizeof auth) != 0)
        return -1;
    if (virt) {
        snprintf(t->host, sizeof t->host, "%s.%s", bucket, auth);
        n = key ? snprintf(t->path, sizeof t->path, "/%s%s", prefix, key)
                : snprintf(t->path, sizeof t->path, "/");
    } else {
        snprintf(t->host, sizeof t->host, "%s", auth);
        n = key ? snprintf(t->path, sizeof t->path, "/%s/%s%s", bucket, prefix, key)
                : snprintf(t->path, sizeof t->path, "/%s", bucket);
    }
    if (n < 0 || (size_t)n >= sizeof t->path)
        return -1;
    n = snprintf(t->url, sizeof t->url, "%s://%s%s", scheme, t->host, t->path);
    return n > 0 && (size_t)n < sizeof t->url ? 0 : -1;
}

/* The credentials: the settings, else the AWS_* environment. */
static void creds_of(const config *cfg, const char **key, const char **secret, const char **token)
{
    if (cfg->storage_access_key_id && *cfg->storage_access_key_id) {
        *key = cfg->storage_access_key_id;
        *secret = cfg->storage_secret_access_key ? cfg->storage_secret_access_key : "";
        *token = cfg->storage_session_token ? cfg->storage_session_token : "";
        return;
    }
    *key = getenv("AWS_ACCESS_KEY_ID");
    *secret = getenv("AWS_SECRET_ACCESS_KEY");
    *token = getenv("AWS_SESSION_TOKEN");
    *key = *key ? *key : "";
    *secret = *secret ? *secret : "";
    *token = cfg->storage_session_token && *cfg->storage_session_token ? cfg->storage_session_token
             : *token                                                  ? *token
                                                                       : "";
}

static void amz_date_of(time_t now, char out[17])
{
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* --- XML answers (libxml2) ---------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* Parses an answer; NULL when it is no XML. The caller frees it. A long
 * call's answer may start with spaces the store sent to keep the
 * connection open (CompleteMultipartUpload): they are skipped. */
static xmlDoc *xml_parse(const char *buf, size_t len)
{
    while (len && (*buf == ' ' || *buf == '\n' || *buf == '\r' || *buf == '\t'))
        buf++, len--;
    if (len == 0 || len > INT32_MAX)
        return NULL;
    return xmlReadMemory(buf, (int)len, NULL, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The first child element of n named name, or NULL. */
static xmlNode *child(const xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* The text of n's child element name into buf ("" when absent). */
static const char *child_text(const xmlNode *n, const char *name, char *buf, size_t cap)
{
    xmlNode *c = child(n, name);
    xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
    snprintf(buf, cap, "%s", t ? (const char *)t : "");
    xmlFree(t);
    return buf;
}

/* The <Code> of an error answer into code ("" when it is none). */
static void error_code(const char *body, size_t len, char *code, size_t cap)
{
    xmlDoc *d = xml_parse(body, len);
    xmlNode *root = d ? xmlDocGetRootElement(d) : NULL;
    code[0] = '\0';
    if (root && strcmp((const char *)root->name, "Error") == 0)
        child_text(root, "Code", code, cap);
    xmlFreeDoc(d);
}

/* --- one request, retried ---------------------------------------------- */

/* One S3 request. The key is relative to the prefix; NULL: the bucket. */
typedef struct s3_req {
    const char *method;
    const char *key;
    const char *query;          /* canonical (sorted, encoded), or NULL */
    const char *const *headers; /* "name:value" lines, signed and sent */
    size_t nheaders;
    const char *body; /* a small body in memory, or NULL */
    size_t body_len;
    const http_body_fd *body_fd; /* or a streamed one */
    http_sink *sink;             /* a 2xx body into a file (from the fd's offset) */
    char *resp;                  /* else the body here (resp_cap - 1 bytes at most) */
    size_t resp_cap;
    size_t resp_len;   /* set by s3_send */
    int tries;         /* set by s3_send: how many times it was sent */
    bool streamed;     /* the stall limit instead of the deadline */
    bool error_in_200; /* a 200 may carry an <Error> (CompleteMultipartUpload) */
    bool bucket_404;   /* a bodiless 404 is the bucket's (HEAD of the bucket) */
} s3_req;

/* The wait before try n (1, 2, ...): the store's Retry-After when it gave
 * one, else 200 ms doubling, with jitter, at most 5 s. */
static long backoff_ms(int n, long retry_after)
{
    long ms = retry_after >= 0 ? retry_after * 1000 : 200L << (n < 5 ? n - 1 : 4);
    if (retry_after < 0) {
        ms = ms > 5000 ? 5000 : ms;
        ms = ms / 2 + rand() % (ms / 2 + 1);
    }
    return ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Maps an answered status (and the error's code) to a store status. */
static store_status classify(long status, const char *code)
{
    if (status >= 200 && status < 300)
        return STORE_OK;
    if (strcmp(code, "NoSuchBucket") == 0)
        return STORE_NO_BUCKET;
    if (status == 404 || strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchUpload") == 0)
        return STORE_NOT_FOUND;
    if (status == 412 || strcmp(code, "PreconditionFailed") == 0)
        return STORE_PRECONDITION;
    if (status == 403 || status == 401)
        return STORE_DENIED;
    if (status >= 500 || status == 429 || strcmp(code, "SlowDown") == 0 ||
        strcmp(code, "RequestTimeout") == 0)
        return STORE_RETRY;
    if (strcmp(code, "EntityTooLarge") == 0)
        return STORE_TOO_LARGE;
    return STORE_ERROR;
}

/* A streamed request's progress, as the call's (store_progress). */
static bool moved(void *arg, long long sent, long long received)
{
    store *s = arg;
    return store_progress(s, s->done_before + (sent > received ? sent : received),
                          s->progress_total, false);
}

/* Signs and sends r once into resp. Returns the outcome. */
static http_outcome send_once(store *s, const s3_req *r, const s3_target *t, http_response *resp)
{
    const config *cfg = s->cfg;
    char date[17], hhost[320], hdate[40], hsha[100], htok[4200], authz[1024];
    const char *signed_h[24], *sent[26];
    size_t ns = 0;
    amz_date_of(time(NULL), date);
    snprintf(hhost, sizeof hhost, "host:%s", t->host);
    snprintf(hdate, sizeof hdate, "x-amz-date:%s", date);
    char phash[65] = "UNSIGNED-PAYLOAD";
    if (r->body && !r->body_fd)
        sha256_hex(r->body, r->body_len, phash);
    snprintf(hsha, sizeof hsha, "x-amz-content-sha256:%s", phash);
    signed_h[ns++] = hhost;
    signed_h[ns++] = hdate;
    signed_h[ns++] = hsha;
    if (*s->cred_token) {
        if (strlen(s->cred_token) > 4096) {
            snprintf(resp->err, sizeof resp->err, "the session token is longer than 4096 bytes");
            return HTTP_BAD_REQUEST;
        }
        snprintf(htok, sizeof htok, "x-amz-security-token:%s", s->cred_token);
        signed_h[ns++] = htok;
    }
    for (size_t i = 0; i < r->nheaders && ns < 20; i++)
        signed_h[ns++] = r->headers[i];
    sigv4_request q = {r->method, t->path, r->query,    signed_h,       ns,
                       NULL,      0,       s->cred_key, s->cred_secret, cfg->storage_region,
                       "s3",      date};
    char auth_line[1100];
    if (sigv4_sign_hashed(&q, phash, authz, sizeof authz) != 0) {
        snprintf(resp->err, sizeof resp->err, "cannot sign the request");
        return HTTP_BAD_REQUEST;
    }
    snprintf(auth_line, sizeof auth_line, "Authorization: %s", authz);
    /* Sent as signed: "name:value" is a valid header line too. */
    for (size_t i = 0; i < ns; i++)
        sent[i] = signed_h[i];
    sent[ns] = auth_line;
    char url[2600];
    snprintf(url, sizeof url, "%s%s%s", t->url, r->query && *r->query ? "?" : "",
             r->query ? r->query : "");
    long tmo = cfg->storage_timeout_ms;
    http_request req = {r->method,
                        url,
                        sent,
                        ns + 1,
                        r->body,
                        r->body_len,
                        tmo < 5000 ? tmo : 5000,
                        r->streamed ? STREAM_DEADLINE_MS : tmo,
                        false};
    http_stream io = {.body_fd = r->body_fd,
                      .sink = r->sink,
                      .stall_s = r->streamed ? (tmo + 999) / 1000 : 0,
                      .progress = r->streamed && s->progress ? moved : NULL,
                      .progress_arg = s};
    return http_client_stream(&s->http, &req, &io, resp);
}

/* Sends r, again after a failure worth retrying (at most
 * MEDIAGATE_STORAGE_RETRIES more times). *status gets the last HTTP
 * status (0: none). Returns the store status; err names what and why. */
static store_status s3_send(store *s, s3_req *r, long *status)
{
    s3_target t;
    char code[64], ebuf[ERR_BODY_MAX];
    store_status st = STORE_ERROR;
    const char *what = r->key ? r->key : "the bucket";
    off_t sink_start = r->sink ? lseek(r->sink->fd, 0, SEEK_CUR) : 0;
    long waited = 0;
    *status = 0;
    if (target_of(s->cfg, r->key, &t) != 0)
        return store_fail(s, STORE_ERROR, "%s: the endpoint or key makes no URL", what);
    for (int attempt = 0;; attempt++) {
        http_response resp = {.body = r->resp ? r->resp : ebuf,
                              .body_cap = r->resp ? r->resp_cap : sizeof ebuf};
        if (r->sink && (ftruncate(r->sink->fd, sink_start) != 0 ||
                        lseek(r->sink->fd, sink_start, SEEK_SET) != sink_start))
            return store_fail(s, STORE_ERROR, "%s: cannot write the local file", what);
        r->tries = attempt + 1;
        http_outcome o = send_once(s, r, &t, &resp);
        *status = resp.status;
        r->resp_len = resp.body_len;
        code[0] = '\0';
        s->retry_after = resp.retry_after;
        if (o == HTTP_ANSWERED) {
            if (resp.status < 200 || resp.status >= 300 || r->error_in_200)
                error_code(resp.body, resp.body_len, code, sizeof code);
            st = classify(resp.status == 200 && *code ? 500 : resp.status, code);
            if (st == STORE_NOT_FOUND && r->bucket_404 && !*code)
                st = STORE_NO_BUCKET;
            if (st == STORE_OK)
                return STORE_OK;
            store_fail(s, st, "%s: %s %ld%s%s", what, r->method, resp.status, *code ? " " : "",
                       code);
        } else if (o == HTTP_TOO_LARGE) {
            return store_fail(s, STORE_TOO_LARGE, "%s: %s", what, resp.err);
        } else if (o == HTTP_NO_ANSWER) {
            st = store_fail(s, STORE_RETRY, "%s: the store did not answer: %s", what, resp.err);
        } else {
            return store_fail(s, STORE_ERROR, "%s: %s", what, resp.err);
        }
        long wait = backoff_ms(attempt + 1, resp.retry_after);
        if (st != STORE_RETRY || attempt >= s->cfg->storage_retries ||
            resp.retry_after > RETRY_AFTER_MAX_S || waited + wait > RETRY_WAIT_MAX_MS)
            return st;
        if (r->streamed && !store_progress(s, s->done_before, s->progress_total, true))
            return store_fail(s, STORE_ERROR, "%s: cancelled", what);
        sleep_ms(wait);
        waited += wait;
    }
}

/* Reads what a read or HEAD answered into meta (size from Content-Length
 * unless known); a write's answer has no type of the object's, so written
 * (its options) names it. */
static void meta_of(store *s, long long size, const store_put_opts *written, store_object *meta)
{
    char v[64];
    if (!meta)
        return;
    memset(meta, 0, sizeof *meta);
    meta->size = size;
    http_client_header(&s->http, "ETag", meta->etag, sizeof meta->etag);
    if (written)
        snprintf(meta->content_type, sizeof meta->content_type, "%s",
                 written->content_type ? written->content_type : "application/octet-stream");
    else
        http_client_header(&s->http, "Content-Type", meta->content_type, sizeof meta->content_type);
    if (size < 0 && http_client_header(&s->http, "Content-Length", v, sizeof v) == 0)
        meta->size = strtoll(v, NULL, 10);
}

/* The headers of a write: content type, cache control, the condition (not
 * on a multipart create: S3 takes none there), the ACL. Fills lines (room
 * for 4); returns how many. */
typedef struct put_headers {
    char ct[200], cc[200];
    const char *lines[4];
} put_headers;

static size_t put_headers_of(const store_put_opts *o, bool condition, put_headers *h)
{
    size_t n = 0;
    snprintf(h->ct, sizeof h->ct, "content-type:%s",
             o && o->content_type ? o->content_type : "application/octet-stream");
    h->lines[n++] = h->ct;
    if (o && o->cache_control) {
        snprintf(h->cc, sizeof h->cc, "cache-control:%s", o->cache_control);
        h->lines[n++] = h->cc;
    }
    if (o && o->if_none_match && condition)
        h->lines[n++] = "if-none-match:*";
    if (o && o->public_read)
        h->lines[n++] = "x-amz-acl:public-read";
    return n;
}

/* The canonical query of a multipart upload's call: "uploadId=<id>", after
 * "partNumber=<part>&" when part > 0. Returns 0 or -1. */
static int upload_query(const char *upload_id, int part, char *q, size_t cap)
{
    char *enc = curl_easy_escape(NULL, upload_id, 0);
    int n = !enc       ? -1
            : part > 0 ? snprintf(q, cap, "partNumber=%d&uploadId=%s", part, enc)
                       : snprintf(q, cap, "uploadId=%s", enc);
    curl_free(enc);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* --- the backend's rows -------------------------------------------------- */

static int s3_open(store *s)
{
    const char *k, *sec, *tok;
    pthread_once(&xml_once, xml_init);
    if (http_client_init(&s->http, false) != 0)
        return -1;
    s->http.ca_file = s->cfg->outbound_ca_file;
    creds_of(s->cfg, &k, &sec, &tok);
    snprintf(s->cred_key, sizeof s->cred_key, "%s", k);
    snprintf(s->cred_secret, sizeof s->cred_secret, "%s", sec);
    s->cred_token = strdup(tok);
    return s->cred_token ? 0 : -1;
}

static void s3_close(store *s)
{
    http_client_free(&s->http);
    free(s->cred_token);
    explicit_bzero(s->cred_secret, sizeof s->cred_secret);
}

static store_status s3_head(store *s, const char *key, store_object *meta);

/* Whether a conditional write sent more than once was our own: its first
 * answer lost, the next is 412 because the first one wrote. The object is
 * ours when its ETag is the MD5 of what was sent (buf, or len bytes of fd).
 * Fills meta from a HEAD then. */
static bool wrote_it(store *s, const char *key, const void *buf, int fd, long long len,
                     store_object *meta)
{
    unsigned char md[EVP_MAX_MD_SIZE], chunk[65536];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1], want[2 * EVP_MAX_MD_SIZE + 3];
    store_object m;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (long long off = 0; ok && off < len;) {
        size_t n = len - off < (long long)sizeof chunk ? (size_t)(len - off) : sizeof chunk;
        ssize_t got = buf ? (ssize_t)n : pread(fd, chunk, n, (off_t)off);
        ok = got > 0 &&
             EVP_DigestUpdate(ctx, buf ? (const char *)buf + off : (void *)chunk, (size_t)got);
        off += got > 0 ? got : 0;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || s3_head(s, key, &m) != STORE_OK)
        return false;
    to_hex(md, mdlen, hex);
    snprintf(want, sizeof want, "\"%s\"", hex);
    if (strcmp(m.etag, want) != 0 || m.size != len)
        return false;
    if (meta)
        *meta = m;
    return true;
}

static store_status s3_put_mem(store *s, const char *key, const void *buf, size_t len,
                               const store_put_opts *o, store_object *meta)
{
    put_headers h;
    long status;
    size_t nh = put_headers_of(o, true, &h);
    s3_req r = {.method = "PUT",
                .key = key,
                .headers = h.lines,
                .nheaders = nh,
                .body = len ? buf : "",
                .body_len = len};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, (long long)len, o ? o : &(store_put_opts){0}, meta);
    else if (st == STORE_PRECONDITION && r.tries > 1 &&
             wrote_it(s, key, len ? buf : "", -1, (long long)len, meta))
        st = STORE_OK;
    return st;
}

static store_status s3_head(store *s, const char *key, store_object *meta)
{
    long status;
    s3_req r = {.method = "HEAD", .key = key};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, -1, NULL, meta);
    else if (st == STORE_NOT_FOUND)
        store_fail(s, st, "%s: no such key", key);
    return st;
}

static store_status s3_get_mem(store *s, const char *key, size_t cap, char **buf, size_t *len)
{
    long status;
    /* Room for one byte more than cap: a body that fills it is over the cap. */
    size_t room = cap + 2 > ERR_BODY_MAX ? cap + 2 : ERR_BODY_MAX;
    char *b = malloc(room);
    if (!b)
        return store_fail(s, STORE_ERROR, "%s: out of memory", key);
    s3_req r = {.method = "GET", .key = key, .resp = b, .resp_cap = room};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK && r.resp_len > cap)
        st = store_fail(s, STORE_TOO_LARGE, "%s: larger than %zu bytes", key, cap);
    else if (st == STORE_TOO_LARGE)
        store_fail(s, st, "%s: larger than %zu bytes", key, cap);
    if (st != STORE_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *len = r.resp_len;
    return STORE_OK;
}

static store_status s3_del(store *s, const char *key)
{
    long status;
    s3_req r = {.method = "DELETE", .key = key};
    store_status st = s3_send(s, &r, &status);
    return st == STORE_NOT_FOUND ? STORE_OK : st;
}

/* A single PUT of len bytes of fd from offset. */
static store_status put_fd(store *s, const char *key, int fd, long long len,
                           const store_put_opts *o, store_object *meta)
{
    put_headers h;
    long status;
    size_t nh = put_headers_of(o, true, &h);
    http_body_fd src = {fd, 0, len};
    s3_req r = {.method = "PUT",
                .key = key,
                .headers = h.lines,
                .nheaders = nh,
                .body_fd = &src,
                .streamed = true};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, len, o ? o : &(store_put_opts){0}, meta);
    else if (st == STORE_PRECONDITION && r.tries > 1 && wrote_it(s, key, NULL, fd, len, meta))
        st = STORE_OK;
    return st;
}

static store_status s3_get_file(store *s, const char *key, const char *path, long long max_bytes,
                                const char *if_match, store_object *meta)
{
    long status;
    char ebuf[ERR_BODY_MAX], im[120];
    const char *hdrs[1];
    size_t nh = 0;
    if (if_match) {
        snprintf(im, sizeof im, "if-match:%s", if_match);
        hdrs[nh++] = im;
    }
    s->done_before = 0;
    s->progress_total = -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return store_fail(s, STORE_ERROR, "%s: cannot create the local file", key);
    http_sink sink = {.fd = fd, .cap = max_bytes};
    s3_req r = {.method = "GET",
                .key = key,
                .headers = hdrs,
                .nheaders = nh,
                .sink = &sink,
                .resp = ebuf,
                .resp_cap = sizeof ebuf,
                .streamed = true};
    store_status st = s3_send(s, &r, &status);
    if (close(fd) != 0 && st == STORE_OK)
        st = store_fail(s, STORE_ERROR, "%s: cannot write the local file", key);
    if (st != STORE_OK) {
        unlink(path);
        if (st == STORE_TOO_LARGE)
            store_fail(s, st, "%s: larger than %lld bytes", key, max_bytes);
        return st;
    }
    meta_of(s, sink.written, NULL, meta);
    return STORE_OK;
}

static store_status s3_mp_create(store *s, const char *key, const store_put_opts *o,
                                 char *upload_id, size_t cap)
{
    put_headers h;
    long status;
    char body[ERR_BODY_MAX], id[512];
    size_t nh = put_headers_of(o, false, &h);
    s3_req r = {.method = "POST",
                .key = key,
                .query = "uploads=",
                .headers = h.lines,
                .nheaders = nh,
                .body = "",
                .body_len = 0,
                .resp = body,
                .resp_cap = sizeof body};
    store_status st = s3_send(s, &r, &status);
    if (st != STORE_OK)
        return st;
    xmlDoc *d = xml_parse(body, strlen(body));
    child_text(d ? xmlDocGetRootElement(d) : NULL, "UploadId", id, sizeof id);
    xmlFreeDoc(d);
    if (!*id || strlen(id) >= cap)
        return store_fail(s, STORE_ERROR, "%s: no upload id in the answer", key);
    memcpy(upload_id, id, strlen(id) + 1);
    return STORE_OK;
}

static store_status s3_mp_abort(store *s, const char *key, const char *upload_id)
{
    long status;
    char q[700];
    if (upload_query(upload_id, 0, q, sizeof q) != 0)
        return store_fail(s, STORE_ERROR, "%s: upload id too long", key);
    s3_req r = {.method = "DELETE", .key = key, .query = q};
    store_status st = s3_send(s, &r, &status);
    return st == STORE_NOT_FOUND ? STORE_OK : st;
}

/* --- multipart uploads ---------------------------------------------------- */

/* The parts of a multipart upload, in part order. */
typedef struct part_list {
    struct part {
        int number;
        long long size;
        char etag[80];
    } * p;
    size_t n, cap;
} part_list;

static int parts_add(part_list *l, int number, long long size, const char *etag)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct part *m = realloc(l->p, cap * sizeof *m);
        if (!m)
            return -1;
        l->p = m;
        l->cap = cap;
    }
    l->p[l->n].number = number;
    l->p[l->n].size = size;
    snprintf(l->p[l->n].etag, sizeof l->p[l->n].etag, "%s", etag);
    l->n++;
    return 0;
}

/* Completes upload_id with the parts of l; meta gets the size and ETag. */
static store_status complete(store *s, const char *key, const char *upload_id, const part_list *l,
                             store_object *meta)
{
    long status;
    char q[700], ans[ERR_BODY_MAX], etag[80];
    long long size = 0;
    size_t cap = 128 + l->n * 128, n = 0;
    char *body = malloc(cap);
    store_status st;
    if (!body)
        return store_fail(s, STORE_ERROR, "%s: out of memory", key);
    if (upload_query(upload_id, 0, q, sizeof q) != 0) {
        free(body);
        return store_fail(s, STORE_ERROR, "%s: upload id too long", key);
    }
    n += (size_t)snprintf(body + n, cap - n, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < l->n; i++) {
        n += (size_t)snprintf(body + n, cap - n,
                              "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
                              l->p[i].number, l->p[i].etag);
        size += l->p[i].size;
    }
    n += (size_t)snprintf(body + n, cap - n, "</CompleteMultipartUpload>");
    s3_req r = {.method = "POST",
                .key = key,
                .query = q,
                .headers = NULL,
                .body = body,
                .body_len = n,
                .resp = ans,
                .resp_cap = sizeof ans,
                .streamed = true,
                .error_in_200 = true};
    st = s3_send(s, &r, &status);
    free(body);
    /* Sent again after a lost answer: the first completion may have been it. */
    if (st == STORE_NOT_FOUND && r.tries > 1 && s3_head(s, key, meta) == STORE_OK &&
        (!meta || meta->size == size))
        return STORE_OK;
    if (st != STORE_OK)
        return st;
    xmlDoc *d = xml_parse(ans, r.resp_len);
    child_text(d ? xmlDocGetRootElement(d) : NULL, "ETag", etag, sizeof etag);
    xmlFreeDoc(d);
    if (!*etag) /* some stores (Ceph RGW 16) answer an empty <ETag> */
        return s3_head(s, key, meta);
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = size;
        /* Quoted, as the ETag header is (RGW repeats a completion unquoted). */
        snprintf(meta->etag, sizeof meta->etag, etag[0] == '"' ? "%s" : "\"%.76s\"", etag);
    }
    return STORE_OK;
}

/* Sends part number part of upload_id: len bytes of fd from off; etag
 * gets its ETag. The caller sets the progress fields (done_before). */
static store_status upload_part(store *s, const char *key, const char *upload_id, int part, int fd,
                                long long off, long long len, char *etag, size_t cap)
{
    char q[700];
    long status;
    http_body_fd src = {fd, off, len};
    if (upload_query(upload_id, part, q, sizeof q) != 0)
        return store_fail(s, STORE_ERROR, "%s: upload id too long", key);
    s3_req r = {.method = "PUT", .key = key, .query = q, .body_fd = &src, .streamed = true};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK && http_client_header(&s->http, "ETag", etag, cap) != 0)
        st = store_fail(s, STORE_ERROR, "%s: part %d: no ETag in the answer", key, part);
    return st;
}

static store_status s3_mp_put_part(store *s, const char *key, const char *upload_id, int part,
                                   int fd, long long off, long long len, char *etag, size_t cap)
{
    s->done_before = 0;
    s->progress_total = len;
    return upload_part(s, key, upload_id, part, fd, off, len, etag, cap);
}

/* Writes len bytes of fd as a multipart upload of parts of the configured
 * size (larger when 10000 would not hold the file); aborts on a failure. */
static store_status put_multipart(store *s, const char *key, int fd, long long len,
                                  const store_put_opts *o, store_object *meta)
{
    char id[512], etag[80];
    long long part = s->cfg->storage_part_bytes;
    part_list l = {0};
    if ((len + part - 1) / part > 10000)
        part = (len + 9999) / 10000;
    if (o && o->if_none_match) {
        /* S3 takes no condition on a multipart create: look first. */
        store_status st = s3_head(s, key, NULL);
        if (st == STORE_OK)
            return store_fail(s, STORE_PRECONDITION, "%s: exists", key);
        if (st != STORE_NOT_FOUND)
            return st;
    }
    store_status st = s3_mp_create(s, key, o, id, sizeof id);
    if (st != STORE_OK)
        return st;
    for (int i = 1; st == STORE_OK && (long long)(i - 1) * part < len; i++) {
        long long off = (long long)(i - 1) * part, n = len - off < part ? len - off : part;
        s->done_before = off;
        st = upload_part(s, key, id, i, fd, off, n, etag, sizeof etag);
        if (st == STORE_OK && parts_add(&l, i, n, etag) != 0)
            st = store_fail(s, STORE_ERROR, "%s: out of memory", key);
    }
    if (st == STORE_OK)
        st = complete(s, key, id, &l, meta);
    if (st == STORE_OK && meta)
        snprintf(meta->content_type, sizeof meta->content_type, "%s",
                 o && o->content_type ? o->content_type : "application/octet-stream");
    if (st != STORE_OK) {
        char why[sizeof s->err];
        memcpy(why, s->err, sizeof why);
        s3_mp_abort(s, key, id); /* best effort; the bucket's lifecycle rule is the backstop */
        memcpy(s->err, why, sizeof why);
    }
    free(l.p);
    return st;
}

static store_status s3_put_file(store *s, const char *key, const char *path,
                                const store_put_opts *o, store_object *meta)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return store_fail(s, STORE_ERROR, "%s: cannot read the local file", key);
    }
    s->done_before = 0;
    s->progress_total = (long long)st.st_size;
    store_status ret = st.st_size > s->cfg->storage_part_bytes
                           ? put_multipart(s, key, fd, (long long)st.st_size, o, meta)
                           : put_fd(s, key, fd, (long long)st.st_size, o, meta);
    close(fd);
    return ret;
}

/* Every part the store holds of upload_id (ListParts, page by page). */
static store_status list_parts(store *s, const char *key, const char *upload_id, part_list *l)
{
    char marker[16] = "0", q[800], id[700], v[100];
    long status;
    store_status st = STORE_OK;
    char *body = malloc(LIST_BODY_MAX);
    if (!body || upload_query(upload_id, 0, id, sizeof id) != 0) {
        free(body);
        return store_fail(s, STORE_ERROR, "%s: out of memory or upload id too long", key);
    }
    for (bool more = true; more && st == STORE_OK;) {
        snprintf(q, sizeof q, "part-number-marker=%s&%s", marker, id);
        s3_req r = {
            .method = "GET", .key = key, .query = q, .resp = body, .resp_cap = LIST_BODY_MAX};
        if ((st = s3_send(s, &r, &status)) != STORE_OK)
            break;
        xmlDoc *d = xml_parse(body, r.resp_len);
        xmlNode *root = d ? xmlDocGetRootElement(d) : NULL;
        if (!root)
            st = store_fail(s, STORE_ERROR, "%s: ListParts answered no XML", key);
        for (xmlNode *c = root ? root->children : NULL; c && st == STORE_OK; c = c->next) {
            char etag[80];
            if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Part") != 0)
                continue;
            int number = atoi(child_text(c, "PartNumber", v, sizeof v));
            long long size = strtoll(child_text(c, "Size", v, sizeof v), NULL, 10);
            child_text(c, "ETag", etag, sizeof etag);
            if (number <= 0 || !*etag || parts_add(l, number, size, etag) != 0)
                st = store_fail(s, STORE_ERROR, "%s: a part ListParts answered is unreadable", key);
        }
        more = root && strcmp(child_text(root, "IsTruncated", v, sizeof v), "true") == 0;
        child_text(root, "NextPartNumberMarker", marker, sizeof marker);
        more = more && *marker;
        xmlFreeDoc(d);
    }
    free(body);
    return st;
}

static store_status s3_mp_complete(store *s, const char *key, const char *upload_id, int parts,
                                   store_object *meta)
{
    part_list l = {0};
    store_status st = list_parts(s, key, upload_id, &l);
    if (st == STORE_OK && l.n == 0)
        st = store_fail(s, STORE_ERROR, "%s: the upload has no parts", key);
    if (st == STORE_OK && parts > 0) {
        /* Listed in part order: 1..parts, each once, then any higher ones. */
        size_t n = 0;
        while (n < l.n && l.p[n].number <= parts)
            n++;
        for (size_t i = 0; i < n && st == STORE_OK; i++)
            if (l.p[i].number != (int)i + 1)
                st = store_fail(s, STORE_ERROR, "%s: part %zu is missing", key, i + 1);
        if (st == STORE_OK && n != (size_t)parts)
            st = store_fail(s, STORE_ERROR, "%s: part %zu is missing", key, n + 1);
        l.n = n;
    }
    if (st == STORE_OK)
        st = complete(s, key, upload_id, &l, meta);
    free(l.p);
    return st;
}

/* --- listing and deleting by prefix ---------------------------------------- */

/* Calls fn for each object of one ListObjectsV2 page (keys without the
 * configured prefix); *stop when fn asked; token gets the next page's. */
static store_status list_page(store *s, const char *body, size_t len, const char *prefix,
                              int (*fn)(void *arg, const char *key, const store_object *o),
                              void *arg, bool *stop, char *token, size_t tcap)
{
    char v[1100];
    size_t plen = strlen(s->cfg->storage_prefix ? s->cfg->storage_prefix : "");
    store_status st = STORE_OK;
    xmlDoc *d = xml_parse(body, len);
    xmlNode *root = d ? xmlDocGetRootElement(d) : NULL;
    token[0] = '\0';
    if (!root)
        st = store_fail(s, STORE_ERROR, "%s: the listing is no XML", prefix);
    for (xmlNode *c = root ? root->children : NULL; c && st == STORE_OK && !*stop; c = c->next) {
        store_object o = {0};
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents") != 0)
            continue;
        child_text(c, "Key", v, sizeof v);
        if (strlen(v) <= plen || !store_key_ok(v + plen))
            continue; /* not a key mediagate writes (or reads, or deletes) */
        char size[32];
        o.size = strtoll(child_text(c, "Size", size, sizeof size), NULL, 10);
        child_text(c, "ETag", o.etag, sizeof o.etag);
        *stop = fn(arg, v + plen, &o) != 0;
    }
    if (root && strcmp(child_text(root, "IsTruncated", v, sizeof v), "true") == 0)
        child_text(root, "NextContinuationToken", token, tcap);
    xmlFreeDoc(d);
    return st;
}

static store_status s3_list(store *s, const char *prefix,
                            int (*fn)(void *arg, const char *key, const store_object *o), void *arg)
{
    char full[1100], token[1100] = "", q[4096];
    long status;
    bool stop = false;
    store_status st = STORE_OK;
    char *body = malloc(LIST_BODY_MAX);
    if (!body)
        return store_fail(s, STORE_ERROR, "%s: out of memory", prefix);
    snprintf(full, sizeof full, "%s%s", s->cfg->storage_prefix ? s->cfg->storage_prefix : "",
             prefix);
    char *encp = curl_easy_escape(NULL, full, 0);
    do {
        char *enct = curl_easy_escape(NULL, token, 0);
        int n = !encp || !enct ? -1
                : *token ? snprintf(q, sizeof q, "continuation-token=%s&list-type=2&prefix=%s",
                                    enct, encp)
                         : snprintf(q, sizeof q, "list-type=2&prefix=%s", encp);
        curl_free(enct);
        if (n < 0 || (size_t)n >= sizeof q) {
            st = store_fail(s, STORE_ERROR, "%s: cannot make the listing's query", prefix);
            break;
        }
        s3_req r = {.method = "GET",
                    .key = NULL,
                    .query = q,
                    .resp = body,
                    .resp_cap = LIST_BODY_MAX,
                    .bucket_404 = true};
        if ((st = s3_send(s, &r, &status)) == STORE_OK)
            st = list_page(s, body, r.resp_len, prefix, fn, arg, &stop, token, sizeof token);
    } while (st == STORE_OK && !stop && *token);
    curl_free(encp);
    free(body);
    return st;
}

/* The <Object>s of one DeleteObjects call (1000 at most). */
typedef struct delete_batch {
    const char *store_prefix;
    char *xml;
    size_t len, cap;
    int n;
    bool oom;
} delete_batch;

static int batch_add(void *arg, const char *key, const store_object *o)
{
    delete_batch *b = arg;
    size_t need = strlen(b->store_prefix) + strlen(key) + 64;
    if (b->len + need > b->cap) {
        size_t cap = (b->cap + need) * 2;
        char *m = realloc(b->xml, cap);
        if (!m) {
            b->oom = true;
            return 1;
        }
        b->xml = m;
        b->cap = cap;
    }
    /* Keys are [A-Za-z0-9._/-] (store_key_ok, the prefix's check): nothing to escape. */
    b->len += (size_t)snprintf(b->xml + b->len, b->cap - b->len, "<Object><Key>%s%s</Key></Object>",
                               b->store_prefix, key);
    return ++b->n >= 1000;
}

/* One DeleteObjects call (Content-MD5 is required) for the batch's keys. */
static store_status delete_objects(store *s, const char *prefix, delete_batch *b)
{
    char md5h[64], ans[ERR_BODY_MAX], code[64] = "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    long status;
    const char *hdrs[] = {md5h};
    size_t cap = b->len + 64;
    char *body = malloc(cap);
    if (!body)
        return store_fail(s, STORE_ERROR, "%s: out of memory", prefix);
    int n = snprintf(body, cap, "<Delete><Quiet>true</Quiet>%.*s</Delete>", (int)b->len, b->xml);
    EVP_Digest(body, (size_t)n, md, &mdlen, EVP_md5(), NULL);
    memcpy(md5h, "content-md5:", 12);
    EVP_EncodeBlock((unsigned char *)md5h + 12, md, (int)mdlen);
    s3_req r = {.method = "POST",
                .key = NULL,
                .query = "delete=",
                .headers = hdrs,
                .nheaders = 1,
                .body = body,
                .body_len = (size_t)n,
                .resp = ans,
                .resp_cap = sizeof ans,
                .bucket_404 = true};
    store_status st = s3_send(s, &r, &status);
    free(body);
    if (st != STORE_OK)
        return st;
    /* Quiet: the answer names only the keys that failed. */
    xmlDoc *d = xml_parse(ans, r.resp_len);
    xmlNode *err = child(d ? xmlDocGetRootElement(d) : NULL, "Error");
    if (err)
        child_text(err, "Code", code, sizeof code);
    xmlFreeDoc(d);
    if (err)
        return store_fail(s, strcmp(code, "AccessDenied") == 0 ? STORE_DENIED : STORE_RETRY,
                          "%s: DeleteObjects failed for some keys: %s", prefix, code);
    return STORE_OK;
}

/* Lists a page, deletes it, until the prefix holds nothing. */
static store_status s3_del_prefix(store *s, const char *prefix)
{
    store_status st;
    delete_batch b = {.store_prefix = s->cfg->storage_prefix ? s->cfg->storage_prefix : ""};
    do {
        b.len = 0;
        b.n = 0;
        st = s3_list(s, prefix, batch_add, &b);
        if (st == STORE_OK && b.oom)
            st = store_fail(s, STORE_ERROR, "%s: out of memory", prefix);
        if (st == STORE_OK && b.n > 0)
            st = delete_objects(s, prefix, &b);
    } while (st == STORE_OK && b.n >= 1000);
    free(b.xml);
    return st;
}

/* --- the connect check ---------------------------------------------------- */

/* Appends a line to msg at *n. */
static void say(char *msg, size_t cap, size_t *n, const char *line, const store *s)
{
    if (*n < cap)
        *n += (size_t)snprintf(msg + *n, cap - *n, "%s%s%s%s", *n ? "\n" : "", line, s ? ": " : "",
                               s ? s->err : "");
}

/* What to look at for a failure of the connect check. */
static const char *hint(store_status st)
{
    switch (st) {
    case STORE_DENIED:
        return "the store refuses the credentials or the request (check "
               "MEDIAGATE_STORAGE_ACCESS_KEY_ID, MEDIAGATE_STORAGE_SECRET_ACCESS_KEY, "
               "MEDIAGATE_STORAGE_REGION and the key's permissions)";
    case STORE_NO_BUCKET:
    case STORE_NOT_FOUND:
        return "the bucket does not exist (check MEDIAGATE_STORAGE_BUCKET and "
               "MEDIAGATE_STORAGE_ADDRESSING)";
    case STORE_RETRY:
        return "the store did not answer, or answered 5xx (check MEDIAGATE_STORAGE_ENDPOINT)";
    default:
        return "the store failed";
    }
}

static int s3_check(store *s, char *msg, size_t cap)
{
    size_t n = 0;
    long status;
    char key[128], line[512];
    msg[0] = '\0';
    if (!*s->cred_key || !*s->cred_secret) { /* a request could only add a misleading line */
        say(msg, cap, &n,
            "no credentials: set MEDIAGATE_STORAGE_ACCESS_KEY_ID and "
            "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY",
            NULL);
        return -1;
    }
    s3_req r = {.method = "HEAD", .key = NULL, .bucket_404 = true};
    store_status st = s3_send(s, &r, &status);
    if (st != STORE_OK) {
        snprintf(line, sizeof line, "HEAD of the bucket %s: %s", s->cfg->storage_bucket, hint(st));
        say(msg, cap, &n, line, s);
        return -1;
    }
    snprintf(key, sizeof key, "check/%ld-%ld.txt", (long)getpid(), (long)time(NULL));
    store_put_opts o = {.content_type = "text/plain"};
    st = s3_put_mem(s, key, "mediagate check\n", 16, &o, NULL);
    if (st != STORE_OK) {
        snprintf(line, sizeof line, "a write of %s%s: %s", s->cfg->storage_prefix, key, hint(st));
        say(msg, cap, &n, line, s);
        return -1;
    }
    st = s3_del(s, key);
    if (st != STORE_OK) {
        snprintf(line, sizeof line, "a delete of %s%s: %s", s->cfg->storage_prefix, key, hint(st));
        say(msg, cap, &n, line, s);
    }
    return n ? -1 : 0;
}

/* --- without a handle ---------------------------------------------------- */

int s3_presign(const config *cfg, const store_presign_req *p, char *url, size_t cap)
{
    s3_target t;
    const char *k, *sec, *tok;
    char date[17], query[16384], ops[800], hl[48], hct[200];
    const char *hdrs[3];
    size_t nh = 0;
    if (!p->method ||
        (strcmp(p->method, "GET") && strcmp(p->method, "PUT") && strcmp(p->method, "HEAD")))
        return -1;
    if (target_of(cfg, p->key, &t) != 0)
        return -1;
    creds_of(cfg, &k, &sec, &tok);
    amz_date_of(p->now ? p->now : time(NULL), date);
    ops[0] = '\0';
    if (p->upload_id && p->part > 0 && upload_query(p->upload_id, p->part, ops, sizeof ops) != 0)
        return -1;
    if (p->content_length >= 0 && strcmp(p->method, "PUT") == 0) {
        snprintf(hl, sizeof hl, "content-length:%lld", p->content_length);
        hdrs[nh++] = hl;
    }
    if (p->content_type) {
        snprintf(hct, sizeof hct, "content-type:%s", p->content_type);
        hdrs[nh++] = hct;
    }
    if (p->if_none_match && strcmp(p->method, "PUT") == 0)
        hdrs[nh++] = "if-none-match:*";
    sigv4_presign_req q = {p->method,           t.host, t.path, ops,         hdrs, nh, k, sec, tok,
                           cfg->storage_region, "s3",   date,   p->expires_s};
    if (sigv4_presign(&q, query, sizeof query) != 0)
        return -1;
    int n = snprintf(url, cap, "%s?%s", t.url, query);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int s3_public_url(const config *cfg, const char *key, char *url, size_t cap)
{
    s3_target t;
    int n;
    if (cfg->storage_public_url && *cfg->storage_public_url)
        n = snprintf(url, cap, "%s/%s%s", cfg->storage_public_url,
                     cfg->storage_prefix ? cfg->storage_prefix : "", key);
    else if (target_of(cfg, key, &t) == 0)
        n = snprintf(url, cap, "%s", t.url);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* PutObjectAcl with a canned ACL: public-read, or private again. */
static store_status s3_set_public(store *s, const char *key, bool public_read)
{
    long status;
    const char *h[] = {public_read ? "x-amz-acl:public-read" : "x-amz-acl:private"};
    s3_req r = {.method = "PUT", .key = key, .query = "acl=", .headers = h, .nheaders = 1,
                .body = "", .body_len = 0};
    return s3_send(s, &r, &status);
}

const store_backend store_s3_backend = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .put_file = s3_put_file,
    .put_mem = s3_put_mem,
    .get_file = s3_get_file,
    .get_mem = s3_get_mem,
    .head = s3_head,
    .del = s3_del,
    .del_prefix = s3_del_prefix,
    .list = s3_list,
    .mp_create = s3_mp_create,
    .mp_complete = s3_mp_complete,
    .mp_abort = s3_mp_abort,
    .check = s3_check,
    .set_public = s3_set_public,
    .mp_put_part = s3_mp_put_part,
};
