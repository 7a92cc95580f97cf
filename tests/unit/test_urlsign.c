/* Signed URLs: JW Platform's (the published JWT vector and the MD5 vectors
 * of tests/fixtures/providers/jwplatform-signatures.json) and the local
 * outputs' (nginx secure_link; the value below was computed with Python's
 * hashlib, independently of this code). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "providers/jw_delivery.h"
#include "urlsign.h"

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static void test_jw(void)
{
    char path[1024], sig[33], tok[512];
    const char *dir = getenv("MG_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/jwplatform-signatures.json",
             dir ? dir : ".");
    json_object *f = json_object_from_file(path), *j, *list, *legacy;
    if (!CHECK(f && json_object_object_get_ex(f, "delivery_api_jwt_url_token", &j) &&
               json_object_object_get_ex(f, "delivery_api_legacy_exp_sig", &legacy)))
        return;
    json_object_object_get_ex(j, "published", &list);
    json_object *p = json_object_array_get_idx(list, 0);
    CHECK_INT(jw_sign_jwt(str(p, "resource"), atoll(str(p, "exp")), str(p, "secret"), tok,
                          sizeof tok), 0);
    CHECK_STR(tok, str(p, "token")); /* byte for byte */
    CHECK_INT(jw_sign_jwt(str(p, "resource"), atoll(str(p, "exp")), str(p, "secret"), tok, 40), -1);
    CHECK_STR(tok, "");

    json_object_object_get_ex(legacy, "computed_here", &list);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *c = json_object_array_get_idx(list, i);
        char what[512];
        snprintf(what, sizeof what, "%s", str(c, "string_signed"));
        char *a = strchr(what, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!CHECK(a && b))
            continue;
        *a = *b = '\0';
        jw_sign_md5(what, atoll(a + 1), b + 1, sig);
        CHECK_STR(sig, str(c, "sig"));
        char slash[520];
        snprintf(slash, sizeof slash, "/%s", what); /* the leading slash is not signed */
        jw_sign_md5(slash, atoll(a + 1), b + 1, sig);
        CHECK_STR(sig, str(c, "sig"));
    }
    CHECK_INT(jw_expiry(1700000000, 3600), 1700003700); /* rounded up to 180 s */
    CHECK_INT(jw_expiry(1700003520, 180), 1700003700); /* a multiple of 180 stays */
    json_object_put(f);
}

static void test_local(void)
{
    const char *job = "3b9d8a2e-0000-4000-8000-000000000001", *secret = "local-signing-secret-0123";
    char sig[23], out[256];
    urlsign_job(secret, job, 1700003600, sig);
    CHECK_STR(sig, "jKVbUJ0zehX8pzdrIXrJ8w");
    CHECK_INT(urlsign_output("/media-files", job,
                             "/media-files/3b9d8a2e-0000-4000-8000-000000000001/", secret,
                             1700003600, out, sizeof out), 0);
    CHECK_STR(out, "/media-files/s/jKVbUJ0zehX8pzdrIXrJ8w/1700003600/"
                   "3b9d8a2e-0000-4000-8000-000000000001/");
    CHECK_INT(urlsign_output("https://cdn.example.com/m", job,
                             "https://cdn.example.com/m/3b9d8a2e-0000-4000-8000-000000000001/x.m3u8",
                             secret, 1700003600, out, sizeof out), 0);
    CHECK_STR(out, "https://cdn.example.com/m/s/jKVbUJ0zehX8pzdrIXrJ8w/1700003600/"
                   "3b9d8a2e-0000-4000-8000-000000000001/x.m3u8");
    /* Not this job's directory: not signed. */
    CHECK_INT(urlsign_output("/media-files", job, "/media-files/other/", secret, 1, out, sizeof out), -1);
    CHECK_INT(urlsign_output("/media-files", job, "s3://bucket/out/", secret, 1, out, sizeof out), -1);
    CHECK_INT(urlsign_output("/media-files", job, "/media-files3b9d8a2e-0000-4000-8000-000000000001/",
                             secret, 1, out, sizeof out), -1);
    CHECK_INT(urlsign_output("/media-files", job,
                             "/media-files/3b9d8a2e-0000-4000-8000-000000000001/", secret, 1, out, 20),
              -1);
    urlsign_job(secret, job, 1700003601, out);
    CHECK(strcmp(out, "jKVbUJ0zehX8pzdrIXrJ8w") != 0);
}

int main(void)
{
    test_jw();
    test_local();
    return CHECK_DONE("urlsign");
}
