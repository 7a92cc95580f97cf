#ifndef MEDIAGATE_PROVIDERS_TENCENT_VOD_H
#define MEDIAGATE_PROVIDERS_TENCENT_VOD_H
#include <stdbool.h>
#include <stddef.h>

struct config;
struct http_client;
struct json_object;

/* One call to Tencent Cloud VOD's API 3.0 (version 2018-07-17) at
 * MEDIAGATE_TENCENT_API_URL, signed TC3-HMAC-SHA256 (app/providers/tc3.c)
 * with the configured SecretId/SecretKey, through the slot's outbound
 * client (5 s connect, 20 s total, 64 KiB answer). Tencent answers its
 * errors inside Response.Error whatever the HTTP status: they are read
 * first. */

typedef enum tencent_vod_result {
    TENCENT_VOD_OK,     /* response holds Tencent's Response object */
    TENCENT_VOD_RETRY,  /* no answer, a 5xx/429 without Tencent's envelope, or a code a
                         * later attempt may not meet (InternalError*, RequestLimitExceeded*,
                         * ResourceUnavailable*, AuthFailure.SignatureExpire) */
    TENCENT_VOD_FINAL,  /* any other code, or an answer that is not Tencent's */
} tencent_vod_result;

typedef struct tencent_vod_answer {
    tencent_vod_result result;
    struct json_object *root;     /* owned: the parsed answer, or NULL */
    struct json_object *response; /* borrowed from root: Response, on OK */
    const char *code;             /* Response.Error.Code, or "" (borrowed from root) */
    double retry_after;           /* RETRY: the server's Retry-After, 0 when none */
    char message[500];            /* on RETRY/FINAL: "<Action>: <Code>: <Message>", safe for
                                   * clients */
    char *body;                   /* owned: the answer's bytes (NUL-terminated), or NULL */
    size_t body_len;
} tencent_vod_answer;

/* Calls action with body (a JSON object; SubAppId is added when
 * MEDIAGATE_TENCENT_SUBAPPID is set). Always fills a; free it with
 * tencent_vod_answer_free. */
void tencent_vod_call(struct http_client *http, const struct config *cfg, const char *action,
                      struct json_object *body, tencent_vod_answer *a);
void tencent_vod_answer_free(tencent_vod_answer *a);

/* A SessionId (Tencent's 3-day dedupe key, at most 50 characters) for
 * prefix and key: "<prefix><key>" when it fits, else the prefix and the
 * start of key's SHA-256 in hex. out holds 51 bytes. */
void tencent_vod_session_id(const char *prefix, const char *key, char out[51]);

#endif
