#include "request.h"

#include <fcgiapp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int parse_content_length(const char *buf, size_t len, size_t cap, size_t *out)
{
    size_t v = 0;
    *out = 0;
    if (!buf || len == 0)
        return PARSE_OK;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < '0' || c > '9')
            return PARSE_MALFORMED;
    }
    for (size_t i = 0; i < len; i++) {
        size_t d = (size_t)(buf[i] - '0');
        if (d > cap || v > (cap - d) / 10)
            return PARSE_TOO_LARGE; /* checked before v could overflow */
        v = v * 10 + d;
    }
    *out = v;
    return PARSE_OK;
}

bool parse_msec(const char *buf, size_t len, long long *out)
{
    long long v = 0;
    if (!buf || len < 5 || len > 16 || buf[len - 4] != '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (i == len - 4)
            continue;
        if (buf[i] < '0' || buf[i] > '9')
            return false;
        v = v * 10 + (buf[i] - '0'); /* at most 15 digits: no overflow */
    }
    *out = v;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int url_decode(arena *a, const char *buf, size_t len, bool plus_space, char **out,
               size_t *outlen)
{
    char *d = arena_alloc(a, len + 1);
    size_t n = 0;
    if (!d)
        return PARSE_NOMEM;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '%') {
            if (len - i < 3)
                return PARSE_MALFORMED;
            int hi = hexval((unsigned char)buf[i + 1]);
            int lo = hexval((unsigned char)buf[i + 2]);
            if (hi < 0 || lo < 0)
                return PARSE_MALFORMED;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return PARSE_NUL;
        d[n++] = (char)c;
    }
    d[n] = '\0';
    *out = d;
    if (outlen)
        *outlen = n;
    return PARSE_OK;
}

/* parse_urlencoded, and with utf8 every decoded key and value must be
 * UTF-8 (PARSE_UTF8). Empty segments ("a=1&&b=2") are skipped and count
 * toward no limit. */
static int parse_fields(arena *a, const char *buf, size_t len, bool utf8, params *out)
{
    out->v = NULL;
    out->n = 0;
    if (!buf || len == 0)
        return PARSE_OK;
    size_t fields = 0;
    for (size_t i = 0; i < len; i++)
        fields += buf[i] != '&' && (i + 1 == len || buf[i + 1] == '&');
    if (fields > PARAMS_MAX)
        return PARSE_TOO_MANY;
    if (fields == 0)
        return PARSE_OK;
    out->v = arena_alloc(a, fields * sizeof *out->v);
    if (!out->v)
        return PARSE_NOMEM;
    size_t start = 0;
    while (start <= len) {
        const char *seg = buf + start;
        const char *amp = memchr(seg, '&', len - start);
        size_t slen = amp ? (size_t)(amp - seg) : len - start;
        if (slen > 0) {
            const char *eq = memchr(seg, '=', slen);
            size_t klen = eq ? (size_t)(eq - seg) : slen;
            char *k, *v;
            size_t kdec = 0, vlen = 0;
            int rc = url_decode(a, seg, klen, true, &k, &kdec);
            if (rc != PARSE_OK)
                return rc;
            if (eq)
                rc = url_decode(a, eq + 1, slen - klen - 1, true, &v, &vlen);
            else
                rc = url_decode(a, "", 0, true, &v, &vlen);
            if (rc != PARSE_OK)
                return rc;
            if (utf8 && (utf8_length(k, kdec) < 0 || utf8_length(v, vlen) < 0))
                return PARSE_UTF8;
            out->v[out->n++] = (param){k, v, vlen};
        }
        start += slen + 1;
    }
    return PARSE_OK;
}

int parse_urlencoded(arena *a, const char *buf, size_t len, params *out)
{
    return parse_fields(a, buf, len, false, out);
}

int parse_query(arena *a, const char *buf, size_t len, params *out)
{
    return parse_fields(a, buf, len, true, out);
}

const param *params_get(const params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].key, key) == 0)
            return &p->v[i];
    return NULL;
}

struct json_object *parse_json(const char *buf, size_t len, const char **err)
{
    struct json_object *obj = NULL;
    json_tokener *tok = json_tokener_new();
    *err = NULL;
    if (!tok) {
        *err = "out of memory";
        goto out;
    }
    if (len > (size_t)INT32_MAX) {
        *err = "body too large";
        goto out;
    }
    /* json-c's own check lets overlong forms, surrogates and code points
     * past U+10FFFF through (PostgreSQL refuses them later). */
    if (utf8_length(buf, len) < 0) {
        *err = "JSON body is not valid UTF-8";
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = obj ? json_tokener_get_parse_end(tok) : len;
    if (!obj && jerr == json_tokener_continue) {
        /* A number at the very end ("1") may go on in a next chunk for
         * json-c: a space ends it, and nothing else that is cut short. */
        obj = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
    }
    if (!obj && jerr == json_tokener_continue) {
        *err = "JSON body ends too early";
        goto out;
    }
    if (!obj && jerr == json_tokener_success) {
        /* A literal null parses to NULL with success. */
        *err = "JSON body is null";
        goto out;
    }
    if (!obj) {
        *err = json_tokener_error_desc(jerr);
        goto out;
    }
    while (used < len && buf[used] && strchr(" \t\r\n", buf[used]))
        used++;
    if (used != len) {
        json_object_put(obj);
        obj = NULL;
        *err = "trailing data after the JSON value";
    }
out:
    if (tok)
        json_tokener_free(tok);
    return obj;
}

void request_header(request *r, const char *name, const char *value)
{
    if (r->nheaders < REQUEST_HEADERS_MAX && value) {
        r->headers[r->nheaders].name = name;
        r->headers[r->nheaders].value = value;
        r->nheaders++;
    }
}

int reply_error(request *r, int status, const char *msg)
{
    struct json_object *o = json_object_new_object();
    if (o) {
        json_object_object_add(o, "success", json_object_new_boolean(0));
        json_object_object_add(o, "message", json_object_new_string(msg));
    }
    json_object_put(r->out);
    r->out = o;
    r->etag = false;
    r->etag_extra = NULL;
    r->cache_control = "no-store";
    return status;
}

int require_param(request *r, const char *name, const char **out)
{
    char msg[96];
    *out = NULL;
    if (!r->query)
        return reply_error(r, 400, "Not found parameter.");
    const param *p = params_get(&r->qp, name);
    if (!p) {
        snprintf(msg, sizeof msg, "Not found parameter %s.", name);
        return reply_error(r, 400, msg);
    }
    if (p->vlen == 0) {
        snprintf(msg, sizeof msg, "Not exist parameter %s.", name);
        return reply_error(r, 422, msg);
    }
    *out = p->val;
    return 0;
}

int reply_db_error(request *r, int status)
{
    switch (status) {
    case 503:
        return reply_error(r, 503, "The database is unavailable; retry later.");
    case 409:
        return reply_error(r, 409, "Conflict with existing data.");
    case 400:
        return reply_error(r, 400, "The database rejected a value.");
    default:
        return reply_error(r, 500, "Internal error.");
    }
}

const char *request_param(const request *r, const char *name)
{
    size_t n = strlen(name);
    for (char **e = r->env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

long request_read(request *r, char *buf, size_t n)
{
    if (!r->in)
        return -1;
    int got = FCGX_GetStr(buf, n > INT_MAX ? INT_MAX : (int)n, (FCGX_Stream *)r->in);
    return got < 0 ? -1 : got;
}

long utf8_length(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    long n = 0;
    while (p < end) {
        unsigned c = *p;
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                 : (c & 0xf8) == 0xf0 ? 3 : 4;
        if (k == 4 || (size_t)(end - p) < k + 1)
            return -1;
        unsigned cp = k == 0 ? c : c & (0x3f >> k);
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        p += k + 1;
        n++;
    }
    return n;
}
