/* JW Platform (JW Player) webhooks: media_available, conversions_complete,
 * media_updated, media_deleted, channel_active, channel_idle, ... Their
 * bodies are flat ({event, media_id | channel_id, webhook_id, site_id,
 * event_time}) and carry no metadata, so each becomes a refresh of the
 * named resource (worker task jwplatform.refresh, queued by sql/013 in the
 * transaction that stores the notification). The verifier is the HS256
 * JWT row (verify_jwt_hs256: a JWT in Authorization whose claims equal the
 * body). The event id is the body's hash: JW sends no delivery id. */
#include <string.h>

#include "notify/notify.h"

static bool good_key(const char *k)
{
    size_t n = strlen(k);
    return n >= 1 && n <= 64 &&
           strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int jwplatform_parse(json_object *root, json_object *ev, char *id, size_t idcap, char *err,
                     size_t errcap)
{
    const char *event, *key = NULL, *type;
    int m, c;
    json_object *r;
    if (jstr(root, "event", &event) != 1 || !*event || strlen(event) > 64)
        FAIL("event is missing or not a string");
    m = jstr(root, "media_id", &key);
    if (m == 1) {
        type = "video";
    } else {
        c = jstr(root, "channel_id", &key);
        if (m == -1 || c != 1)
            FAIL("neither media_id nor channel_id is a string");
        type = "channel";
    }
    if (!good_key(key))
        FAIL("the %s id is not a JW Platform key", type);
    r = json_object_new_object();
    json_object_object_add(r, "type", json_object_new_string(type));
    json_object_object_add(r, "key", json_object_new_string(key));
    json_object_object_add(r, "event", json_object_new_string(event));
    json_object_object_add(ev, "refresh", r);
    return 0;
fail:
    return -1;
}
