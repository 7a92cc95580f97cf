#ifndef MEDIAGATE_NOTIFY_H
#define MEDIAGATE_NOTIFY_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "json.h"
#include "request.h"

struct config;
struct notify_backend;

/* How a sender proves who it is. One row per scheme (app/notify/verify.c);
 * a backend names one, and the common path runs it before anything else. */
typedef struct notify_verifier {
    const char *kind; /* e.g. "header secret", for logs and docs */
    /* 0 when r carries b's credential for secret; otherwise 401 with a
     * reason (never the secret) in why. secret is NULL for schemes that
     * need none. */
    int (*check)(const request *r, const struct notify_backend *b, const char *secret,
                 char *why, size_t whycap);
} notify_verifier;

extern const notify_verifier verify_header_secret, /* a header equal to the secret */
    verify_url_token,    /* a query parameter equal to the secret */
    verify_stdwebhooks,  /* Standard Webhooks: webhook-id/-timestamp/-signature */
    verify_hmac_tv1,     /* "t=<unix>,v1=<hex HMAC>" in a header (Mux, Stripe) */
    verify_jwt_hs256,    /* a header holding an HS256 JWT whose claims equal the body */
    verify_sns;          /* Amazon SNS RSA signatures; the "secret" is the accepted topics */

/* Fills ev, a normalized event for mediagate_apply_event() (sql/002), from
 * body, the parsed JSON object. Returns 0, or -1 with a message in err.
 * Besides the job's fields, mediagate_notify() (sql/015) reads: job_backend
 * (the job is that backend's, not the sender's), dedupe_key (a second key,
 * besides the event id, that a redelivery is known by), no_job (stored, no
 * job to apply to) with queue_kind and queue_payload (a task queued with
 * it), and resource (when set, kept instead of the body).
 * Writes the event id into id when the body names one; "" otherwise.
 * Called through notify_parse(). */
typedef int (*notify_parse_fn)(json_object *body, json_object *ev, char *id, size_t idcap,
                               char *err, size_t errcap);

/* One sender behind POST /notifications/<name>: a row of notify_backends[]
 * (app/notify/notify.c). Storing raw, dedupe, ordering and replay are
 * written once, in the route (handlers/notifications.c) and the CLI's
 * replay, for every row with a parser. */
typedef struct notify_backend {
    const char *name;
    const notify_verifier *verify;
    /* Where the credential is: a FastCGI param ("HTTP_X_..."), or a query
     * parameter for verify_url_token. where_at, when not 0, is instead the
     * offset in struct config of a char[] holding that param's name (a
     * setting). */
    const char *where;
    size_t where_at;
    /* Offset in struct config of the secret (char *; NULL or "" switches
     * the backend off). */
    size_t secret_at;
    notify_parse_fn parse;
} notify_backend;

extern const notify_backend notify_backends[];
extern const size_t notify_nbackends;

/* The backends' own parsers (app/notify/<name>.c). */
int mediaconvert_parse(json_object *, json_object *, char *, size_t, char *, size_t);
int zencoder_parse(json_object *, json_object *, char *, size_t, char *, size_t);
int tencent_parse(json_object *, json_object *, char *, size_t, char *, size_t);
int jwplatform_parse(json_object *, json_object *, char *, size_t, char *, size_t);
int sns_parse(json_object *, json_object *, char *, size_t, char *, size_t);
int mux_parse(json_object *, json_object *, char *, size_t, char *, size_t);
/* Adds output_path and playlists to ev from a Mux asset's first public
 * playback id or, with signed_too and none public, its first signed one
 * (app/notify/mux.c). */
void mux_add_playback(json_object *asset, json_object *ev, bool signed_too);
/* verify_sns's check (app/notify/sns.c); topics: MEDIAGATE_SNS_TOPIC_ARNS. */
int sns_check(const request *r, const notify_backend *b, const char *topics, char *why,
              size_t whycap);

/* 0 when r comes from this host (REMOTE_ADDR loopback, or nginx over a
 * unix socket); otherwise 403 with a reason naming sender in why. For
 * callbacks nginx itself sends, which carry no secret (nginx-rtmp's). */
int notify_loopback(const request *r, const char *sender, char *why, size_t whycap);

/* The result /metrics counts (metrics_notification) for a notification
 * that ended with status and, for a 200, the database's result (NULL:
 * "applied"). Returns a static string. */
const char *notify_outcome(int status, const char *result);

/* The secret of b in c: NULL when b needs none or it is not set. */
const char *notify_secret(const notify_backend *b, const struct config *c);

/* The credential b's request presents at b's place: a header or a query
 * parameter's value, or NULL. */
const char *notify_presented(const request *r, const notify_backend *b);

/* Parses a raw body with backend b: JSON, an object, then b->parse; the
 * event carries the body as "resource" unless the parser set one (SNS
 * keeps the inner event). Returns a new reference, or NULL with a message
 * in err. */
json_object *notify_parse(const notify_backend *b, const char *buf, size_t len, char *id,
                          size_t idcap, char *err, size_t errcap);

/* Looks a backend up by name; NULL when unknown. */
const notify_backend *notify_find(const char *name);

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

/* Helpers for backend parsers (besides json.h's typed reads). */
/* "s3://b/x/y.m3u8" -> sets dir "s3://b/x/" and base "y.m3u8" (new
 * strings in the given buffers, truncated to cap). */
void split_path(const char *path, char *dir, size_t dcap, const char **base);
/* Formats ms since the epoch as an ISO-8601 UTC time. */
void iso_time_ms(int64_t ms, char out[32]);

#endif
