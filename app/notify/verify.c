/* The verifier rows: how each kind of sender proves who it is. The
 * signature arithmetic lives in app/providers/webhook_sig.c; these read
 * the request and turn its answer into a refusal a sender can act on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "notify/notify.h"
#include "providers/webhook_sig.h"

/* Copies a sig_result's text into why, capitalised (it ends a sentence). */
static int refuse(sig_result s, char *why, size_t whycap)
{
    snprintf(why, whycap, "Notification refused: %s", sig_result_text(s));
    return 401;
}

static int shared_secret(const request *r, const notify_backend *b, const char *secret,
                         char *why, size_t whycap)
{
    if (secret_equal(notify_presented(r, b), secret))
        return 0;
    snprintf(why, whycap, "Bad or missing notification secret");
    return 401;
}

static int stdwebhooks(const request *r, const notify_backend *b, const char *secret, char *why,
                       size_t whycap)
{
    sig_result s = stdwh_verify(secret, request_param(r, "HTTP_WEBHOOK_ID"),
                                request_param(r, "HTTP_WEBHOOK_TIMESTAMP"),
                                request_param(r, "HTTP_WEBHOOK_SIGNATURE"),
                                r->body ? r->body : "", r->body_len, time(NULL));
    return s == SIG_OK ? 0 : refuse(s, why, whycap);
}

static int hmac_tv1(const request *r, const notify_backend *b, const char *secret, char *why,
                    size_t whycap)
{
    sig_result s = tv1_verify(secret, notify_presented(r, b), r->body ? r->body : "",
                              r->body_len, time(NULL));
    return s == SIG_OK ? 0 : refuse(s, why, whycap);
}

/* The claims must be the body itself (JW Platform signs its webhook body
 * that way), compared as JSON values. */
static int jwt_hs256(const request *r, const notify_backend *b, const char *secret, char *why,
                     size_t whycap)
{
    char claims[16384];
    const char *perr;
    time_t now = time(NULL);
    sig_result s = jwt_hs256_verify(secret, notify_presented(r, b), now, claims, sizeof claims);
    json_object *c = s == SIG_OK || s == SIG_EXPIRED ? parse_json(claims, strlen(claims), &perr) : NULL,
                *exp;
    if (s == SIG_EXPIRED && json_object_object_get_ex(c, "exp", &exp)) {
        /* Signed right, but late: say when, so nobody hunts a secret. */
        double t = json_object_get_double(exp);
        time_t whole = t > 0 ? (time_t)t : 0;
        struct tm tm;
        char at[32] = "?";
        if (gmtime_r(&whole, &tm))
            strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S UTC", &tm);
        snprintf(why, whycap, "Notification refused: the token expired at %s (its exp claim), %.0f s ago",
                 at, (double)now - t);
        json_object_put(c);
        return 401;
    }
    if (s != SIG_OK) {
        json_object_put(c);
        return refuse(s, why, whycap);
    }
    json_object *body = parse_json(r->body ? r->body : "", r->body_len, &perr);
    int ret = c && body && json_object_equal(c, body) ? 0 : 401;
    if (ret)
        snprintf(why, whycap, "Notification refused: the token's claims are not this body");
    json_object_put(c);
    json_object_put(body);
    return ret;
}

/* nginx admits such a location from this host only; refuse here too, in
 * case a site's snippet lost its allow/deny lines. */
int notify_loopback(const request *r, const char *sender, char *why, size_t whycap)
{
    const char *a = request_param(r, "REMOTE_ADDR");
    if (a && (strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 ||
              strncmp(a, "::ffff:127.", 11) == 0 || strcmp(a, "unix:") == 0))
        return 0;
    snprintf(why, whycap, "Only nginx on this host may send %s callbacks", sender);
    return 403;
}

const notify_verifier verify_header_secret = {"header secret", shared_secret},
                      verify_url_token = {"URL token", shared_secret},
                      verify_stdwebhooks = {"Standard Webhooks HMAC", stdwebhooks},
                      verify_hmac_tv1 = {"t=,v1= HMAC", hmac_tv1},
                      verify_jwt_hs256 = {"HS256 JWT", jwt_hs256},
                      verify_sns = {"SNS RSA signature", sns_check};
