/* Mux Video's API (app/providers/mux_api.h). */
#include "providers/mux_api.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "request.h"

http_outcome mux_api_call(http_client *hc, const config *cfg, const char *method,
                          const char *path, const char *body, long limit_ms, bool once,
                          http_response *resp)
{
    char userpass[512], b64[700], h_auth[740], url[1024];
    size_t base = strlen(cfg->mux_api_url);
    while (base && cfg->mux_api_url[base - 1] == '/')
        base--;
    int n = snprintf(userpass, sizeof userpass, "%s:%s", cfg->mux_token_id, cfg->mux_token_secret);
    int m = snprintf(url, sizeof url, "%.*s%s", (int)base, cfg->mux_api_url, path);
    resp->body = malloc(MUX_ANSWER_MAX + 1);
    resp->body_cap = MUX_ANSWER_MAX + 1;
    if (!resp->body || n <= 0 || (size_t)n >= sizeof userpass || m <= 0 ||
        (size_t)m >= sizeof url || !hc || !hc->curl) {
        snprintf(resp->err, sizeof resp->err, "cannot make the request");
        return HTTP_BAD_REQUEST;
    }
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)userpass, n);
    snprintf(h_auth, sizeof h_auth, "Authorization: Basic %s", b64);
    const char *hdrs[] = {h_auth, "Accept: application/json", "Content-Type: application/json"};
    http_request req = {.method = method,
                        .url = url,
                        .headers = hdrs,
                        .nheaders = body ? 3 : 2,
                        .body = body,
                        .body_len = body ? strlen(body) : 0,
                        .connect_timeout_ms = limit_ms < 5000 ? limit_ms : 5000,
                        .timeout_ms = limit_ms};
    http_outcome oc = once ? http_client_do_once(hc, &req, resp) : http_client_do(hc, &req, resp);
    OPENSSL_cleanse(userpass, sizeof userpass);
    OPENSSL_cleanse(b64, sizeof b64);
    OPENSSL_cleanse(h_auth, sizeof h_auth);
    return oc;
}

void mux_api_error_text(const http_response *resp, char *out, size_t cap)
{
    const char *perr, *type = "error";
    json_object *root = parse_json(resp->body, resp->body_len, &perr), *e, *msgs;
    size_t n = (size_t)snprintf(out, cap, "HTTP %ld", resp->status);
    if (jobj(root, "error", json_type_object, &e) == 1) {
        type = jstr_or(e, "type", type);
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, " %.80s", type);
        if (jobj(e, "messages", json_type_array, &msgs) == 1)
            for (size_t i = 0; i < json_object_array_length(msgs) && n < cap; i++) {
                json_object *x = json_object_array_get_idx(msgs, i);
                if (json_object_is_type(x, json_type_string))
                    n += (size_t)snprintf(out + n, cap - n, "%s%.300s", i ? "; " : ": ",
                                          json_object_get_string(x));
            }
    }
    json_object_put(root);
}
