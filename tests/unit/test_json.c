/* The typed JSON reads (app/json.h), and the task payloads the worker's
 * kinds read through them. */
#include <stdint.h>

#include "check.h"
#include "json.h"
#include "worker/kinds.h"

static json_object *doc(void)
{
    return json_tokener_parse("{\"s\": \"text\", \"e\": \"\", \"nul\": null, \"i\": 42,"
                              " \"neg\": -7, \"big\": 99999999999999999999, \"d\": 1.5,"
                              " \"b\": true, \"a\": [1], \"o\": {\"k\": \"v\"}}");
}

static void test_jstr(void)
{
    json_object *o = doc();
    const char *s = "unset";
    CHECK_INT(jstr(o, "s", &s), 1);
    CHECK_STR(s, "text");
    CHECK_INT(jstr(o, "e", &s), 1);
    CHECK_STR(s, "");
    s = "unset";
    CHECK_INT(jstr(o, "missing", &s), 0);
    CHECK_INT(jstr(o, "nul", &s), 0); /* null is absent */
    CHECK_INT(jstr(o, "i", &s), -1);
    CHECK_INT(jstr(o, "o", &s), -1);
    CHECK_STR(s, "unset"); /* written only on 1 */
    CHECK_INT(jstr(NULL, "s", &s), 0);
    json_object *arr = json_object_new_array();
    CHECK_INT(jstr(arr, "s", &s), 0); /* not an object: nothing in it */
    json_object_put(arr);
    CHECK_STR(jstr_or(o, "s", "dflt"), "text");
    CHECK_STR(jstr_or(o, "missing", "dflt"), "dflt");
    CHECK_STR(jstr_or(o, "nul", "dflt"), "dflt");
    CHECK_STR(jstr_or(o, "i", NULL), NULL);
    CHECK_STR(jstr_or(NULL, "s", "dflt"), "dflt");
    json_object_put(o);
}

static void test_jint(void)
{
    json_object *o = doc();
    int64_t x = -1;
    CHECK_INT(jint(o, "i", 0, 100, &x), 1);
    CHECK_INT(x, 42);
    CHECK_INT(jint(o, "i", 0, 41, &x), -1); /* out of range */
    CHECK_INT(jint(o, "neg", 0, 100, &x), -1);
    CHECK_INT(jint(o, "neg", INT64_MIN, INT64_MAX, &x), 1);
    CHECK_INT(x, -7);
    /* json-c clamps what does not fit in 64 bits: refused, not INT64_MAX. */
    CHECK_INT(jint(o, "big", INT64_MIN, INT64_MAX, &x), -1);
    CHECK_INT(jint(o, "d", INT64_MIN, INT64_MAX, &x), -1); /* 1.5 is no integer */
    CHECK_INT(jint(o, "s", INT64_MIN, INT64_MAX, &x), -1);
    CHECK_INT(jint(o, "nul", INT64_MIN, INT64_MAX, &x), 0);
    CHECK_INT(jint(o, "missing", INT64_MIN, INT64_MAX, &x), 0);
    CHECK_INT(x, -7);
    json_object_put(o);
}

static void test_jobj(void)
{
    json_object *o = doc(), *v = NULL;
    CHECK_INT(jobj(o, "o", json_type_object, &v), 1);
    CHECK_STR(jstr_or(v, "k", NULL), "v");
    CHECK_INT(jobj(o, "a", json_type_array, &v), 1);
    CHECK_INT(json_object_array_length(v), 1);
    CHECK_INT(jobj(o, "b", json_type_boolean, &v), 1);
    CHECK_INT(jobj(o, "a", json_type_object, &v), -1);
    CHECK_INT(jobj(o, "s", json_type_array, &v), -1);
    CHECK_INT(jobj(o, "nul", json_type_object, &v), 0);
    CHECK_INT(jobj(o, "missing", json_type_object, &v), 0);
    CHECK_INT(jobj(NULL, "o", json_type_object, &v), 0);
    json_object_put(o);
}

/* A payload that names its resource with a null (or another type) fails
 * the task before anything else runs. */
static void test_payloads(void)
{
    static const char *const bad[] = {
        "{\"type\": null, \"key\": \"abcd1234\"}",
        "{\"type\": \"video\", \"key\": null}",
        "{\"type\": 5, \"key\": \"abcd1234\"}",
        "{\"key\": \"abcd1234\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        task_ctx ctx = {.kind = "jwplatform.refresh", .payload = json_tokener_parse(bad[i])};
        task_result res = {0};
        CHECK(ctx.payload != NULL);
        kind_jwplatform_refresh(&ctx, &res);
        CHECK_INT(res.outcome, TASK_FAILED);
        CHECK_STR(res.message, "the task names no resource");
        json_object_put(ctx.payload);
        json_object_put(res.job_event);
    }
}

int main(void)
{
    test_jstr();
    test_jint();
    test_jobj();
    test_payloads();
    return CHECK_DONE("json");
}
