/* libFuzzer harness over notify_backends[], the same table the route
 * uses. The first byte picks the row. Its parser gets the rest as the
 * body, and its verifier gets it as the presented credential
 * (header, token, signature or JWT) with a fixed secret, and must refuse
 * it, since no input carries a valid signature by chance. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "fuzz_event.h"
#include "notify/notify.h"
#include "providers/webhook_sig.h"

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
    char cred[1024];
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
    fuzz_check_parse(be, (const char *)data + 1, size - 1);
    return 0;
}
