#ifndef MEDIAGATE_PROVIDERS_MUX_API_H
#define MEDIAGATE_PROVIDERS_MUX_API_H
#include <stdbool.h>
#include <stddef.h>

#include "http_client.h"

struct config;

/* Mux Video's API (v1) at MEDIAGATE_MUX_API_URL, HTTP Basic with
 * MEDIAGATE_MUX_TOKEN_ID and _SECRET: the mux encoder's calls
 * (app/encoders/mux.c) and the mux upload target's (app/uploads/mux.c). */

/* The largest answer read (a page of 100 assets fits). */
#define MUX_ANSWER_MAX (1 << 20)

/* One call through hc: method, path under the API URL, and a JSON body or
 * NULL, lasting at most limit_ms. once: a call Mux must not get twice (a
 * create: Mux has no idempotency key), never resent by libcurl. Fills resp
 * (its body in a buffer the caller frees with resp->body). */
http_outcome mux_api_call(http_client *hc, const struct config *cfg, const char *method,
                          const char *path, const char *body, long limit_ms, bool once,
                          http_response *resp);

/* "HTTP <status> <error.type>: <error.messages joined>" of a Mux error
 * answer into out. */
void mux_api_error_text(const http_response *resp, char *out, size_t cap);

#endif
