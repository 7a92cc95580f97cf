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
#define RETRY_AFTER_MAX_S 30    /* a longer Retry-After is the caller's to wait */
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
    *token = cfg->storage_session_token && *cfg->storage_session_token
                 ? cfg->storage_session_token
                 : *token ? *token : "";
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

/* Parses an answer; NULL when it is no XML. The caller frees it. */
static xmlDoc *xml_parse(const char *buf, size_t len)
{
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
    const char *body;           /* a small body in memory, or NULL */
    size_t body_len;
    const http_body_fd *body_fd; /* or a streamed one */
    http_sink *sink;            /* a 2xx body into a file (from the fd's offset) */
    char *resp;                 /* else the body here (resp_cap - 1 bytes at most) */
    size_t resp_cap;
    size_t resp_len;            /* set by s3_send */
    bool streamed;              /* the stall limit instead of the deadline */
} s3_req;

/* A backoff before attempt n (1, 2, ...): 200 ms doubling, with jitter,
 * at most 5 s; the store's Retry-After when it gave one. */
static void backoff(int n, long retry_after)
{
    long ms = retry_after >= 0 ? retry_after * 1000 : 200L << (n < 5 ? n - 1 : 4);
    if (retry_after < 0) {
        ms = ms > 5000 ? 5000 : ms;
        ms = ms / 2 + rand() % (ms / 2 + 1);
    }
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

/* Signs and sends r once into resp. Returns the outcome. */
static http_outcome send_once(store *s, const s3_req *r, const s3_target *t, http_response *resp)
{
    const config *cfg = s->cfg;
    char date[17], hhost[320], hdate[40], hsha[100], htok[2100], authz[1024];
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
        if (strlen(s->cred_token) > 2000)
            return HTTP_BAD_REQUEST;
        snprintf(htok, sizeof htok, "x-amz-security-token:%s", s->cred_token);
        signed_h[ns++] = htok;
    }
    for (size_t i = 0; i < r->nheaders && ns < 20; i++)
        signed_h[ns++] = r->headers[i];
    sigv4_request q = {r->method, t->path, r->query, signed_h, ns, NULL, 0, s->cred_key,
                       s->cred_secret, cfg->storage_region, "s3", date};
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
    http_request req = {r->method, url, sent, ns + 1, r->body, r->body_len,
                        tmo < 5000 ? tmo : 5000, r->streamed ? STREAM_DEADLINE_MS : tmo, false};
    http_stream io = {r->body_fd, r->sink, r->streamed ? (tmo + 999) / 1000 : 0};
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
    *status = 0;
    if (target_of(s->cfg, r->key, &t) != 0)
        return store_fail(s, STORE_ERROR, "%s: the endpoint or key makes no URL", what);
    for (int attempt = 0;; attempt++) {
        http_response resp = {.body = r->resp ? r->resp : ebuf,
                              .body_cap = r->resp ? r->resp_cap : sizeof ebuf};
        if (r->sink && (ftruncate(r->sink->fd, sink_start) != 0 ||
                        lseek(r->sink->fd, sink_start, SEEK_SET) != sink_start))
            return store_fail(s, STORE_ERROR, "%s: cannot write the local file", what);
        http_outcome o = send_once(s, r, &t, &resp);
        *status = resp.status;
        r->resp_len = resp.body_len;
        code[0] = '\0';
        s->retry_after = resp.retry_after;
        if (o == HTTP_ANSWERED) {
            if (resp.status < 200 || resp.status >= 300)
                error_code(resp.body, resp.body_len, code, sizeof code);
            st = classify(resp.status, code);
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
        if (st != STORE_RETRY || attempt >= s->cfg->storage_retries ||
            resp.retry_after > RETRY_AFTER_MAX_S)
            return st;
        backoff(attempt + 1, resp.retry_after);
    }
}

/* Reads what a write or HEAD answered into meta (size from Content-Length
 * unless known). */
static void meta_of(store *s, long long size, store_object *meta)
{
    char v[64];
    if (!meta)
        return;
    memset(meta, 0, sizeof *meta);
    meta->size = size;
    http_client_header(&s->http, "ETag", meta->etag, sizeof meta->etag);
    http_client_header(&s->http, "Content-Type", meta->content_type, sizeof meta->content_type);
    if (size < 0 && http_client_header(&s->http, "Content-Length", v, sizeof v) == 0)
        meta->size = strtoll(v, NULL, 10);
}

/* The headers of a write: content type, cache control, the condition, the
 * ACL. Fills lines (room for 4) from bufs; returns how many. */
typedef struct put_headers {
    char ct[200], cc[200];
    const char *lines[4];
} put_headers;

static size_t put_headers_of(const store_put_opts *o, put_headers *h)
{
    size_t n = 0;
    snprintf(h->ct, sizeof h->ct, "content-type:%s",
             o && o->content_type ? o->content_type : "application/octet-stream");
    h->lines[n++] = h->ct;
    if (o && o->cache_control) {
        snprintf(h->cc, sizeof h->cc, "cache-control:%s", o->cache_control);
        h->lines[n++] = h->cc;
    }
    if (o && o->if_none_match)
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
    int n = !enc ? -1
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

static store_status s3_put_mem(store *s, const char *key, const void *buf, size_t len,
                               const store_put_opts *o, store_object *meta)
{
    put_headers h;
    long status;
    size_t nh = put_headers_of(o, &h);
    s3_req r = {.method = "PUT", .key = key, .headers = h.lines, .nheaders = nh,
                .body = len ? buf : "", .body_len = len};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, (long long)len, meta);
    return st;
}

static store_status s3_head(store *s, const char *key, store_object *meta)
{
    long status;
    s3_req r = {.method = "HEAD", .key = key};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, -1, meta);
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
    size_t nh = put_headers_of(o, &h);
    http_body_fd src = {fd, 0, len};
    s3_req r = {.method = "PUT", .key = key, .headers = h.lines, .nheaders = nh,
                .body_fd = &src, .streamed = true};
    store_status st = s3_send(s, &r, &status);
    if (st == STORE_OK)
        meta_of(s, len, meta);
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
    store_status ret = put_fd(s, key, fd, (long long)st.st_size, o, meta);
    close(fd);
    return ret;
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
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return store_fail(s, STORE_ERROR, "%s: cannot create the local file", key);
    http_sink sink = {fd, max_bytes, 0};
    s3_req r = {.method = "GET", .key = key, .headers = hdrs, .nheaders = nh, .sink = &sink,
                .resp = ebuf, .resp_cap = sizeof ebuf, .streamed = true};
    store_status st = s3_send(s, &r, &status);
    if (close(fd) != 0 && st == STORE_OK)
        st = store_fail(s, STORE_ERROR, "%s: cannot write the local file", key);
    if (st != STORE_OK) {
        unlink(path);
        if (st == STORE_TOO_LARGE)
            store_fail(s, st, "%s: larger than %lld bytes", key, max_bytes);
        return st;
    }
    meta_of(s, sink.written, meta);
    return STORE_OK;
}

/* Placeholders until the multipart and listing calls land. */
static store_status s3_list(store *s, const char *prefix,
                            int (*fn)(void *arg, const char *key, const store_object *o),
                            void *arg)
{
    return store_fail(s, STORE_ERROR, "listing is not written yet");
}

static store_status s3_mp_create(store *s, const char *key, const store_put_opts *o,
                                 char *upload_id, size_t cap)
{
    put_headers h;
    long status;
    char body[ERR_BODY_MAX], id[512];
    size_t nh = put_headers_of(o, &h);
    s3_req r = {.method = "POST", .key = key, .query = "uploads=", .headers = h.lines,
                .nheaders = nh, .body = "", .body_len = 0, .resp = body, .resp_cap = sizeof body};
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

static store_status s3_mp_complete(store *s, const char *key, const char *upload_id,
                                   store_object *meta)
{
    return store_fail(s, STORE_ERROR, "multipart completion is not written yet");
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

static int s3_check(store *s, char *msg, size_t cap)
{
    snprintf(msg, cap, "the connect check is not written yet");
    return -1;
}

/* --- without a handle ---------------------------------------------------- */

int s3_presign(const config *cfg, const store_presign_req *p, char *url, size_t cap)
{
    s3_target t;
    const char *k, *sec, *tok;
    char date[17], query[4096], ops[800], hl[48], hct[200];
    const char *hdrs[3];
    size_t nh = 0;
    if (!p->method || (strcmp(p->method, "GET") && strcmp(p->method, "PUT") &&
                       strcmp(p->method, "HEAD")))
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
    sigv4_presign_req q = {p->method, t.host, t.path, ops, hdrs, nh, k, sec, tok,
                           cfg->storage_region, "s3", date, p->expires_s};
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
    .list = s3_list,
    .mp_create = s3_mp_create,
    .mp_complete = s3_mp_complete,
    .mp_abort = s3_mp_abort,
    .check = s3_check,
};
