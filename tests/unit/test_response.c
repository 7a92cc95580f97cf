/* Unit tests for app/response.c: reason phrases, If-None-Match, and the
 * status line, headers and body that reach the FastCGI stream. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "response.h"

#define ORIGIN "https://app.example.com"

/* A rendered response split into its header block and body. */
typedef struct parsed {
    char *text;       /* a NUL-terminated copy of everything */
    size_t head_len;  /* up to and including the blank line */
    const char *body;
    size_t body_len;  /* bytes actually present after the headers */
} parsed;

static bool split(const rendered *o, parsed *p)
{
    memset(p, 0, sizeof *p);
    if (!o->data)
        return false;
    p->text = malloc(o->len + 1);
    if (!p->text)
        return false;
    memcpy(p->text, o->data, o->len);
    p->text[o->len] = '\0';
    char *end = strstr(p->text, "\r\n\r\n");
    if (!end)
        return false;
    p->head_len = (size_t)(end - p->text) + 4;
    p->body = p->text + p->head_len;
    p->body_len = o->len - p->head_len;
    return true;
}

/* How many header lines are called name, and the value of the first. */
static int header(const parsed *p, const char *name, char *val, size_t vsz)
{
    int count = 0;
    size_t nlen = strlen(name);
    if (val && vsz)
        val[0] = '\0';
    const char *line = p->text;
    const char *stop = p->text + p->head_len - 2;
    while (line < stop) {
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > nlen + 1 && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':' && line[nlen + 1] == ' ') {
            if (count++ == 0 && val)
                snprintf(val, vsz, "%.*s", (int)(eol - line - (long)nlen - 2),
                         line + nlen + 2);
        }
        line = eol + 2;
    }
    return count;
}

/* The value of header name, which must occur exactly once; "" otherwise. */
static const char *hv(const parsed *p, const char *name)
{
    static char val[2048];
    if (header(p, name, val, sizeof val) != 1)
        return "";
    return val;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has(const parsed *p, const char *name)
{
    return header(p, name, NULL, 0) > 0;
}

/* Renders r with status and splits the result; false (and a failed check)
 * when rendering itself fails. */
static bool render(request *r, int status, rendered *o, parsed *p, int line)
{
    int rc = response_render(r, status, o);
    bool ok = rc == 0 && split(o, p);
    check_(ok, __FILE__, line, "response_render gives a status line, headers, blank line");
    return ok;
}

static void finish(request *r, parsed *p)
{
    free(p->text);
    p->text = NULL;
    json_object_put(r->out);
    r->out = NULL;
    arena_reset(r->a);
}

static request make(arena *a, const config *cfg)
{
    request r = {0};
    r.a = a;
    r.cfg = cfg;
    r.method = "GET";
    r.path = "/media/status";
    return r;
}

static struct json_object *body_ab(void)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "output", json_object_new_string("a/b"));
    json_object_object_add(o, "name", json_object_new_string("\xE5\xA4\xA7.mp4"));
    return o;
}

static void test_reason(void)
{
    CHECK_STR(http_reason(200), "OK");
    CHECK_STR(http_reason(204), "No Content");
    CHECK_STR(http_reason(304), "Not Modified");
    CHECK_STR(http_reason(400), "Bad Request");
    CHECK_STR(http_reason(404), "Not Found");
    CHECK_STR(http_reason(405), "Method Not Allowed");
    CHECK_STR(http_reason(413), "Content Too Large");
    CHECK_STR(http_reason(422), "Unprocessable Entity");
    CHECK_STR(http_reason(500), "Internal Server Error");
    CHECK_STR(http_reason(503), "Service Unavailable");
    CHECK(http_reason(299) != NULL && *http_reason(299));
}

static void test_etag_matches(void)
{
    const char *e = "\"0123abcd\"";
    CHECK(etag_matches("\"0123abcd\"", e));
    CHECK(etag_matches("W/\"0123abcd\"", e));
    CHECK(etag_matches("\"a\", \"0123abcd\"", e));
    CHECK(etag_matches("\"a\",W/\"0123abcd\" , \"b\"", e));
    CHECK(etag_matches("*", e));
    CHECK(etag_matches("\"a\", \"b\"", "\"b\""));
    CHECK(etag_matches("\"a\", \"b\"", "\"a\""));
    CHECK(!etag_matches("\"a\", \"b\"", "\"c\""));
    CHECK(!etag_matches("\"0123abce\"", e));
    CHECK(!etag_matches("\"0123abcd", e));
    CHECK(!etag_matches("\"0123abc\"", e));
    CHECK(!etag_matches("\"0123abcdX\"", e));
    CHECK(!etag_matches("0123abcd", e));
    CHECK(!etag_matches("w/\"0123abcd\"", e));
    CHECK(!etag_matches("", e));
    CHECK(!etag_matches(NULL, e));
    CHECK(!etag_matches(",,, ", e));
    CHECK(!etag_matches("W/", e));
}

static void test_plain(arena *a, const config *cfg)
{
    request r = make(a, cfg);
    rendered o;
    parsed p;

    r.out = body_ab();
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 200 OK\r\n"));
        CHECK_INT(o.status, 200);
        CHECK_STR(hv(&p, "Content-Type"), "application/json; charset=utf-8");
        CHECK_INT(strtol(hv(&p, "Content-Length"), NULL, 10), p.body_len);
        CHECK_INT(o.body_len, p.body_len);
        CHECK_STR(hv(&p, "Vary"), "Origin");
        CHECK_STR(hv(&p, "Cache-Control"), "no-store");
        CHECK_STR(hv(&p, "X-Content-Type-Options"), "nosniff");
        CHECK(!has(&p, "Access-Control-Allow-Origin"));
        CHECK(!has(&p, "Access-Control-Expose-Headers"));
        CHECK(!has(&p, "ETag"));
        CHECK(!has(&p, "Allow"));
        CHECK(!has(&p, "Retry-After"));
        CHECK_HAS(p.body, "\"a/b\"");
        CHECK_LACKS(p.body, "\\/");
        CHECK_HAS(p.body, "\xE5\xA4\xA7.mp4");
        CHECK_LACKS(p.body, "\\u");
        CHECK_LACKS(p.body, "\n");
        /* The body is the JSON the handler built, nothing more. */
        const char *err = NULL;
        struct json_object *back = parse_json(p.body, p.body_len, &err);
        CHECK(back && json_object_equal(back, r.out));
        json_object_put(back);
    }
    finish(&r, &p);

    /* A handler's Cache-Control is kept; a path on 200 needs no Allow. */
    r = make(a, cfg);
    r.out = body_ab();
    r.cache_control = "public, max-age=86400";
    r.allow = "GET, HEAD, OPTIONS";
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK_STR(hv(&p, "Cache-Control"), "public, max-age=86400");
        CHECK(!has(&p, "Allow"));
    }
    finish(&r, &p);

    /* 200 without a body. */
    r = make(a, cfg);
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK_STR(hv(&p, "Content-Length"), "0");
        CHECK(!has(&p, "Content-Type"));
        CHECK_INT(p.body_len, 0);
    }
    finish(&r, &p);
}

static void test_cors(arena *a, const config *cfg)
{
    request r = make(a, cfg);
    rendered o;
    parsed p;

    r.out = body_ab();
    r.cors_origin = ORIGIN;
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK_STR(hv(&p, "Access-Control-Allow-Origin"), ORIGIN);
        CHECK_STR(hv(&p, "Vary"), "Origin");
        CHECK_HAS(hv(&p, "Access-Control-Expose-Headers"), "ETag");
        CHECK(!has(&p, "Access-Control-Allow-Methods"));
        CHECK(!has(&p, "Access-Control-Allow-Credentials"));
    }
    finish(&r, &p);

    /* An error answer carries CORS headers too, or the browser hides it. */
    r = make(a, cfg);
    r.cors_origin = ORIGIN;
    reply_error(&r, 422, "Not found item.");
    if (render(&r, 422, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 422 Unprocessable Entity\r\n"));
        CHECK_STR(hv(&p, "Access-Control-Allow-Origin"), ORIGIN);
        CHECK_HAS(p.body, "\"Not found item.\"");
    }
    finish(&r, &p);

    /* The preflight answer. */
    r = make(a, cfg);
    r.method = "OPTIONS";
    r.cors_origin = ORIGIN;
    r.preflight = true;
    r.allow = "GET, HEAD, OPTIONS";
    r.cache_control = "no-store";
    if (render(&r, 204, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 204 No Content\r\n"));
        CHECK_STR(hv(&p, "Access-Control-Allow-Origin"), ORIGIN);
        CHECK_STR(hv(&p, "Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
        CHECK_HAS(hv(&p, "Access-Control-Allow-Headers"), "If-None-Match");
        CHECK(strtol(hv(&p, "Access-Control-Max-Age"), NULL, 10) > 0);
        CHECK_STR(hv(&p, "Allow"), "GET, HEAD, OPTIONS");
        CHECK_STR(hv(&p, "Vary"), "Origin");
        CHECK(!has(&p, "Content-Type"));
        CHECK_INT(p.body_len, 0);
        CHECK_INT(o.body_len, 0);
    }
    finish(&r, &p);
}

static void test_errors(arena *a, const config *cfg)
{
    request r = make(a, cfg);
    rendered o;
    parsed p;

    r.allow = "GET, HEAD, OPTIONS";
    reply_error(&r, 405, "Method not allowed.");
    if (render(&r, 405, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 405 Method Not Allowed\r\n"));
        CHECK_STR(hv(&p, "Allow"), "GET, HEAD, OPTIONS");
        CHECK_INT(strtol(hv(&p, "Content-Length"), NULL, 10), p.body_len);
        CHECK_STR(p.body, "{\"success\":false,\"message\":\"Method not allowed.\"}");
    }
    finish(&r, &p);

    r = make(a, cfg);
    reply_error(&r, 404, "No route matches.");
    if (render(&r, 404, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 404 Not Found\r\n"));
        CHECK(!has(&p, "Allow"));
        CHECK(!has(&p, "Retry-After"));
    }
    finish(&r, &p);

    r = make(a, cfg);
    reply_error(&r, 503, "The database is unavailable; retry later.");
    if (render(&r, 503, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 503 Service Unavailable\r\n"));
        CHECK_STR(hv(&p, "Retry-After"), "7");
        CHECK_STR(hv(&p, "Cache-Control"), "no-store");
    }
    finish(&r, &p);

    /* An error status with no body gets the standard error body. */
    r = make(a, cfg);
    if (render(&r, 500, &o, &p, __LINE__)) {
        CHECK(starts_with(p.text, "Status: 500 Internal Server Error\r\n"));
        CHECK_STR(hv(&p, "Content-Type"), "application/json; charset=utf-8");
        CHECK_STR(p.body, "{\"success\":false,\"message\":\"Internal Server Error\"}");
        CHECK(!has(&p, "Retry-After"));
        CHECK_INT(strtol(hv(&p, "Content-Length"), NULL, 10), p.body_len);
    }
    finish(&r, &p);
}

/* Renders body_ab() with an ETag and the given If-None-Match; returns the
 * status sent and copies the ETag into etag. */
static int render_etag(arena *a, const config *cfg, const char *inm, bool head,
                       char *etag, size_t esz, size_t *body_bytes, char *clen, size_t csz)
{
    request r = make(a, cfg);
    rendered o;
    parsed p;
    int st = -1;
    r.out = body_ab();
    r.etag = true;
    r.head = head;
    r.if_none_match = inm;
    r.cache_control = "public, max-age=60";
    if (render(&r, 200, &o, &p, __LINE__)) {
        st = o.status;
        CHECK(starts_with(p.text, "Status: ") && atoi(p.text + 8) == st);
        if (header(&p, "ETag", etag, esz) != 1)
            etag[0] = '\0';
        *body_bytes = p.body_len;
        if (header(&p, "Content-Length", clen, csz) != 1)
            clen[0] = '\0';
        if (st == 304)
            CHECK(!has(&p, "Content-Type"));
        CHECK_STR(hv(&p, "Cache-Control"), "public, max-age=60");
        CHECK_STR(hv(&p, "Vary"), "Origin");
    }
    finish(&r, &p);
    return st;
}

static void test_etag(arena *a, const config *cfg)
{
    char etag[128], etag2[128], clen[32];
    size_t bytes = 0;

    CHECK_INT(render_etag(a, cfg, NULL, false, etag, sizeof etag, &bytes, clen, sizeof clen),
              200);
    CHECK_INT(strlen(etag), 34);
    CHECK(etag[0] == '"' && etag[33] == '"');
    CHECK(bytes > 0);
    CHECK_INT(strtol(clen, NULL, 10), bytes);
    /* The tag depends on the body only. */
    CHECK_INT(render_etag(a, cfg, NULL, false, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              200);
    CHECK_STR(etag2, etag);

    char inm[300];
    CHECK_INT(render_etag(a, cfg, etag, false, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              304);
    CHECK_STR(etag2, etag);
    CHECK_INT(bytes, 0);
    CHECK_STR(clen, "");

    snprintf(inm, sizeof inm, "W/%s", etag);
    CHECK_INT(render_etag(a, cfg, inm, false, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              304);
    snprintf(inm, sizeof inm, "\"other\", %s", etag);
    CHECK_INT(render_etag(a, cfg, inm, false, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              304);
    CHECK_INT(render_etag(a, cfg, "*", false, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              304);
    CHECK_INT(render_etag(a, cfg, "\"other\"", false, etag2, sizeof etag2, &bytes, clen,
                          sizeof clen), 200);
    CHECK(bytes > 0);
    CHECK_STR(etag2, etag);

    /* HEAD: the GET's headers, Content-Length included, but no body bytes. */
    size_t get_bytes = 0;
    char get_clen[32];
    render_etag(a, cfg, NULL, false, etag2, sizeof etag2, &get_bytes, get_clen,
                sizeof get_clen);
    CHECK_INT(render_etag(a, cfg, NULL, true, etag2, sizeof etag2, &bytes, clen, sizeof clen),
              200);
    CHECK_INT(bytes, 0);
    CHECK_STR(clen, get_clen);
    CHECK_INT(strtol(clen, NULL, 10), get_bytes);
    CHECK_STR(etag2, etag);

    /* Without r->etag there is no tag and no 304. */
    request r = make(a, cfg);
    rendered o;
    parsed p;
    r.out = body_ab();
    r.if_none_match = "*";
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK_INT(o.status, 200);
        CHECK(!has(&p, "ETag"));
        CHECK(p.body_len > 0);
    }
    finish(&r, &p);

    /* Errors get no tag even if the handler asked for one first. */
    r = make(a, cfg);
    r.etag = true;
    r.if_none_match = "*";
    reply_error(&r, 422, "Not found item.");
    if (render(&r, 422, &o, &p, __LINE__)) {
        CHECK_INT(o.status, 422);
        CHECK(!has(&p, "ETag"));
    }
    finish(&r, &p);
}

static void test_head(arena *a, const config *cfg)
{
    request r = make(a, cfg);
    rendered o;
    parsed p;
    r.out = body_ab();
    r.head = true;
    if (render(&r, 200, &o, &p, __LINE__)) {
        CHECK_INT(p.body_len, 0);
        CHECK_INT(o.len, p.head_len);
        long cl = strtol(hv(&p, "Content-Length"), NULL, 10);
        CHECK(cl > 0);
        CHECK_INT(o.body_len, cl);
        CHECK_STR(hv(&p, "Content-Type"), "application/json; charset=utf-8");
    }
    finish(&r, &p);
}

int main(void)
{
    config cfg = {0};
    cfg.retry_after = 7;
    arena a;
    arena_init(&a, 0);
    test_reason();
    test_etag_matches();
    test_plain(&a, &cfg);
    test_cors(&a, &cfg);
    test_errors(&a, &cfg);
    test_etag(&a, &cfg);
    test_head(&a, &cfg);
    arena_free(&a);
    return CHECK_DONE("test_response");
}
