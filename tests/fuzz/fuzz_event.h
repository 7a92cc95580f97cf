/* Shared by fuzz_notify and fuzz_json: what every sender's parser
 * (notify_parse, app/notify/) must hold for any body. */
#ifndef MEDIAGATE_FUZZ_EVENT_H
#define MEDIAGATE_FUZZ_EVENT_H
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "notify/notify.h"

/* Runs b's parser on buf[0..len) and checks its contract: the id buffer
 * stays a C string; a refusal says why; an event is an object naming its
 * job by the sender's id or mediagate's (or saying it has none: no_job), or a refresh of a mirror resource
 * (jwplatform) with a usable key, with a known status and a progress in
 * 0..100. */
static inline void fuzz_check_parse(const notify_backend *b, const char *buf, size_t len)
{
    char id[256], err[256];
    memset(id, 'x', sizeof id);
    id[0] = '\0';
    err[0] = '\0';
    json_object *ev = notify_parse(b, buf, len, id, sizeof id, err, sizeof err), *v;
    FUZZ_ASSERT(memchr(id, '\0', sizeof id));
    if (!ev) {
        FUZZ_ASSERT(err[0]); /* every refusal says why */
        return;
    }
    FUZZ_ASSERT(json_object_is_type(ev, json_type_object));
    if (json_object_object_get_ex(ev, "refresh", &v)) {
        json_object *t, *k;
        FUZZ_ASSERT(json_object_object_get_ex(v, "type", &t) &&
                    json_object_object_get_ex(v, "key", &k));
        FUZZ_ASSERT(!strcmp(json_object_get_string(t), "video") ||
                    !strcmp(json_object_get_string(t), "channel"));
        FUZZ_ASSERT(json_object_get_string_len(k) >= 1 && json_object_get_string_len(k) <= 64);
        json_object_put(ev);
        return;
    }
    bool no_job = json_object_object_get_ex(ev, "no_job", &v) && json_object_get_boolean(v);
    json_object *mine = NULL;
    FUZZ_ASSERT(no_job ||
                (json_object_object_get_ex(ev, "backend_job_id", &v) &&
                 json_object_is_type(v, json_type_string)) ||
                (json_object_object_get_ex(ev, "mediagate_job_id", &mine) &&
                 json_object_is_type(mine, json_type_string)));
    if (json_object_object_get_ex(ev, "status", &v)) {
        const char *s = json_object_get_string(v);
        FUZZ_ASSERT(!strcmp(s, "SUBMITTED") || !strcmp(s, "PROGRESSING") ||
                    !strcmp(s, "COMPLETE") || !strcmp(s, "ERROR") || !strcmp(s, "CANCELED"));
    }
    if (json_object_object_get_ex(ev, "progress_rate", &v))
        FUZZ_ASSERT(json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 100);
    FUZZ_ASSERT(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) != NULL);
    json_object_put(ev);
}

#endif
