#ifndef MEDIAGATE_NOTIFY_H
#define MEDIAGATE_NOTIFY_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "request.h"

struct config;

/* One encoding backend behind POST /notifications/<name>. */
typedef struct notify_backend {
    const char *name;
    /* The configured secret; NULL or "" when the backend is switched off. */
    const char *(*secret)(const struct config *c);
    /* The credential this request presents (a header, a URL token), or NULL. */
    const char *(*presented)(const request *r);
    /* Fills ev, a normalized event for mediagate_apply_event() (sql/002),
     * from body, the parsed JSON object. Returns 0, or -1 with a message in
     * err. Writes the event id into id when the body names one; "" otherwise.
     * Called through notify_parse(). */
    int (*parse)(json_object *body, json_object *ev, char *id, size_t idcap, char *err,
                 size_t errcap);
} notify_backend;

extern const notify_backend notify_mediaconvert, notify_zencoder, notify_tencent;

/* Parses a raw body with backend b: JSON, an object, then b->parse; the
 * event carries the body as "resource". Returns a new reference, or NULL
 * with a message in err. */
json_object *notify_parse(const notify_backend *b, const char *buf, size_t len, char *id,
                          size_t idcap, char *err, size_t errcap);

/* Looks a backend up by name; NULL when unknown. */
const notify_backend *notify_find(const char *name);

/* Authenticates, stores raw and applies one notification. Returns the
 * HTTP status, with r->out set. */
int notify_handle(request *r, const notify_backend *b);

/* True when a and b are equal, compared in constant time over their
 * SHA-256 digests (so lengths leak nothing either). NULL equals nothing. */
bool secret_equal(const char *a, const char *b);

/* In a backend parser: writes a reason into err (errcap bytes) and jumps
 * to the function's fail: label. */
#define FAIL(...)                                                          \
    do {                                                                   \
        snprintf(err, errcap, __VA_ARGS__);                                \
        goto fail;                                                         \
    } while (0)

/* Helpers for backend parsers. Each returns 1 when found and valid, 0 when
 * absent (or JSON null), -1 when present with the wrong type or range. */
int jstr(json_object *o, const char *key, const char **out);
int jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out);
int jobj(json_object *o, const char *key, json_type type, json_object **out);
/* "s3://b/x/y.m3u8" -> sets dir "s3://b/x/" and base "y.m3u8" (new
 * strings in the given buffers, truncated to cap). */
void split_path(const char *path, char *dir, size_t dcap, const char **base);
/* Formats ms since the epoch as an ISO-8601 UTC time. */
void iso_time_ms(int64_t ms, char out[32]);

#endif
