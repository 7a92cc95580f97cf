/* Encode profiles (profile.h): the one reader of a profile's JSON form and
 * its one writer, so the CLI, the API and the worker agree on it. */
#include "profile.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "encoders/encoder.h"
#include "json.h"

#define SIZE_MIN_PX 16
#define SIZE_MAX_PX 8192
#define KBPS_MAX 100000

/* The members each object may have; anything else is refused, so that a
 * misspelt member ("video_kpbs") is never silently ignored. */
static const char *const spec_keys[] = {"name",   "encoder",    "renditions", "packaging",
                                        "poster", "storyboard", "audio_only", "encryption",
                                        NULL};
static const char *const poster_keys[] = {"time", NULL};
static const char *const sb_keys[] = {"interval", "width", NULL};
static const char *const encryptions[] = {"auto", "aes-128", "none", NULL};
static const char *const rend_keys[] = {"height", "width",      "video_kbps",
                                        "codec",  "audio_kbps", NULL};
static const char *const codecs[] = {"h264", "h265", NULL};

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the reason into err; returns -1. */
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap)
        vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int word_index(const char *const *words, const char *s)
{
    for (int i = 0; words[i]; i++)
        if (strcmp(words[i], s) == 0)
            return i;
    return -1;
}

/* The string at key in o (type checked, no NUL inside), 1; 0 absent or
 * null; -1 anything else. */
static int plain_str(json_object *o, const char *key, const char **out)
{
    json_object *v;
    int r = jobj(o, key, json_type_string, &v);
    if (r <= 0)
        return r;
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return -1;
    *out = s;
    return 1;
}

/* s as a JSON string, quoted and escaped (so that a hostile one stays one
 * printable line), cut to fit out (cap bytes). */
static void quote(const char *s, char *out, size_t cap)
{
    json_object *js = json_object_new_string(s);
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    snprintf(out, cap, "%s", js ? json_object_to_json_string_ext(js, flags) : "\"\"");
    json_object_put(js);
}

/* 0 when every member of o is in keys; else -1 with the first other one
 * named (quoted) in err. */
static int only_keys(json_object *o, const char *const *keys, const char *where, char *err,
                     size_t cap)
{
    char q[64];
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        if (strlen(k) > 40 || word_index(keys, k) < 0) {
            quote(k, q, sizeof q);
            return fail(err, cap, "%s has an unknown member %s", where, q);
        }
    }
    return 0;
}

/* Reads the integer at key into *out (default dflt when absent); -1 with
 * err set when it is not an integer in min..max. */
static int int_member(json_object *o, const char *key, int min, int max, int dflt, int *out,
                      const char *where, char *err, size_t cap)
{
    int64_t x;
    int r = jint(o, key, min, max, &x);
    if (r < 0)
        return fail(err, cap, "%s.%s must be an integer from %d to %d", where, key, min, max);
    *out = r ? (int)x : dflt;
    return 0;
}

static int size_member(json_object *o, const char *key, int *out, const char *where, char *err,
                       size_t cap)
{
    if (int_member(o, key, SIZE_MIN_PX, SIZE_MAX_PX, 0, out, where, err, cap) != 0)
        return -1;
    if (*out % 2)
        return fail(err, cap, "%s.%s must be even", where, key);
    return 0;
}

/* Reads one rendition (renditions[i]) into r. */
static int rendition_parse(json_object *o, int i, rendition *r, char *err, size_t cap)
{
    char where[32];
    snprintf(where, sizeof where, "renditions[%d]", i);
    if (!json_object_is_type(o, json_type_object))
        return fail(err, cap, "%s must be an object", where);
    if (only_keys(o, rend_keys, where, err, cap) != 0)
        return -1;
    memset(r, 0, sizeof *r);
    if (size_member(o, "height", &r->height, where, err, cap) != 0 ||
        size_member(o, "width", &r->width, where, err, cap) != 0 ||
        int_member(o, "video_kbps", 0, KBPS_MAX, 0, &r->video_kbps, where, err, cap) != 0 ||
        int_member(o, "audio_kbps", -1, KBPS_MAX, 0, &r->audio_kbps, where, err, cap) != 0)
        return -1;
    if (!r->height && !r->width)
        return fail(err, cap, "%s names neither height nor width", where);
    const char *codec = "h264";
    if (plain_str(o, "codec", &codec) < 0 || word_index(codecs, codec) < 0)
        return fail(err, cap, "%s.codec must be \"h264\" or \"h265\"", where);
    snprintf(r->codec, sizeof r->codec, "%s", codec);
    return 0;
}

/* The size renditions are ordered by: the height, else the width. */
static int rendition_key(const rendition *r)
{
    return r->height ? r->height : r->width;
}

static bool rendition_same(const rendition *a, const rendition *b)
{
    return a->width == b->width && a->height == b->height && strcmp(a->codec, b->codec) == 0;
}

static int packaging_parse(json_object *spec, profile *p, char *err, size_t cap)
{
    json_object *pk;
    int r = jobj(spec, "packaging", json_type_array, &pk);
    if (r < 0)
        return fail(err, cap, "packaging must be an array of \"hls\" and \"mp4\"");
    if (r == 0) {
        p->hls = true;
        return 0;
    }
    size_t n = json_object_array_length(pk);
    if (n == 0)
        return fail(err, cap, "packaging must name at least one of \"hls\" and \"mp4\"");
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(pk, i);
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        bool *flag = strcmp(s, "hls") == 0 ? &p->hls : strcmp(s, "mp4") == 0 ? &p->mp4 : NULL;
        if (!flag || strlen(s) != (size_t)json_object_get_string_len(v))
            return fail(err, cap, "packaging[%zu] must be \"hls\" or \"mp4\"", i);
        if (*flag)
            return fail(err, cap, "packaging names \"%s\" twice", s);
        *flag = true;
    }
    return 0;
}

void profile_defaults(profile *p)
{
    p->poster = true;
    p->poster_time = -1;
    p->storyboard = true;
    p->sb_interval = 0;
    p->sb_width = 160;
    p->audio_only = true;
    p->encryption = PROFILE_ENC_AUTO;
}

/* A number member key of o within [min, max] into *out (unchanged when
 * absent). */
static int num_member(json_object *o, const char *key, double min, double max, double *out,
                      const char *where, char *err, size_t cap)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return fail(err, cap, "%s.%s must be a number", where, key);
    double d = json_object_get_double(v);
    if (!(d >= min && d <= max))
        return fail(err, cap, "%s.%s must be between %g and %g", where, key, min, max);
    *out = d;
    return 0;
}

/* "poster", "storyboard", "audio_only" and "encryption" of spec into p. */
static int extras_parse(json_object *spec, profile *p, char *err, size_t cap)
{
    json_object *v;
    if (json_object_object_get_ex(spec, "poster", &v)) {
        if (json_object_is_type(v, json_type_boolean))
            p->poster = json_object_get_boolean(v);
        else if (!json_object_is_type(v, json_type_object) ||
                 only_keys(v, poster_keys, "poster", err, cap) != 0 ||
                 num_member(v, "time", 0, 86400, &p->poster_time, "poster", err, cap) != 0)
            return err[0] ? -1 : fail(err, cap, "poster must be false or {\"time\": seconds}");
    }
    if (json_object_object_get_ex(spec, "storyboard", &v)) {
        double w = p->sb_width;
        if (json_object_is_type(v, json_type_boolean))
            p->storyboard = json_object_get_boolean(v);
        else if (!json_object_is_type(v, json_type_object) ||
                 only_keys(v, sb_keys, "storyboard", err, cap) != 0 ||
                 num_member(v, "interval", 0.5, 600, &p->sb_interval, "storyboard", err, cap) != 0 ||
                 num_member(v, "width", 32, 640, &w, "storyboard", err, cap) != 0)
            return err[0] ? -1
                          : fail(err, cap, "storyboard must be false or {\"interval\": seconds, "
                                           "\"width\": pixels}");
        if ((int)w != w || (int)w % 2)
            return fail(err, cap, "storyboard.width must be an even whole number");
        p->sb_width = (int)w;
    }
    if (json_object_object_get_ex(spec, "audio_only", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            return fail(err, cap, "audio_only must be true or false");
        p->audio_only = json_object_get_boolean(v);
    }
    const char *enc = NULL;
    if (plain_str(spec, "encryption", &enc) < 0 || (enc && word_index(encryptions, enc) < 0))
        return fail(err, cap, "encryption must be \"auto\", \"aes-128\" or \"none\"");
    if (enc)
        p->encryption = word_index(encryptions, enc);
    return 0;
}

int profile_parse(const char *name, const struct json_object *cspec, profile *p, char *err,
                  size_t errcap)
{
    /* json-c's getters take non-const objects; nothing here changes spec. */
    json_object *spec = (json_object *)(uintptr_t)cspec;
    memset(p, 0, sizeof *p);
    profile_defaults(p);
    if (err && errcap)
        err[0] = '\0';
    if (!spec || !json_object_is_type(spec, json_type_object))
        return fail(err, errcap, "a profile is a JSON object");
    if (only_keys(spec, spec_keys, "the profile", err, errcap) != 0)
        return -1;

    const char *own = NULL;
    if (plain_str(spec, "name", &own) < 0 || (own && !profile_name_ok(own)))
        return fail(err, errcap, "name must match ^[a-z0-9][a-z0-9._-]{0,62}$");
    if (!name)
        name = own;
    if (!name || !profile_name_ok(name))
        return fail(err, errcap, "a profile name must match ^[a-z0-9][a-z0-9._-]{0,62}$");
    if (own && strcmp(own, name) != 0)
        return fail(err, errcap, "the profile's name member says \"%s\", not \"%s\"", own, name);
    snprintf(p->name, sizeof p->name, "%s", name);

    const char *enc = NULL;
    if (plain_str(spec, "encoder", &enc) <= 0)
        return fail(err, errcap, "encoder must name an encoder (local, mediaconvert, ...)");
    if (strlen(enc) >= sizeof p->encoder || !encoder_find(enc)) {
        char q[64];
        quote(enc, q, sizeof q);
        return fail(err, errcap, "encoder: no encoder is named %s", q);
    }
    snprintf(p->encoder, sizeof p->encoder, "%s", enc);

    json_object *rl;
    if (jobj(spec, "renditions", json_type_array, &rl) <= 0)
        return fail(err, errcap, "renditions must be an array of 1 to %d renditions",
                    PROFILE_MAX_RENDITIONS);
    size_t n = json_object_array_length(rl);
    if (n < 1 || n > PROFILE_MAX_RENDITIONS)
        return fail(err, errcap, "renditions must be an array of 1 to %d renditions",
                    PROFILE_MAX_RENDITIONS);
    for (size_t i = 0; i < n; i++) {
        rendition r;
        if (rendition_parse(json_object_array_get_idx(rl, i), (int)i, &r, err, errcap) != 0)
            return -1;
        /* Insert tallest first (stable: equal sizes keep their order). */
        int j = p->nrend;
        for (; j > 0 && rendition_key(&p->rend[j - 1]) < rendition_key(&r); j--)
            p->rend[j] = p->rend[j - 1];
        p->rend[j] = r;
        p->nrend++;
    }
    for (int i = 0; i < p->nrend; i++)
        for (int j = i + 1; j < p->nrend; j++)
            if (rendition_same(&p->rend[i], &p->rend[j]))
                return fail(err, errcap, "two renditions have the same size and codec");

    if (packaging_parse(spec, p, err, errcap) != 0)
        return -1;
    return extras_parse(spec, p, err, errcap);
}

json_object *profile_json(const profile *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(p->name));
    json_object_object_add(o, "encoder", json_object_new_string(p->encoder));
    json_object *rl = json_object_new_array();
    for (int i = 0; i < p->nrend; i++) {
        const rendition *r = &p->rend[i];
        json_object *ro = json_object_new_object();
        if (r->height)
            json_object_object_add(ro, "height", json_object_new_int(r->height));
        if (r->width)
            json_object_object_add(ro, "width", json_object_new_int(r->width));
        json_object_object_add(ro, "video_kbps", json_object_new_int(r->video_kbps));
        json_object_object_add(ro, "codec", json_object_new_string(r->codec));
        json_object_object_add(ro, "audio_kbps", json_object_new_int(r->audio_kbps));
        json_object_array_add(rl, ro);
    }
    json_object_object_add(o, "renditions", rl);
    json_object *pk = json_object_new_array();
    if (p->hls)
        json_object_array_add(pk, json_object_new_string("hls"));
    if (p->mp4)
        json_object_array_add(pk, json_object_new_string("mp4"));
    json_object_object_add(o, "packaging", pk);
    /* The extras only where they differ from profile_defaults. */
    profile d;
    profile_defaults(&d);
    if (!p->poster) {
        json_object_object_add(o, "poster", json_object_new_boolean(0));
    } else if (p->poster_time >= 0) {
        json_object *po = json_object_new_object();
        json_object_object_add(po, "time", json_object_new_double(p->poster_time));
        json_object_object_add(o, "poster", po);
    }
    if (!p->storyboard) {
        json_object_object_add(o, "storyboard", json_object_new_boolean(0));
    } else if (p->sb_interval > 0 || p->sb_width != d.sb_width) {
        json_object *so = json_object_new_object();
        if (p->sb_interval > 0)
            json_object_object_add(so, "interval", json_object_new_double(p->sb_interval));
        json_object_object_add(so, "width", json_object_new_int(p->sb_width));
        json_object_object_add(o, "storyboard", so);
    }
    if (p->audio_only != d.audio_only)
        json_object_object_add(o, "audio_only", json_object_new_boolean(p->audio_only));
    if (p->encryption != d.encryption)
        json_object_object_add(o, "encryption", json_object_new_string(encryptions[p->encryption]));
    return o;
}

bool profile_name_ok(const char *name)
{
    if (!name || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return false;
    size_t n = 0;
    for (const char *s = name; *s; s++, n++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n <= PROFILE_NAME_MAX;
}
