/* Reading the providers' payloads in unit tests (after check.h). */
#ifndef MEDIAGATE_TEST_FIXTURE_H
#define MEDIAGATE_TEST_FIXTURE_H
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

/* tests/fixtures/providers/<name> under MG_ROOT, parsed: a new reference,
 * or NULL after a failed check. */
static inline json_object *fixture(const char *name)
{
    char path[1024];
    const char *dir = getenv("MG_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/%s", dir ? dir : ".", name);
    json_object *o = json_object_from_file(path);
    if (!CHECK(o != NULL))
        fprintf(stderr, "  cannot read %s\n", path);
    return o;
}

/* The string value of k in o, or "". */
static inline const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

#endif
