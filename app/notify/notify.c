/* The senders behind POST /notifications/<backend>: their table, the
 * lookups the route (handlers/notifications.c) and the CLI's replay share,
 * and notify_parse(), which turns a raw body into the normalized event. */
#include "notify.h"

#include <stddef.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hash.h"

#define SETTING(f) offsetof(config, f)

/* Every sender: adding one is a row here and a parser in its own file. */
const notify_backend notify_backends[] = {
    /* An EventBridge API destination's API-key header, named by
     * MEDIAGATE_MEDIACONVERT_HEADER. */
    {.name = "mediaconvert", .verify = &verify_header_secret,
     .where_at = SETTING(mediaconvert_param), .secret_at = SETTING(mediaconvert_secret),
     .parse = mediaconvert_parse},
    {.name = "zencoder", .verify = &verify_header_secret,
     .where = "HTTP_X_ZENCODER_NOTIFICATION_SECRET", .secret_at = SETTING(zencoder_secret),
     .parse = zencoder_parse},
    /* Tencent signs nothing: the console's callback URL carries ?token=. */
    {.name = "tencent", .verify = &verify_url_token, .where = "token",
     .secret_at = SETTING(tencent_token), .parse = tencent_parse},
    /* MediaConvert events through an SNS topic's HTTPS subscription. */
    {.name = "sns", .verify = &verify_sns, .secret_at = SETTING(sns_topic_arns),
     .parse = sns_parse},
    {.name = "mux", .verify = &verify_hmac_tv1, .where = "HTTP_MUX_SIGNATURE",
     .secret_at = SETTING(mux_secret), .parse = mux_parse},
    /* JW Platform: a JWT in Authorization (optionally "Bearer "), HS256
     * with the webhook secret, claims equal to the body. */
    {.name = "jwplatform", .verify = &verify_jwt_hs256, .where = "HTTP_AUTHORIZATION",
     .secret_at = SETTING(jwplatform_webhook_secret), .parse = jwplatform_parse},
};
const size_t notify_nbackends = sizeof notify_backends / sizeof notify_backends[0];

const notify_backend *notify_find(const char *name)
{
    for (size_t i = 0; name && i < notify_nbackends; i++)
        if (strcmp(notify_backends[i].name, name) == 0)
            return &notify_backends[i];
    return NULL;
}

const char *notify_outcome(int status, const char *result)
{
    switch (status) {
    case 200:
        if (result && strcmp(result, "duplicate") == 0)
            return "duplicate";
        return result && strcmp(result, "stored") == 0 ? "stored" : "applied";
    case 400: return "failed";
    case 401: case 403: return "refused";
    case 404: return "unknown_job";
    case 503: return "unavailable";
    default: return "error";
    }
}

const char *notify_secret(const notify_backend *b, const config *c)
{
    if (!c)
        return NULL;
    const char *s = *(char *const *)((const char *)c + b->secret_at);
    return s && *s ? s : NULL;
}

const char *notify_presented(const request *r, const notify_backend *b)
{
    const char *where = b->where_at && r->cfg ? (const char *)r->cfg + b->where_at : b->where;
    if (!where)
        return NULL;
    if (b->verify == &verify_url_token) {
        const param *p = params_get(&r->qp, where);
        return p ? p->val : NULL;
    }
    return request_param(r, where);
}

bool secret_equal(const char *a, const char *b)
{
    unsigned char da[32], db_[32];
    if (!a || !b || !*b)
        return false;
    sha256_raw(a, strlen(a), da);
    sha256_raw(b, strlen(b), db_);
    return CRYPTO_memcmp(da, db_, 32) == 0;
}

void split_path(const char *path, char *dir, size_t dcap, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    snprintf(dir, dcap, "%.*s", (int)n, path);
    *base = slash ? slash + 1 : path;
}

void iso_time_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

json_object *notify_parse(const notify_backend *b, const char *buf, size_t len, char *id,
                          size_t idcap, char *err, size_t errcap)
{
    const char *perr;
    json_object *root = parse_json(buf, len, &perr), *ev = NULL;
    if (!root)
        FAIL("body is not JSON: %s", perr);
    if (!json_object_is_type(root, json_type_object))
        FAIL("body is not a JSON object");
    ev = json_object_new_object();
    if (b->parse(root, ev, id, idcap, err, errcap) != 0)
        goto fail;
    if (json_object_object_get_ex(ev, "resource", NULL))
        json_object_put(root); /* the parser kept what the job stores */
    else
        json_object_object_add(ev, "resource", root);
    return ev;
fail:
    json_object_put(ev);
    json_object_put(root);
    return NULL;
}
