/* app/providers/webhook_sig.c on the providers' published vectors:
 * Standard Webhooks' "sign function works" vector, the Mux SDK's vectors
 * and the JWT HS256 token of the JW Platform fixture, plus the refusals
 * the reference libraries test. Fixtures: tests/fixtures/providers/. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "providers/webhook_sig.h"



static void test_standard_webhooks(void)
{
    json_object *v = fixture("standard-webhooks-test-vector.json");
    if (!v)
        return;
    const char *secret = str(v, "secret"), *id = str(v, "msg_id"), *body = str(v, "payload");
    const char *want = str(v, "expected_signature");
    long long ts = atoll(str(v, "timestamp"));
    unsigned char key[64];
    char sig[64], tsbuf[24];
    size_t len = strlen(body);
    snprintf(tsbuf, sizeof tsbuf, "%lld", ts);

    int klen = stdwh_key(secret, key, sizeof key);
    CHECK_INT(klen, 24);
    CHECK_INT(stdwh_key(secret + 6, key, sizeof key), 24); /* without the prefix */
    CHECK_INT(stdwh_sign(key, (size_t)klen, id, ts, body, len, sig, sizeof sig), 0);
    CHECK_STR(sig, want);
    CHECK_INT(stdwh_sign(key, (size_t)klen, id, ts, body, len, sig, 10), -1);

    CHECK_INT(stdwh_verify(secret, id, tsbuf, want, body, len, ts), SIG_OK);
    CHECK_INT(stdwh_verify(secret + 6, id, tsbuf, want, body, len, ts + 299), SIG_OK);
    /* several entries, one valid */
    char many[256];
    snprintf(many, sizeof many, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc %s", want);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, many, body, len, ts), SIG_OK);
    /* last base64 character changed */
    char bad[64];
    snprintf(bad, sizeof bad, "%s", want);
    bad[strlen(bad) - 2] = 'A';
    CHECK_INT(stdwh_verify(secret, id, tsbuf, bad, body, len, ts), SIG_MISMATCH);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, want, "{\"test\": 2432232315}", len, ts),
              SIG_MISMATCH);
    CHECK_INT(stdwh_verify(secret, "msg_other", tsbuf, want, body, len, ts), SIG_MISMATCH);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, "v2,abc", body, len, ts), SIG_MALFORMED);
    CHECK_INT(stdwh_verify(secret, NULL, tsbuf, want, body, len, ts), SIG_MISSING);
    CHECK_INT(stdwh_verify(secret, id, "", want, body, len, ts), SIG_MISSING);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, NULL, body, len, ts), SIG_MISSING);
    CHECK_INT(stdwh_verify(secret, id, "hello", want, body, len, ts), SIG_MALFORMED);
    CHECK_INT(stdwh_verify(secret, id, "-1614265330", want, body, len, ts), SIG_MALFORMED);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, want, body, len, ts + 301), SIG_STALE);
    CHECK_INT(stdwh_verify(secret, id, tsbuf, want, body, len, ts - 301), SIG_STALE);
    CHECK_INT(stdwh_verify("whsec_", id, tsbuf, want, body, len, ts), SIG_BAD_SECRET);
    CHECK_INT(stdwh_verify("", id, tsbuf, want, body, len, ts), SIG_BAD_SECRET);
    CHECK_INT(stdwh_verify("whsec_not*base64", id, tsbuf, want, body, len, ts), SIG_BAD_SECRET);
    json_object_put(v);
}

static void test_mux(void)
{
    json_object *v = fixture("mux-signature-test-vector.json"), *vecs;
    if (!v || !CHECK(json_object_object_get_ex(v, "vectors", &vecs)))
        return;
    for (size_t i = 0; i < json_object_array_length(vecs); i++) {
        json_object *c = json_object_array_get_idx(vecs, i);
        const char *secret = str(c, "secret"), *body = str(c, "payload"), *hdr = str(c, "header");
        time_t t = (time_t)atoll(str(c, "timestamp"));
        size_t len = strlen(body);
        CHECK_INT(tv1_verify(secret, hdr, body, len, t), SIG_OK);
        CHECK_INT(tv1_verify(secret, hdr, body, len, t + 300), SIG_OK);
        CHECK_INT(tv1_verify(secret, hdr, body, len, t + 360), SIG_STALE);
        CHECK_INT(tv1_verify("OtherSecret", hdr, body, len, t), SIG_MISMATCH);
        CHECK_INT(tv1_verify(secret, hdr, body, len - 1, t), SIG_MISMATCH);
        char h[512];
        /* multiple v1, one valid; another scheme beside it */
        snprintf(h, sizeof h, "t=%s,v1=invalid-sig,v1=%s", str(c, "timestamp"), str(c, "v1"));
        CHECK_INT(tv1_verify(secret, h, body, len, t), SIG_OK);
        snprintf(h, sizeof h, "t=%s,v2=%s,v1=%s", str(c, "timestamp"), str(c, "v1"), str(c, "v1"));
        CHECK_INT(tv1_verify(secret, h, body, len, t), SIG_OK);
        snprintf(h, sizeof h, "t=%s,v2=%s", str(c, "timestamp"), str(c, "v1"));
        CHECK_INT(tv1_verify(secret, h, body, len, t), SIG_MALFORMED);
        CHECK_INT(tv1_verify(secret, str(c, "v1"), body, len, t), SIG_MALFORMED);
        snprintf(h, sizeof h, "t=abc,v1=%s", str(c, "v1"));
        CHECK_INT(tv1_verify(secret, h, body, len, t), SIG_MALFORMED);
        CHECK_INT(tv1_verify(secret, NULL, body, len, t), SIG_MISSING);
        CHECK_INT(tv1_verify("", hdr, body, len, t), SIG_BAD_SECRET);
    }
    json_object_put(v);
}

static void test_jwt(void)
{
    json_object *v = fixture("jwplatform-signatures.json"), *j, *pub, *here;
    if (!v || !CHECK(json_object_object_get_ex(v, "delivery_api_jwt_url_token", &j)) ||
        !CHECK(json_object_object_get_ex(j, "published", &pub)) ||
        !CHECK(json_object_object_get_ex(j, "computed_here", &here)))
        return;
    json_object *c = json_object_array_get_idx(pub, 0);
    const char *secret = str(c, "secret"), *tok = str(c, "token");
    char payload[512], bearer[1024];
    time_t now = (time_t)atoll(str(c, "now")), exp = (time_t)atoll(str(c, "exp"));
    CHECK_INT(jwt_hs256_verify(secret, tok, now, payload, sizeof payload), SIG_OK);
    CHECK_STR(payload, str(c, "payload_json"));
    snprintf(bearer, sizeof bearer, "Bearer %s", tok);
    CHECK_INT(jwt_hs256_verify(secret, bearer, now, payload, sizeof payload), SIG_OK);
    /* the same claims under a header in another key order: equally valid */
    CHECK_INT(jwt_hs256_verify(secret, str(json_object_array_get_idx(here, 0), "token"), now,
                               payload, sizeof payload),
              SIG_OK);
    /* Past exp: its own result (not the timestamp tolerance), with the
     * verified claims kept so that the refusal can say when. */
    CHECK_INT(jwt_hs256_verify(secret, tok, exp, payload, sizeof payload), SIG_EXPIRED);
    CHECK_STR(payload, str(c, "payload_json"));
    CHECK_HAS(sig_result_text(SIG_EXPIRED), "expired");
    CHECK_LACKS(sig_result_text(SIG_EXPIRED), "tolerance");
    /* A wrong signature on an expired token is a mismatch, and says nothing more. */
    CHECK_INT(jwt_hs256_verify("other-secret", tok, exp + 3600, payload, sizeof payload), SIG_MISMATCH);
    CHECK_STR(payload, "");
    CHECK_INT(jwt_hs256_verify("other-secret", tok, now, payload, sizeof payload), SIG_MISMATCH);
    CHECK_INT(jwt_hs256_verify(secret, tok, now, payload, 10), SIG_MALFORMED);
    CHECK_INT(jwt_hs256_verify(secret, NULL, now, payload, sizeof payload), SIG_MISSING);
    CHECK_INT(jwt_hs256_verify("", tok, now, payload, sizeof payload), SIG_BAD_SECRET);

    /* a changed payload keeps the old signature: mismatch */
    char forged[1024];
    snprintf(forged, sizeof forged, "%s", tok);
    char *d1 = strchr(forged, '.');
    d1[3] = d1[3] == 'A' ? 'B' : 'A';
    CHECK_INT(jwt_hs256_verify(secret, forged, now, payload, sizeof payload), SIG_MISMATCH);
    /* alg "none" with an empty signature, and a token with a 4th part */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                       "eyJyZXNvdXJjZSI6Ii9leGFtcGxlL3Jlc291cmNlIiwiZXhwIjoxMjcwODB9.";
    CHECK_INT(jwt_hs256_verify(secret, none, now, payload, sizeof payload), SIG_MALFORMED);
    snprintf(forged, sizeof forged, "%s.x", tok);
    CHECK_INT(jwt_hs256_verify(secret, forged, now, payload, sizeof payload), SIG_MALFORMED);
    CHECK_INT(jwt_hs256_verify(secret, "a.b", now, payload, sizeof payload), SIG_MALFORMED);
    CHECK_INT(jwt_hs256_verify(secret, "!!!.???.***", now, payload, sizeof payload),
              SIG_MALFORMED);
    json_object_put(v);
}

int main(void)
{
    test_standard_webhooks();
    test_mux();
    test_jwt();
    return CHECK_DONE("webhook_sig");
}
