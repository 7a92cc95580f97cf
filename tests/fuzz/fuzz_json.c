/* libFuzzer harness: the input as a request body through parse_json. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = "unset";
    struct json_object *o = parse_json((const char *)data, size, &err);
    if (!o) {
        FUZZ_ASSERT(err && *err);
        return 0;
    }
    FUZZ_ASSERT(err == NULL);
    /* The whole body is one JSON value plus JSON whitespace, and a NUL
     * byte is neither. */
    FUZZ_ASSERT(!memchr(data, '\0', size));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    FUZZ_ASSERT(s && strlen(s) == n);
    json_object_put(o);
    return 0;
}
