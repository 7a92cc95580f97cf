/* Typed reads of JSON members (json.h): one place for json-c's lookup,
 * type check and range check. */
#include "json.h"

/* The member key of o, or NULL when o is NULL, key is absent or null. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

int jstr(json_object *o, const char *key, const char **out)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *out = json_object_get_string(v);
    return 1;
}

int jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(v);
    /* json-c clamps out-of-range values to INT64_MIN/MAX. */
    if (x < min || x > max || x == INT64_MAX || x == INT64_MIN)
        return -1;
    *out = x;
    return 1;
}

int jobj(json_object *o, const char *key, json_type type, json_object **out)
{
    json_object *v = member(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, type))
        return -1;
    *out = v;
    return 1;
}

const char *jstr_or(json_object *o, const char *key, const char *dflt)
{
    const char *s;
    return jstr(o, key, &s) > 0 ? s : dflt;
}
