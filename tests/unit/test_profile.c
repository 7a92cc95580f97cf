/* Encode profiles (app/profile.h): the JSON form read and written, names,
 * and what every encoder refuses. */
#include <json-c/json.h>
#include <string.h>

#include "check.h"
#include "profile.h"

/* Parses text as the spec of a profile named name; returns profile_parse's
 * answer, the reason in err. */
static int parse(const char *name, const char *text, profile *p, char *err, size_t cap)
{
    json_object *spec = json_tokener_parse(text);
    err[0] = '\0';
    int r = profile_parse(name, spec, p, err, cap);
    json_object_put(spec);
    return r;
}

static void test_good(void)
{
    profile p;
    char err[256];
    CHECK_INT(parse("web",
                    "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360},"
                    " {\"height\": 720, \"video_kbps\": 2800, \"codec\": \"h265\","
                    " \"audio_kbps\": -1}, {\"width\": 480, \"height\": 480}]}",
                    &p, err, sizeof err),
              0);
    CHECK_STR(err, "");
    CHECK_STR(p.name, "web");
    CHECK_STR(p.encoder, "local");
    CHECK_INT(p.nrend, 3);
    /* tallest first */
    CHECK_INT(p.rend[0].height, 720);
    CHECK_INT(p.rend[0].video_kbps, 2800);
    CHECK_STR(p.rend[0].codec, "h265");
    CHECK_INT(p.rend[0].audio_kbps, -1);
    CHECK_INT(p.rend[1].height, 480);
    CHECK_INT(p.rend[1].width, 480);
    CHECK_INT(p.rend[2].height, 360);
    CHECK_INT(p.rend[2].width, 0);
    CHECK_STR(p.rend[2].codec, "h264");
    CHECK_INT(p.rend[2].video_kbps, 0);
    CHECK_INT(p.rend[2].audio_kbps, 0);
    CHECK(p.hls);
    CHECK(!p.mp4); /* packaging: hls when absent */

    CHECK_INT(parse("w",
                    "{\"encoder\": \"mux\", \"renditions\": [{\"width\": 1280}],"
                    " \"packaging\": [\"mp4\", \"hls\"]}",
                    &p, err, sizeof err),
              0);
    CHECK(p.hls && p.mp4);
    CHECK_INT(p.rend[0].width, 1280);
}

/* profile_json's form reads back into the same profile, its name taken
 * from the "name" member when none is given (a create task's snapshot). */
static void test_round_trip(void)
{
    profile p, q;
    char err[256];
    CHECK_INT(parse("a.b_c-1",
                    "{\"encoder\": \"zencoder\", \"renditions\": [{\"height\": 240,"
                    " \"audio_kbps\": 64}, {\"height\": 1080, \"width\": 1920,"
                    " \"video_kbps\": 5000}], \"packaging\": [\"hls\", \"mp4\"]}",
                    &p, err, sizeof err),
              0);
    json_object *o = profile_json(&p);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    CHECK_HAS(text, "\"name\":\"a.b_c-1\"");
    CHECK_HAS(text, "\"packaging\":[\"hls\",\"mp4\"]");
    CHECK_INT(profile_parse(NULL, o, &q, err, sizeof err), 0);
    CHECK(memcmp(&p, &q, sizeof p) == 0);
    CHECK_INT(profile_parse("a.b_c-1", o, &q, err, sizeof err), 0);
    /* a snapshot named otherwise is refused */
    CHECK_INT(profile_parse("other", o, &q, err, sizeof err), -1);
    CHECK_HAS(err, "name");
    json_object_put(o);
}

static void test_refused(void)
{
    static const struct {
        const char *name, *spec, *why;
    } cases[] = {
        {"x", "[]", "JSON object"},
        {"x", "{\"encoder\": \"local\"}", "renditions"},
        {"x", "{\"renditions\": [{\"height\": 360}]}", "encoder"},
        {"x", "{\"encoder\": \"ffmpeg\", \"renditions\": [{\"height\": 360}]}", "no encoder"},
        {"x", "{\"encoder\": \"local\\u0000x\", \"renditions\": [{\"height\": 360}]}", "encoder"},
        {"x", "{\"encoder\": 1, \"renditions\": [{\"height\": 360}]}", "encoder"},
        {"x", "{\"encoder\": \"local\", \"renditions\": []}", "1 to 8"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [1]}", "renditions[0] must be an object"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{}]}", "neither height nor width"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 361}]}", "even"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 8}]}", "16 to 8192"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"width\": 9000}]}", "16 to 8192"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360.0}]}", "integer"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": \"360\"}]}", "integer"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 99999999999999999999}]}",
         "integer"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360, \"video_kbps\": -1}]}",
         "video_kbps"},
        {"x",
         "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360,"
         " \"video_kbps\": 100001}]}",
         "video_kbps"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360, \"audio_kbps\": -2}]}",
         "audio_kbps"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360, \"codec\": \"vp9\"}]}",
         "codec"},
        {"x",
         "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360,"
         " \"codec\": \"h264\\u0000\"}]}",
         "codec"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360, \"video_kpbs\": 1}]}",
         "unknown member \"video_kpbs\""},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}], \"extra\": 1}",
         "unknown member \"extra\""},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}, {\"height\": 360}]}",
         "same size"},
        {"x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}], \"packaging\": []}",
         "at least one"},
        {"x",
         "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}],"
         " \"packaging\": [\"dash\"]}",
         "packaging[0]"},
        {"x",
         "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}],"
         " \"packaging\": [\"hls\", \"hls\"]}",
         "twice"},
        {"x",
         "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}],"
         " \"packaging\": \"hls\"}",
         "packaging"},
        {"Bad", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}]}", "name"},
        {NULL, "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}]}", "name"},
        {"x", "{\"name\": \"../x\", \"encoder\": \"local\", \"renditions\": [{\"height\": 360}]}",
         "name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        profile p;
        char err[256];
        if (!CHECK_INT(parse(cases[i].name, cases[i].spec, &p, err, sizeof err), -1))
            fprintf(stderr, "  spec: %s\n", cases[i].spec);
        if (!CHECK_HAS(err, cases[i].why))
            fprintf(stderr, "  spec: %s\n", cases[i].spec);
    }
    /* nine renditions */
    char spec[1024] = "{\"encoder\": \"local\", \"renditions\": [";
    for (int i = 0; i < 9; i++)
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s{\"height\": %d}",
                 i ? ", " : "", 200 + 20 * i);
    strcat(spec, "]}");
    profile p;
    char err[256];
    CHECK_INT(parse("x", spec, &p, err, sizeof err), -1);
    CHECK_HAS(err, "1 to 8");
    /* a hostile member name stays one quoted line in the reason */
    CHECK_INT(parse("x", "{\"enc\\noder\\\"\": 1}", &p, err, sizeof err), -1);
    CHECK_LACKS(err, "\n");
    CHECK_HAS(err, "\"enc\\noder\\\"\"");
    /* so does a hostile encoder name (found by fuzz-profile) */
    CHECK_INT(parse("x", "{\"encoder\": \"\\n\\u001blocal\", \"renditions\": [{\"height\": 16}]}", &p,
                    err, sizeof err),
              -1);
    CHECK_LACKS(err, "\n");
    CHECK_LACKS(err, "\x1b");
    CHECK_HAS(err, "no encoder is named \"\\n\\u001blocal\"");
    /* a short err buffer is filled, never overrun */
    char small[8];
    CHECK_INT(parse("x", "{}", &p, small, sizeof small), -1);
    CHECK_INT(strlen(small), sizeof small - 1);
}

/* The extras (poster, storyboard, audio-only, encryption): defaults,
 * values read, the JSON form read back, and hostile values refused. */
static void test_extras(void)
{
    profile p, q;
    char err[256];
    CHECK_INT(parse("x", "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}]}", &p, err,
                    sizeof err),
              0);
    CHECK(p.poster && p.poster_time < 0 && p.storyboard && p.sb_interval == 0 && p.sb_width == 160);
    CHECK(p.audio_only && p.encryption == PROFILE_ENC_AUTO);
    CHECK_INT(parse("x",
                    "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}],"
                    " \"poster\": {\"time\": 0}, \"storyboard\": {\"interval\": 2.5, \"width\": 120},"
                    " \"audio_only\": false, \"encryption\": \"aes-128\"}",
                    &p, err, sizeof err),
              0);
    CHECK(p.poster && p.poster_time == 0 && p.sb_interval == 2.5 && p.sb_width == 120);
    CHECK(!p.audio_only && p.encryption == PROFILE_ENC_AES128);
    json_object *o = profile_json(&p);
    CHECK_INT(profile_parse(NULL, o, &q, err, sizeof err), 0);
    CHECK(memcmp(&p, &q, sizeof p) == 0);
    json_object_put(o);
    CHECK_INT(parse("x",
                    "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}],"
                    " \"poster\": false, \"storyboard\": false}",
                    &p, err, sizeof err),
              0);
    CHECK(!p.poster && !p.storyboard);
    o = profile_json(&p);
    CHECK_INT(profile_parse(NULL, o, &q, err, sizeof err), 0);
    CHECK(memcmp(&p, &q, sizeof p) == 0);
    json_object_put(o);

    static const struct {
        const char *member, *why;
    } bad[] = {
        {"\"poster\": true", NULL}, /* accepted: on, time chosen */
        {"\"poster\": null", "poster must be false or"},
        {"\"poster\": \"yes\"", "poster must be false or"},
        {"\"poster\": {\"time\": -1}", "poster.time must be between 0 and 86400"},
        {"\"poster\": {\"time\": 1e400}", "poster.time"},
        {"\"poster\": {\"time\": \"2\"}", "poster.time must be a number"},
        {"\"poster\": {\"at\": 2}", "unknown member \"at\""},
        {"\"storyboard\": {\"interval\": 0}", "storyboard.interval must be between 0.5 and 600"},
        {"\"storyboard\": {\"interval\": 601}", "storyboard.interval"},
        {"\"storyboard\": {\"width\": 31}", "storyboard.width must be between 32 and 640"},
        {"\"storyboard\": {\"width\": 100000}", "storyboard.width"},
        {"\"storyboard\": {\"width\": 161}", "even whole number"},
        {"\"storyboard\": {\"width\": 160.5}", "even whole number"},
        {"\"storyboard\": {\"rows\": 100}", "unknown member \"rows\""},
        {"\"storyboard\": [1]", "storyboard must be false or"},
        {"\"audio_only\": 1", "audio_only must be true or false"},
        {"\"audio_only\": \"true\"", "audio_only must be true or false"},
        {"\"encryption\": \"AES-128\"", "encryption must be"},
        {"\"encryption\": \"aes-128\\u0000\"", "encryption must be"},
        {"\"encryption\": true", "encryption must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char spec[300];
        snprintf(spec, sizeof spec, "{\"encoder\": \"local\", \"renditions\": [{\"height\": 360}], %s}",
                 bad[i].member);
        int want = bad[i].why ? -1 : 0;
        if (!CHECK_INT(parse("x", spec, &p, err, sizeof err), want) ||
            (bad[i].why && !CHECK_HAS(err, bad[i].why)))
            fprintf(stderr, "  spec: %s (%s)\n", spec, err);
        if (bad[i].why)
            CHECK_LACKS(err, "\n");
    }
}

static void test_names(void)
{
    CHECK(profile_name_ok("default"));
    CHECK(profile_name_ok("0"));
    CHECK(profile_name_ok("hd-1080.mp4_v2"));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    CHECK(profile_name_ok(longest));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    CHECK(!profile_name_ok(too_long));
    CHECK(!profile_name_ok(""));
    CHECK(!profile_name_ok(NULL));
    CHECK(!profile_name_ok("-x"));
    CHECK(!profile_name_ok(".x"));
    CHECK(!profile_name_ok("X"));
    CHECK(!profile_name_ok("a b"));
    CHECK(!profile_name_ok("a/b"));
    CHECK(!profile_name_ok("\xc3\xa9"));
}

int main(void)
{
    test_good();
    test_round_trip();
    test_refused();
    test_extras();
    test_names();
    return CHECK_DONE("profile");
}
