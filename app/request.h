#ifndef MEDIAGATE_REQUEST_H
#define MEDIAGATE_REQUEST_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

struct caller;
struct config;
struct db;

/* Outcomes of the parsers below. */
enum {
    PARSE_OK = 0,
    PARSE_MALFORMED = -1, /* bad syntax: 400 */
    PARSE_NUL = -2,       /* a NUL byte: 400 */
    PARSE_TOO_LARGE = -3, /* over the cap: 413 */
    PARSE_NOMEM = -4,     /* 500 */
    PARSE_TOO_MANY = -5,  /* too many fields: 400 */
    PARSE_UTF8 = -6,      /* a key or value that is not UTF-8: 400 */
};

typedef struct param {
    const char *key;
    const char *val;
    size_t vlen;
} param;

typedef struct params {
    param *v;
    size_t n;
} params;

#define PARAMS_MAX 64

/* Parses CONTENT_LENGTH. An empty value means no body (0). Only ASCII
 * digits are accepted; a value above cap gives PARSE_TOO_LARGE without
 * overflowing. */
int parse_content_length(const char *buf, size_t len, size_t cap, size_t *out);

/* Parses nginx's $msec ("1733530000.123": seconds, a dot, three digits)
 * into milliseconds in *out. Returns false for anything else. */
bool parse_msec(const char *buf, size_t len, long long *out);

/* Percent-decodes buf into a NUL-terminated arena string; with plus_space a
 * '+' becomes a space. A bad escape gives PARSE_MALFORMED, a NUL byte
 * (raw or %00) PARSE_NUL. */
int url_decode(arena *a, const char *buf, size_t len, bool plus_space, char **out,
               size_t *outlen);

/* Parses a query string or application/x-www-form-urlencoded body into
 * decoded key/value pairs allocated from a. Empty segments ("a=1&&b=2")
 * are skipped; more than PARAMS_MAX fields give PARSE_TOO_MANY. */
int parse_urlencoded(arena *a, const char *buf, size_t len, params *out);

/* parse_urlencoded for a request's query string: a key or value that does
 * not decode to UTF-8 gives PARSE_UTF8. */
int parse_query(arena *a, const char *buf, size_t len, params *out);

/* The number of characters (code points) in len bytes of UTF-8, or -1
 * when they are not valid UTF-8 (overlong forms, surrogates, beyond
 * U+10FFFF, a truncated sequence). */
long utf8_length(const char *buf, size_t len);

/* The first value of key, or NULL when absent. */
const param *params_get(const params *p, const char *key);

/* Parses a JSON body with the strict tokener, requiring the whole buffer
 * to be one value, and UTF-8 as utf8_length() has it (no overlong forms,
 * surrogates or code points past U+10FFFF). Returns a new reference, or NULL with a
 * static message in *err. */
struct json_object *parse_json(const char *buf, size_t len, const char **err);

#define REQUEST_HEADERS_MAX 8

/* One request, as a handler sees it. Everything lives in the arena. */
typedef struct request {
    arena *a;
    const struct config *cfg;
    struct db *db;
    struct db *read_db;  /* the replica's, when MEDIAGATE_DATABASE_READ_URL is set */
    struct db *primary_db; /* the primary's, also while a ROUTE_READ row runs on
                            * read_db (NULL: db is the primary's) */
    bool primary_failed;   /* a statement a ROUTE_READ row runs on the primary
                            * met it unavailable: not the replica's failure */

    const char *method; /* HEAD is presented to handlers as GET */
    bool head;
    const char *path;   /* with the mount prefix removed */
    const char *query;  /* raw QUERY_STRING; NULL when there is none */
    params qp;          /* decoded query parameters */
    int query_status;   /* ROUTE_OWN_QUERY: the parser's refusal of the
                         * query (qp is then empty), else 0 */
    const char *content_type;
    const char *body;
    size_t body_len;
    int body_status;        /* non-zero: the body was refused (400, 413) */
    const char *body_error; /* and why */
    const char *origin;
    const char *if_none_match;
    char **env;         /* every FastCGI param as NAME=value, NULL-terminated */

    /* Filled in by the handler, read by the writer. */
    struct json_object *out; /* response body; the writer drops the ref */
    const char *cache_control;
    bool etag;          /* give a 200 a strong ETag and honour If-None-Match */
    const char *etag_extra; /* also covered by the ETag (a job's ACL); NULL: none */
    const char *raw_body; /* instead of out: a body sent as is (/metrics) */
    size_t raw_len;
    const char *raw_type; /* its Content-Type */
    /* Headers of a route's own protocol (tus: Upload-Offset, ...), added
     * with request_header; the writer emits them (none holding CR or LF). */
    struct {
        const char *name, *value;
    } headers[REQUEST_HEADERS_MAX];
    int nheaders;

    /* Filled in by the dispatcher. */
    const char *location; /* a Location header (no CR/LF: the writer checks) */
    const char *reason;   /* X-Mediagate-Reason, for nginx's own error pages
                           * after an auth_request check (no CR/LF) */
    void *in;             /* ROUTE_STREAM_BODY: the FastCGI body stream, for
                           * request_read(); NULL otherwise */
    const char *allow;  /* methods of this path, for Allow and preflights */
    const char *cors_origin; /* echoed in Access-Control-Allow-Origin */
    const struct route *route; /* the router's row, once found */
    struct caller *caller; /* who asks, as the row's credential says (caller.h):
                            * never NULL in a handler; c->owner is set on
                            * AUTH_CALLER routes */
    const char *request_id; /* X-Request-Id and every log line of the request */
    long long queue_wait_ms; /* from nginx passing it on to a thread taking it
                              * (MEDIAGATE_REQUEST_START); -1: unknown */
    bool preflight;
} request;

typedef int (*handler_fn)(request *r);

/* Reads up to n bytes of a body the route streams (ROUTE_STREAM_BODY).
 * Returns the count, 0 at its end, or -1 when there is no stream. */
long request_read(request *r, char *buf, size_t n);

/* Adds the response header name: value (both arena or static memory);
 * past REQUEST_HEADERS_MAX it is dropped. */
void request_header(request *r, const char *name, const char *value);

/* Sets the standard error body {"success": false, "message": msg} and
 * returns status, so a handler can `return reply_error(r, 422, "…")`. */
int reply_error(request *r, int status, const char *msg);

/* The media API's parameter convention. Returns 0 with *out set to the
 * decoded value of query parameter name, or replies 400 "Not found
 * parameter." (no query string), 400 "Not found parameter NAME." (absent)
 * or 422 "Not exist parameter NAME." (empty) and returns that status. */
int require_param(request *r, const char *name, const char **out);

/* The FastCGI param name (e.g. HTTP_X_API_KEY) of r, or NULL. */
const char *request_param(const request *r, const char *name);

/* Replies with the message for a db_exec() failure status and returns it. */
int reply_db_error(request *r, int status);

#endif
