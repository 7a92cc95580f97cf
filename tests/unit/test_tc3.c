/* TC3-HMAC-SHA256 against Tencent Cloud's two published worked examples
 * (canonical request, string to sign, signature, Authorization), byte for
 * byte. Fixture: tests/fixtures/providers/tencentcloud-tc3-signature.json. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "providers/tc3.h"

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static void one_vector(json_object *v)
{
    json_object *ts;
    const char *payload = str(v, "payload");
    CHECK(json_object_object_get_ex(v, "timestamp", &ts) && json_object_is_type(ts, json_type_int));
    tc3_request r = {str(v, "secret_id"),
                     str(v, "secret_key"),
                     str(v, "service"),
                     str(v, "host"),
                     str(v, "http_method"),
                     str(v, "canonical_uri"),
                     str(v, "canonical_query_string"),
                     str(v, "content_type"),
                     payload,
                     strlen(payload),
                     (time_t)json_object_get_int64(ts)};
    char creq[2048], sts[512], authz[512];
    if (!CHECK_INT(tc3_sign(&r, creq, sizeof creq, sts, sizeof sts, authz, sizeof authz), 0))
        return;
    bool same = CHECK_STR(creq, str(v, "canonical_request"));
    same &= CHECK_STR(sts, str(v, "string_to_sign"));
    same &= CHECK_STR(authz, str(v, "authorization"));
    if (!same)
        fprintf(stderr, "  in vector \"%s\"\n", str(v, "name"));
    const char *sig = strstr(authz, "Signature=");
    CHECK_STR(sig ? sig + 10 : NULL, str(v, "signature"));
    CHECK_HAS(sts, str(v, "hashed_canonical_request"));
    CHECK_HAS(creq, str(v, "hashed_request_payload"));

    /* The canonical request and string to sign are optional outputs. */
    char authz2[512];
    CHECK_INT(tc3_sign(&r, NULL, 0, NULL, 0, authz2, sizeof authz2), 0);
    CHECK_STR(authz2, authz);
    /* Each buffer one byte short is an error, not a truncation. */
    size_t an = strlen(authz), cn = strlen(creq), sn = strlen(sts);
    CHECK_INT(tc3_sign(&r, NULL, 0, NULL, 0, authz2, an), -1);
    CHECK_INT(tc3_sign(&r, NULL, 0, NULL, 0, authz2, an + 1), 0);
    CHECK_INT(tc3_sign(&r, creq, cn, NULL, 0, authz2, sizeof authz2), -1);
    CHECK_INT(tc3_sign(&r, creq, cn + 1, NULL, 0, authz2, sizeof authz2), 0);
    CHECK_INT(tc3_sign(&r, NULL, 0, sts, sn, authz2, sizeof authz2), -1);
    CHECK_INT(tc3_sign(&r, NULL, 0, sts, sn + 1, authz2, sizeof authz2), 0);
}

int main(void)
{
    const char *dir = getenv("MG_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/tencentcloud-tc3-signature.json",
             dir ? dir : "..");
    json_object *doc = json_object_from_file(path), *vectors;
    if (!CHECK(doc != NULL) || !CHECK(json_object_object_get_ex(doc, "vectors", &vectors)) ||
        !CHECK(json_object_is_type(vectors, json_type_array))) {
        json_object_put(doc);
        return CHECK_DONE("tc3");
    }
    size_t n = json_object_array_length(vectors);
    CHECK_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        one_vector(json_object_array_get_idx(vectors, i));

    /* The credential scope is the timestamp's UTC date: 1551113065 is
     * 2019-02-25 16:44:25 UTC, and one second before midnight stays on its day. */
    tc3_request r = {"id", "key", "vod", "vod.tencentcloudapi.com", "POST", "/", "",
                     "application/json; charset=utf-8", NULL, 0, 1551139199};
    char sts[512], authz[512];
    CHECK_INT(tc3_sign(&r, NULL, 0, sts, sizeof sts, authz, sizeof authz), 0);
    CHECK_HAS(sts, "\n1551139199\n2019-02-25/vod/tc3_request\n");
    r.timestamp++;
    CHECK_INT(tc3_sign(&r, NULL, 0, sts, sizeof sts, authz, sizeof authz), 0);
    CHECK_HAS(sts, "\n2019-02-26/vod/tc3_request\n");
    CHECK_HAS(authz, "Credential=id/2019-02-26/vod/tc3_request, SignedHeaders=content-type;host, ");
    json_object_put(doc);
    return CHECK_DONE("tc3");
}
