#ifndef MEDIAGATE_CORS_H
#define MEDIAGATE_CORS_H
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct request;

/* The allowed-origin patterns: POSIX extended regexes, each anchored so that
 * it must match the whole Origin. */
typedef struct cors_list {
    regex_t *re;
    size_t n;
} cors_list;

/* NULL when tok is a POSIX extended regex glibc compiles in bounded memory
 * (no stacked repeats, intervals up to 16, at most 256 characters), else
 * the reason. Also used for MEDIAGATE_SNS_CERT_HOST. */
const char *cors_pattern_problem(const char *tok);

/* Compiles the space-separated patterns into l. Returns 0, or -1 with a
 * message naming the bad pattern in err. l owns its regexes: cors_free(). */
int cors_compile(cors_list *l, const char *patterns, char *err, size_t errlen);
void cors_free(cors_list *l);

/* True when origin (len bytes, need not be NUL-terminated) is a plausible
 * Origin value and one pattern matches all of it. */
bool cors_allowed(const cors_list *l, const char *origin, size_t len);

/* True when origin is the site's own: <scheme>://<host> as nginx received
 * the request (REQUEST_SCHEME, Host), where the host's name is the site's
 * configured server_name (SERVER_NAME). A page of the site itself sends
 * Origin on a same-origin PUT or POST; that is not a CORS request. The
 * server_name check keeps a DNS-rebinding page (its own name in both Origin
 * and Host, landing on a catch-all server) out. Any argument NULL: false. */
bool cors_same_origin(const char *origin, const char *scheme, const char *host,
                      const char *server_name);

/* cors_same_origin for r's own scheme, Host and server name
 * (REQUEST_SCHEME, HTTP_HOST, SERVER_NAME). */
bool cors_request_same_origin(const struct request *r, const char *origin);

/* The CORS decision for an Origin sent with r: true when there is none
 * (NULL), it is the site's own (cors_request_same_origin), or allowed (the
 * compiled MEDIAGATE_ALLOWED_ORIGINS) admits it, which sets r->cors_origin
 * to echo it. False: refuse the request. */
bool cors_origin_ok(struct request *r, const cors_list *allowed, const char *origin);

#endif
