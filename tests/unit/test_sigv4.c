/* SigV4 against AWS's published test-suite vectors (canonical request,
 * string to sign, Authorization), and the S3 POST policy example, byte for
 * byte. Fixtures: tests/fixtures/providers/aws-*. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "providers/sigv4.h"

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* Splits a raw .req into method, path, query, header lines and body, then
 * signs it and compares the three published artefacts. */
static void one_case(const char *name, json_object *c, json_object *cred)
{
    char *req = strdup(str(c, "req")), *headers[32], method[16], target[512];
    size_t nh = 0;
    char *body = strstr(req, "\n\n");
    if (body) {
        *body = '\0';
        body += 2;
    }
    char *line = strtok(req, "\n");
    CHECK(sscanf(line, "%15s %511s", method, target) == 2);
    while ((line = strtok(NULL, "\n")) && nh < 32)
        headers[nh++] = line;
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    sigv4_request r = {method, target, q, (const char *const *)headers, nh,
                       body ? body : "", body ? strlen(body) : 0,
                       str(cred, "access_key_id"), str(cred, "secret_access_key"),
                       str(cred, "region"), str(cred, "service"), str(cred, "date")};
    char creq[4096], sts[1024], authz[1024];
    CHECK_INT(sigv4_sign(&r, creq, sizeof creq, sts, sizeof sts, authz, sizeof authz), 0);
    if (strcmp(creq, str(c, "creq")) != 0)
        fprintf(stderr, "%s creq:\n%s\n--- expected:\n%s\n", name, creq, str(c, "creq"));
    CHECK(strcmp(creq, str(c, "creq")) == 0);
    CHECK(strcmp(sts, str(c, "sts")) == 0);
    if (strcmp(authz, str(c, "authz")) != 0)
        fprintf(stderr, "%s authz:\n%s\n--- expected:\n%s\n", name, authz, str(c, "authz"));
    CHECK(strcmp(authz, str(c, "authz")) == 0);
    free(req);
}

int main(void)
{
    const char *dir = getenv("MG_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/aws-sigv4-test-suite.json",
             dir ? dir : "..");
    json_object *suite = json_object_from_file(path), *cases, *cred;
    if (!CHECK(suite != NULL))
        return CHECK_DONE("sigv4");
    CHECK(json_object_object_get_ex(suite, "cases", &cases));
    CHECK(json_object_object_get_ex(suite, "credentials", &cred));
    int n = 0;
    json_object_object_foreach(cases, name, c)
    {
        one_case(name, c, cred);
        n++;
    }
    CHECK_INT(n, 4);

    snprintf(path, sizeof path, "%s/tests/fixtures/providers/aws-s3-post-policy-sigv4.json",
             dir ? dir : "..");
    json_object *post = json_object_from_file(path);
    if (CHECK(post != NULL)) {
        char b64[4096], sig[65];
        CHECK_INT(sigv4_post_policy(str(post, "policy_json_crlf"), str(post, "secret_access_key"),
                                    str(post, "date"), str(post, "region"), b64, sizeof b64, sig),
                  0);
        CHECK(strcmp(b64, str(post, "policy_base64")) == 0);
        CHECK(strcmp(sig, str(post, "x_amz_signature")) == 0);
        /* A buffer too small is an error, not an overflow. */
        CHECK_INT(sigv4_post_policy("{}", "s", "20151229", "us-east-1", b64, 4, sig), -1);
    }
    json_object_put(post);

    /* A presigned URL: AWS's published example, byte for byte. */
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/aws-s3-presigned-url-sigv4.json",
             dir ? dir : "..");
    json_object *ps = json_object_from_file(path), *exp;
    if (CHECK(ps != NULL) && CHECK(json_object_object_get_ex(ps, "expires", &exp))) {
        char q[2048];
        sigv4_presign_req p = {str(ps, "method"), str(ps, "host"), str(ps, "path"), NULL, NULL, 0,
                               str(ps, "access_key_id"), str(ps, "secret_access_key"), NULL,
                               str(ps, "region"), "s3", str(ps, "date"),
                               (long)json_object_get_int64(exp)};
        CHECK_INT(sigv4_presign(&p, q, sizeof q), 0);
        if (strcmp(q, str(ps, "query")) != 0)
            fprintf(stderr, "presign:\n%s\n--- expected:\n%s\n", q, str(ps, "query"));
        CHECK(strcmp(q, str(ps, "query")) == 0);
        /* Too small a buffer, or an expiry S3 refuses: an error, never half a URL. */
        CHECK_INT(sigv4_presign(&p, q, 100), -1);
        p.expires_s = 604801;
        CHECK_INT(sigv4_presign(&p, q, sizeof q), -1);
        CHECK_STR(q, "");
    }
    json_object_put(ps);
    json_object_put(suite);
    return CHECK_DONE("sigv4");
}
