/* libFuzzer harness: each notification backend's parser. The first byte
 * picks the backend; the rest is the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const notify_backend *const b[] = {&notify_mediaconvert, &notify_zencoder,
                                              &notify_tencent};
    char id[256], err[256];
    if (size < 1)
        return 0;
    const notify_backend *be = b[data[0] % 3];
    memset(id, 'x', sizeof id);
    id[0] = '\0';
    err[0] = '\0';
    json_object *ev = notify_parse(be, (const char *)data + 1, size - 1, id, sizeof id, err,
                                   sizeof err);
    FUZZ_ASSERT(memchr(id, '\0', sizeof id));
    if (!ev) {
        FUZZ_ASSERT(err[0]); /* every refusal says why */
        return 0;
    }
    /* A normalized event is an object naming its job and a known status. */
    FUZZ_ASSERT(json_object_is_type(ev, json_type_object));
    json_object *v;
    FUZZ_ASSERT(json_object_object_get_ex(ev, "backend_job_id", &v) &&
                json_object_is_type(v, json_type_string));
    if (json_object_object_get_ex(ev, "status", &v)) {
        const char *s = json_object_get_string(v);
        FUZZ_ASSERT(!strcmp(s, "SUBMITTED") || !strcmp(s, "PROGRESSING") || !strcmp(s, "COMPLETE") ||
                    !strcmp(s, "ERROR") || !strcmp(s, "CANCELED"));
    }
    if (json_object_object_get_ex(ev, "progress_rate", &v))
        FUZZ_ASSERT(json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 100);
    FUZZ_ASSERT(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) != NULL);
    json_object_put(ev);
    return 0;
}
