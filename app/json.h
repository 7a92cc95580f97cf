#ifndef MEDIAGATE_JSON_H
#define MEDIAGATE_JSON_H
/* Typed reads of one member of a JSON object, for everything that takes
 * JSON from outside: the senders' parsers, the worker's task payloads, the
 * providers' answers. */
#include <json-c/json.h>
#include <stdint.h>

/* Each returns 1 when key is there with the type asked (for jint, an
 * integer in min..max), 0 when it is absent or JSON null (or o is NULL),
 * and -1 when it is present with another type or out of range; *out is
 * set only on 1. */
int jstr(json_object *o, const char *key, const char **out);
int jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out);
/* type: json_type_object, json_type_array, json_type_boolean, ...; *out is
 * borrowed from o. */
int jobj(json_object *o, const char *key, json_type type, json_object **out);

/* The string at key, or dflt when it is absent, null or not a string. */
const char *jstr_or(json_object *o, const char *key, const char *dflt);

#endif
