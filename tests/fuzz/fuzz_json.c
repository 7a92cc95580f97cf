/* libFuzzer harness: the input as a JSON body through every parser of the
 * app that takes one as (buf, len): parse_json (request and notification
 * bodies, every provider's answer), each sender's parser in
 * notify_backends[], the OAuth2 introspection answer (oauth2_parse) and the
 * people directory's (lookup_parse). Seeds are plain JSON documents of
 * each kind (seeds/json). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "config.h"
#include "fuzz.h"
#include "fuzz_event.h"
#include "notify/notify.h"
#include "providers/lookup.h"
#include "providers/oauth2.h"
#include "request.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define NOW 1700000000

/* Every string in o is held whole: its length counts bytes past any NUL
 * (a "\u0000" escape), which a reader using strlen would cut. Returns
 * whether some string holds a NUL. */
static bool strings_whole(json_object *o)
{
    bool nul = false;
    switch (json_object_get_type(o)) {
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(o);
        const char *s = json_object_get_string(o);
        FUZZ_ASSERT(s && s[n] == '\0' && strlen(s) <= n);
        return strlen(s) < n;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            nul |= strings_whole(json_object_array_get_idx(o, i));
        return nul;
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            FUZZ_ASSERT(k);
            nul |= strings_whole(v);
        }
        return nul;
    }
    default:
        return false;
    }
}

/* parse_json's contract and a round trip: what it accepts is UTF-8 with no
 * NUL byte; serialized, it parses again to an equal value whose
 * serialization is the same bytes (a NUL inside a string survives as
 * \u0000). */
static void check_parse_json(const char *buf, size_t len)
{
    const char *err = "unset", *err2 = "unset";
    json_object *o = parse_json(buf, len, &err);
    if (!o) {
        FUZZ_ASSERT(err && *err);
        return;
    }
    FUZZ_ASSERT(err == NULL);
    FUZZ_ASSERT(!memchr(buf, '\0', len));
    FUZZ_ASSERT(utf8_length(buf, len) >= 0);
    bool nul = strings_whole(o);
    size_t n = 0, n2 = 0;
    const char *s = json_object_to_json_string_length(o, FLAGS, &n);
    FUZZ_ASSERT(s && strlen(s) == n);
    FUZZ_ASSERT(!nul || strstr(s, "\\u0000"));
    json_object *back = parse_json(s, n, &err2);
    FUZZ_ASSERT(back && err2 == NULL);
    FUZZ_ASSERT(json_object_equal(o, back));
    const char *s2 = json_object_to_json_string_length(back, FLAGS, &n2);
    FUZZ_ASSERT(n2 == n && memcmp(s, s2, n) == 0);
    json_object_put(back);
    json_object_put(o);
}

/* id is a C string within its buffer and a whole ACL id (nothing cut). */
static void check_id(const char *id)
{
    FUZZ_ASSERT(memchr(id, '\0', OAUTH2_ID_MAX));
    FUZZ_ASSERT(acl_id_ok(id, strlen(id)));
}

/* Every list of an identity holds ACL ids within its bounds. */
static void check_lists(const oauth2_identity *id)
{
    FUZZ_ASSERT(id->ngroups >= 0 && id->ngroups <= OAUTH2_MAX_LIST);
    FUZZ_ASSERT(id->ninsts >= 0 && id->ninsts <= OAUTH2_MAX_LIST);
    for (int i = 0; i < id->ngroups; i++)
        check_id(id->groups[i]);
    for (int i = 0; i < id->ninsts; i++)
        check_id(id->insts[i]);
}

/* An introspection answer: an active identity's user is a whole ACL id
 * (no NUL cut it short), cached no longer than the setting; what is not
 * JSON is no answer. */
static void check_oauth2(const char *buf, size_t len, bool is_json)
{
    static config cfg;
    static oauth2_identity id;
    cfg.oauth2_user_claim = "sub";
    cfg.oauth2_cache_seconds = 60;
    cfg.oauth2_audience = "*";
    int rc = oauth2_parse(&cfg, buf, len, NOW, &id);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(is_json || rc == -1);
    if (rc == -1 || !id.active)
        return;
    check_id(id.user);
    FUZZ_ASSERT(id.until > NOW && id.until <= NOW + 60);
    check_lists(&id);
}

/* A directory answer: an object, or no answer. */
static void check_lookup(const char *buf, size_t len, bool is_json)
{
    static oauth2_identity id;
    memset(&id, 0, sizeof id);
    int rc = lookup_parse(buf, len, &id);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(is_json || rc == -1);
    if (rc == 0)
        check_lists(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *err;
    check_parse_json(buf, size);
    json_object *o = parse_json(buf, size, &err);
    bool is_json = o != NULL;
    json_object_put(o);
    for (size_t i = 0; i < notify_nbackends; i++)
        fuzz_check_parse(&notify_backends[i], buf, size);
    check_oauth2(buf, size, is_json);
    check_lookup(buf, size, is_json);
    return 0;
}
