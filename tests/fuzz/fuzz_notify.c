/* libFuzzer harness over notify_backends[], the same table the route
 * uses. The first byte picks the row. A row with a parser gets the rest as
 * its body; every row's verifier gets it as the presented credential
 * (header, token, signature or JWT) with a fixed secret, and must refuse
 * it, since no input carries a valid signature by chance. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "metrics.h"
#include "notify/notify.h"
#include "providers/webhook_sig.h"

/* The harness compiles the senders without the metrics (they pull in the
 * router and every handler): the counters they bump are no-ops here. */
void metrics_notification(const char *backend, const char *result)
{
    (void)backend;
    (void)result;
}

void metrics_db_reconnect(void)
{
}

void metrics_replica_trip(void)
{
}

/* A request whose every credential place holds cred. */
static void verify_refuses(const notify_backend *b, const char *cred, const uint8_t *body,
                           size_t len)
{
    static config cfg;
    char why[256] = "", e[6][2048];
    const char *where = b->where ? b->where : "HTTP_X_API_KEY";
    snprintf(cfg.mediaconvert_param, sizeof cfg.mediaconvert_param, "HTTP_X_API_KEY");
    snprintf(e[0], sizeof e[0], "%s=%s", where, cred);
    snprintf(e[1], sizeof e[1], "HTTP_WEBHOOK_ID=%s", cred);
    snprintf(e[2], sizeof e[2], "HTTP_WEBHOOK_TIMESTAMP=%s", cred);
    snprintf(e[3], sizeof e[3], "HTTP_WEBHOOK_SIGNATURE=%s", cred);
    snprintf(e[4], sizeof e[4], "REMOTE_ADDR=%s", "203.0.113.7");
    char *env[] = {e[0], e[1], e[2], e[3], e[4], NULL};
    param qp = {where, cred, strlen(cred)};
    request r = {0};
    r.cfg = &cfg;
    r.env = env;
    r.qp.v = &qp;
    r.qp.n = 1;
    r.body = (const char *)body;
    r.body_len = len;
    int st = b->verify->check(&r, b, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", why, sizeof why);
    FUZZ_ASSERT(st == 401 || st == 403);
    FUZZ_ASSERT(why[0]); /* every refusal says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[256], err[256], cred[1024];
    if (size < 1)
        return 0;
    const notify_backend *be = &notify_backends[data[0] % notify_nbackends];
    size_t cl = size - 1 < sizeof cred - 1 ? size - 1 : sizeof cred - 1;
    memcpy(cred, data + 1, cl);
    cred[cl] = '\0';
    verify_refuses(be, cred, data + 1, size - 1);
    /* The signature schemes the next senders use, on the same input. */
    char payload[512];
    FUZZ_ASSERT(tv1_verify("SuperSecret123", cred, "{}", 2, 1565125718) != SIG_OK);
    FUZZ_ASSERT(jwt_hs256_verify("some-test-secret", cred, 123456, payload, sizeof payload) !=
                SIG_OK);
    FUZZ_ASSERT(stdwh_verify(cred, "msg_1", "1614265330", cred, "{}", 2, 1614265330) != SIG_OK);
    if (!be->parse)
        return 0;
    memset(id, 'x', sizeof id);
    id[0] = '\0';
    err[0] = '\0';
    json_object *ev = notify_parse(be, (const char *)data + 1, size - 1, id, sizeof id, err,
                                   sizeof err);
    FUZZ_ASSERT(memchr(id, '\0', sizeof id));
    if (!ev) {
        FUZZ_ASSERT(err[0]); /* every refusal says why */
        return 0;
    }
    /* A normalized event is an object naming its job (or saying it has
     * none: no_job), or a refresh of a mirror resource (jwplatform) with a
     * usable key, and a known status. */
    FUZZ_ASSERT(json_object_is_type(ev, json_type_object));
    json_object *v;
    if (json_object_object_get_ex(ev, "refresh", &v)) {
        json_object *t, *k;
        FUZZ_ASSERT(json_object_object_get_ex(v, "type", &t) && json_object_object_get_ex(v, "key", &k));
        FUZZ_ASSERT(!strcmp(json_object_get_string(t), "video") ||
                    !strcmp(json_object_get_string(t), "channel"));
        FUZZ_ASSERT(json_object_get_string_len(k) >= 1 && json_object_get_string_len(k) <= 64);
        json_object_put(ev);
        return 0;
    }
    bool no_job = json_object_object_get_ex(ev, "no_job", &v) && json_object_get_boolean(v);
    FUZZ_ASSERT(no_job || (json_object_object_get_ex(ev, "backend_job_id", &v) &&
                           json_object_is_type(v, json_type_string)));
    if (json_object_object_get_ex(ev, "status", &v)) {
        const char *s = json_object_get_string(v);
        FUZZ_ASSERT(!strcmp(s, "SUBMITTED") || !strcmp(s, "PROGRESSING") || !strcmp(s, "COMPLETE") ||
                    !strcmp(s, "ERROR") || !strcmp(s, "CANCELED"));
    }
    if (json_object_object_get_ex(ev, "progress_rate", &v))
        FUZZ_ASSERT(json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 100);
    FUZZ_ASSERT(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) != NULL);
    json_object_put(ev);
    return 0;
}
