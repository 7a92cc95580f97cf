#include "response.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "router.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-None-Match"
#define CORS_EXPOSE_HEADERS "ETag, Retry-After"
#define PREFLIGHT_MAX_AGE 7200
/* tus 1.0 (handlers/tus.c): what a browser's tus client sends and reads. */
#define TUS_ALLOW_HEADERS CORS_ALLOW_HEADERS ", Tus-Resumable, Upload-Length, Upload-Metadata, " \
                                             "Upload-Offset, Upload-Checksum, X-Requested-With, " \
                                             "X-HTTP-Method-Override"
#define TUS_EXPOSE_HEADERS CORS_EXPOSE_HEADERS ", Location, Upload-Offset, Upload-Length, " \
                                               "Tus-Resumable, Upload-Expires, Upload-Metadata, " \
                                               "Tus-Version, Tus-Extension, Tus-Max-Size, " \
                                               "Tus-Checksum-Algorithm"
#define TUS_DISCOVERY "Tus-Version: 1.0.0\r\n" \
                      "Tus-Extension: creation,creation-with-upload,termination,expiration," \
                      "checksum\r\n" \
                      "Tus-Checksum-Algorithm: sha1,md5,sha256\r\n"

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 460: return "Checksum Mismatch";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

bool etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *end = p;
        if (*end == '"') {
            end = strchr(end + 1, '"');
            if (!end)
                return false;
            end++;
        } else {
            while (*end && *end != ',')
                end++;
        }
        if ((size_t)(end - p) == elen && memcmp(p, etag, elen) == 0)
            return true;
        p = end;
    }
    return false;
}

/* A strong ETag: the first 128 bits of the SHA-256 of the body, then
 * (each after a NUL) the Cache-Control value and extra, quoted hex. An
 * answer whose body stayed the same but whose ACL or cacheability changed
 * is never revalidated (304) into a cache's old copy. */
static void make_etag(const char *body, size_t len, const char *cache_control, const char *extra,
                      char out[35])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || !EVP_DigestUpdate(ctx, body, len) ||
        !EVP_DigestUpdate(ctx, "", 1) ||
        !EVP_DigestUpdate(ctx, cache_control, strlen(cache_control) + 1) ||
        !EVP_DigestUpdate(ctx, extra, strlen(extra)) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
        memset(md, 0, sizeof md);
    EVP_MD_CTX_free(ctx);
    out[0] = '"';
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[33] = '"';
    out[34] = '\0';
}

typedef struct buf {
    char *p;
    size_t len, cap;
    bool overflow;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        b->overflow = true;
    else
        b->len += (size_t)n;
}

int response_render(request *r, int status, rendered *out)
{
    const char *body = NULL;
    size_t body_len = 0;
    char etag[35] = "";
    memset(out, 0, sizeof *out);

    if (status >= 400 && !r->out)
        reply_error(r, status, http_reason(status));
    const char *type = "application/json; charset=utf-8";
    if (r->raw_body && status == 200) {
        body = r->raw_body;
        body_len = r->raw_len;
        type = r->raw_type;
    } else if (r->out && status != 204) {
        body = json_object_to_json_string_length(r->out, JSON_FLAGS, &body_len);
        if (!body)
            return -1;
    }
    if (status == 200 && r->etag && body) {
        make_etag(body, body_len, r->cache_control ? r->cache_control : "no-store",
                  r->etag_extra ? r->etag_extra : "", etag);
        if (r->if_none_match && etag_matches(r->if_none_match, etag))
            status = 304;
    }
    bool has_body = body && status != 304 && status != 204;
    bool tus = r->route && r->route->cors == CORS_TUS;
    size_t extra = tus ? 1024 : 0;
    for (int i = 0; i < r->nheaders; i++)
        extra += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;

    size_t cap = 1024 + extra + (r->cors_origin ? strlen(r->cors_origin) : 0) +
                 (r->allow ? strlen(r->allow) * 2 : 0) + (r->location ? strlen(r->location) : 0) +
                 (r->reason ? strlen(r->reason) : 0) + (r->request_id ? strlen(r->request_id) : 0);
    buf b = {arena_alloc(r->a, cap + body_len + 1), 0, cap, false};
    if (!b.p)
        return -1;
    put(&b, "Status: %d %s\r\n", status, http_reason(status));
    if (has_body)
        put(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n", type, body_len);
    else if (status != 304)
        put(&b, "Content-Length: 0\r\n");
    if (etag[0])
        put(&b, "ETag: %s\r\n", etag);
    put(&b, "Cache-Control: %s\r\n", r->cache_control ? r->cache_control : "no-store");
    put(&b, "Vary: Origin\r\nX-Content-Type-Options: nosniff\r\n");
    if (r->cors_origin) {
        put(&b, "Access-Control-Allow-Origin: %s\r\n", r->cors_origin);
        if (r->preflight)
            put(&b, "Access-Control-Allow-Methods: %s\r\n"
                    "Access-Control-Allow-Headers: %s\r\n"
                    "Access-Control-Max-Age: %d\r\n", r->allow,
                tus ? TUS_ALLOW_HEADERS : CORS_ALLOW_HEADERS, PREFLIGHT_MAX_AGE);
        else
            put(&b, "Access-Control-Expose-Headers: %s\r\n",
                tus ? TUS_EXPOSE_HEADERS : CORS_EXPOSE_HEADERS);
    }
    if (tus) {
        put(&b, "Tus-Resumable: 1.0.0\r\n");
        if (r->preflight || status == 412)
            put(&b, TUS_DISCOVERY "Tus-Max-Size: %ld\r\n", r->cfg ? r->cfg->upload_max_bytes : 0L);
    }
    for (int i = 0; i < r->nheaders; i++)
        if (!strpbrk(r->headers[i].name, "\r\n") && !strpbrk(r->headers[i].value, "\r\n"))
            put(&b, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    if (r->allow && (status == 405 || r->preflight))
        put(&b, "Allow: %s\r\n", r->allow);
    if (r->location && !strpbrk(r->location, "\r\n"))
        put(&b, "Location: %s\r\n", r->location);
    if (r->reason && !strpbrk(r->reason, "\r\n"))
        put(&b, "X-Mediagate-Reason: %s\r\n", r->reason);
    if (r->request_id && !strpbrk(r->request_id, "\r\n"))
        put(&b, "X-Request-Id: %s\r\n", r->request_id);
    if (status == 503)
        put(&b, "Retry-After: %ld\r\n", r->cfg ? r->cfg->retry_after : 1L);
    put(&b, "\r\n");
    if (b.overflow)
        return -1;
    out->body_len = has_body ? body_len : 0;
    if (has_body && !r->head) {
        memcpy(b.p + b.len, body, body_len);
        b.len += body_len;
    }
    out->data = b.p;
    out->len = b.len;
    out->status = status;
    return 0;
}
