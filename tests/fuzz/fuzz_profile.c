/* libFuzzer harness: the input as a profile's spec (profile_parse). A
 * spec taken holds what profile.h promises (1 to 8 renditions of even
 * sizes in range, tallest first, known codecs, some packaging) and reads
 * back from profile_json into the same profile; a refusal says why on one
 * line. The encoders' table is stubbed: its rows pull in every client. */
#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"
#include "encoders/encoder.h"

static const encoder stub_local = {.name = "local"}, stub_mux = {.name = "mux"};

const encoder *encoder_find(const char *name)
{
    if (name && strcmp(name, "local") == 0)
        return &stub_local;
    return name && strcmp(name, "mux") == 0 ? &stub_mux : NULL;
}

static int key(const rendition *r)
{
    return r->height ? r->height : r->width;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *spec = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    profile p, q;
    char err[256] = "";
    if (profile_parse("fuzz", spec, &p, err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] && !strchr(err, '\n'));
        json_object_put(spec);
        return 0;
    }
    FUZZ_ASSERT(p.nrend >= 1 && p.nrend <= PROFILE_MAX_RENDITIONS && (p.hls || p.mp4));
    for (int i = 0; i < p.nrend; i++) {
        const rendition *r = &p.rend[i];
        FUZZ_ASSERT(r->height || r->width);
        FUZZ_ASSERT(r->height % 2 == 0 && r->width % 2 == 0);
        FUZZ_ASSERT(r->height <= 8192 && r->width <= 8192);
        FUZZ_ASSERT(strcmp(r->codec, "h264") == 0 || strcmp(r->codec, "h265") == 0);
        FUZZ_ASSERT(r->audio_kbps >= -1 && r->video_kbps >= 0);
        FUZZ_ASSERT(i == 0 || key(&p.rend[i - 1]) >= key(r));
    }
    json_object *j = profile_json(&p);
    FUZZ_ASSERT(profile_parse(NULL, j, &q, err, sizeof err) == 0);
    FUZZ_ASSERT(memcmp(&p, &q, sizeof p) == 0);
    json_object_put(j);
    json_object_put(spec);
    return 0;
}
