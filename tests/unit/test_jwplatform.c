/* JW Platform v1 api_signature against JW's published worked example and
 * the two vectors cross-checked with the official Python client. Fixture:
 * tests/fixtures/providers/jwplatform-signatures.json. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jwplatform/api.h"
#include "providers/jwplatform.h"

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static void one_vector(json_object *v)
{
    json_object *params;
    jw_param p[32];
    size_t n = 0;
    if (!CHECK(json_object_object_get_ex(v, "params", &params)))
        return;
    json_object_object_foreach(params, k, val) p[n++] = (jw_param){k, json_object_get_string(val)};
    char sbs[1024], sig[41], query[1200], want_q[1200];
    if (!CHECK_INT(jw_v1_sign(p, n, str(v, "secret"), sbs, sizeof sbs, sig), 0))
        return;
    bool same = CHECK_STR(sbs, str(v, "sbs"));
    same &= CHECK_STR(sig, str(v, "api_signature"));
    if (!same)
        fprintf(stderr, "  in vector \"%s\"\n", str(v, "name"));
    snprintf(want_q, sizeof want_q, "%s&api_signature=%s", str(v, "sbs"), str(v, "api_signature"));
    CHECK_INT(jw_v1_signed_query(p, n, str(v, "secret"), query, sizeof query), (long)strlen(want_q));
    CHECK_STR(query, want_q);
    /* One byte short is an error, not a truncation. */
    CHECK_INT(jw_v1_sign(p, n, str(v, "secret"), sbs, strlen(str(v, "sbs")), sig), -1);
    CHECK_INT(jw_v1_signed_query(p, n, str(v, "secret"), query, strlen(want_q)), -1);
}

static void vectors(json_object *doc, const char *group)
{
    json_object *v1, *list;
    if (!CHECK(json_object_object_get_ex(doc, "v1_management_api_signature", &v1)) ||
        !CHECK(json_object_object_get_ex(v1, group, &list)))
        return;
    for (size_t i = 0; i < json_object_array_length(list); i++)
        one_vector(json_object_array_get_idx(list, i));
}

int main(void)
{
    const char *dir = getenv("MG_ROOT");
    char path[1024], out[64];
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/jwplatform-signatures.json",
             dir ? dir : "..");
    json_object *doc = json_object_from_file(path);
    if (!CHECK(doc != NULL))
        return CHECK_DONE("jwplatform");
    vectors(doc, "published");
    vectors(doc, "computed_here");

    /* Encoding: unreserved bytes kept, everything else %XX in capitals. */
    CHECK_INT(jw_percent_encode("a-b.c_d~e f+g/é*", out, sizeof out), 29);
    CHECK_STR(out, "a-b.c_d~e%20f%2Bg%2F%C3%A9%2A");
    CHECK_INT(jw_percent_encode("abc", out, 3), -1);
    CHECK_INT(jw_percent_encode("abc", out, 4), 3);
    /* Ties on a name sort by value; a name that is a prefix sorts first. */
    jw_param p[] = {{"b", "2"}, {"a", "y"}, {"ab", "0"}, {"a", "x"}};
    char sbs[128], sig[41];
    CHECK_INT(jw_v1_sign(p, 4, "s", sbs, sizeof sbs, sig), 0);
    CHECK_STR(sbs, "a=x&a=y&ab=0&b=2");
    CHECK_INT(strlen(sig), 40);
    /* The title rule: UTF-8, no C0, DEL, C1, U+2028/U+2029, 1 to 1000 bytes. */
    CHECK(jw_title_ok("Lecture one \xc3\xa9 \xe2\x80\xa7 \xc2\xa0"));
    CHECK(!jw_title_ok("") && !jw_title_ok("a\tb") && !jw_title_ok("a\x7f"));
    CHECK(!jw_title_ok("a\xc2\x85") && !jw_title_ok("a\xc2\x9f"));
    CHECK(!jw_title_ok("a\xe2\x80\xa8") && !jw_title_ok("a\xe2\x80\xa9"));
    CHECK(!jw_title_ok("a\xc2") && !jw_title_ok("\xc0\xaf") && !jw_title_ok("\xed\xa0\x80"));
    char big[1002];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    CHECK(jw_title_ok(big));
    big[1000] = 'x';
    big[1001] = '\0';
    CHECK(!jw_title_ok(big));
    /* A value fits the write-back at 1500 bytes percent-encoded. */
    memset(big, 'x', 1000);
    big[1000] = '\0';
    CHECK(jw_value_fits(big));
    for (int i = 0; i < 500; i += 2)
        memcpy(big + i, "\xc3\xa9", 2); /* 250 x 2 bytes: 1500 encoded, with 500 x's: 2000 */
    CHECK(!jw_value_fits(big));
    big[500] = '\0';
    CHECK(jw_value_fits(big));
    json_object_put(doc);
    return CHECK_DONE("jwplatform");
}
