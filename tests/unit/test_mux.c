/* The mux encoder's pure parts (app/encoders/mux.c, included to reach its
 * statics): which profiles Mux can honour, the create body, and how the
 * webhook parser (app/notify/mux.c) names a job mediagate made. */
#include <json-c/json.h>

#include "check.h"
#include "../../app/encoders/mux.c"

static int checked(const char *spec, char *err, size_t cap)
{
    profile p;
    json_object *o = json_tokener_parse(spec);
    err[0] = '\0';
    int r = profile_parse("p", o, &p, err, cap);
    json_object_put(o);
    return r == 0 ? check(NULL, &p, err, cap) : -2;
}

static void test_check(void)
{
    char err[300];
    CHECK_INT(checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080}]}", err,
                      sizeof err),
              0);
    CHECK_INT(checked("{\"encoder\": \"mux\", \"renditions\": [{\"width\": 3840}],"
                      " \"packaging\": [\"hls\", \"mp4\"]}",
                      err, sizeof err),
              0);
    CHECK_INT(
        checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1440, \"width\": 2560}]}",
                err, sizeof err),
        0);
    /* A ladder: Mux makes its own. */
    CHECK_INT(
        checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080}, {\"height\": 720}]}",
                err, sizeof err),
        -1);
    CHECK_HAS(err, "one rendition");
    CHECK_INT(checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 720}]}", err,
                      sizeof err),
              -1);
    CHECK_HAS(err, "max_resolution_tier");
    CHECK_INT(
        checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080, \"width\": 1280}]}",
                err, sizeof err),
        -1);
    CHECK_INT(
        checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080, \"codec\": \"h265\"}]}",
                err, sizeof err),
        -1);
    CHECK_HAS(err, "h265");
    CHECK_INT(
        checked(
            "{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080, \"video_kbps\": 5000}]}",
            err, sizeof err),
        -1);
    CHECK_HAS(err, "bitrates");
    CHECK_INT(
        checked("{\"encoder\": \"mux\", \"renditions\": [{\"height\": 1080, \"audio_kbps\": -1}]}",
                err, sizeof err),
        -1);
}

static const char *body_text(json_object *b)
{
    return json_object_to_json_string_ext(b,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_create_body(void)
{
    profile p = {.name = "hd",
                 .encoder = "mux",
                 .nrend = 1,
                 .hls = true,
                 .rend = {{.height = 1080, .codec = "h264"}}};
    encode_job job = {.id = "6b1f8a52-1c3e-4f7a-9d2b-0c5e8f1a2b3c",
                      .input_url = "https://store.example/in?X-Amz-Signature=ab&X-Amz-Expires=3600",
                      .profile = &p};
    json_object *b = create_body(&job);
    CHECK_STR(
        body_text(b),
        "{\"inputs\":[{\"url\":\"https://store.example/in?X-Amz-Signature=ab&X-Amz-Expires=3600\"}],"
        "\"playback_policies\":[\"public\"],"
        "\"passthrough\":\"6b1f8a52-1c3e-4f7a-9d2b-0c5e8f1a2b3c\","
        "\"max_resolution_tier\":\"1080p\"}");
    json_object_put(b);
    /* An ACL that admits not everyone: a signed playback id; MP4 asked. */
    job.acl = "USER_alice,GROUP_staff";
    p.mp4 = true;
    p.rend[0] = (rendition){.width = 3840, .codec = "h264"};
    b = create_body(&job);
    CHECK_HAS(body_text(b), "\"playback_policies\":[\"signed\"]");
    CHECK_HAS(body_text(b), "\"max_resolution_tier\":\"2160p\"");
    CHECK_HAS(body_text(b), "\"static_renditions\":[{\"resolution\":\"highest\"}]");
    json_object_put(b);
    job.acl = "WORLD";
    b = create_body(&job);
    CHECK_HAS(body_text(b), "\"playback_policies\":[\"public\"]");
    json_object_put(b);
}

/* The event mux_parse makes of text. */
static json_object *parsed(const char *text)
{
    char id[128], err[256];
    json_object *root = json_tokener_parse(text), *ev = json_object_new_object();
    CHECK(root != NULL);
    CHECK_INT(mux_parse(root, ev, id, sizeof id, err, sizeof err), 0);
    json_object_put(root);
    return ev;
}

static void test_parser_names_our_job(void)
{
    /* passthrough = a UUID: a job id mediagate gave, or anyone's own. The
     * event is anyone's (create, the input), and "mediagate_job" says what
     * it is when the database has a job mediagate made with that id. */
    json_object *ev = parsed(
        "{\"type\": \"video.asset.ready\", \"id\": \"e1\", \"data\": {\"id\": \"AssetA1\","
        " \"status\": \"ready\", \"passthrough\": \"6b1f8a52-1c3e-4f7a-9d2b-0c5e8f1a2b3c\","
        " \"playback_ids\": [{\"id\": \"SignedP1\", \"policy\": \"signed\"}]}}");
    CHECK(!json_object_object_get_ex(ev, "mediagate_job_id", NULL));
    CHECK_STR(jstr_or(ev, "backend_job_id", NULL), "AssetA1");
    CHECK(json_object_object_get_ex(ev, "create", NULL));
    CHECK_STR(jstr_or(ev, "input_file", NULL), "6b1f8a52-1c3e-4f7a-9d2b-0c5e8f1a2b3c");
    CHECK_STR(jstr_or(ev, "status", NULL), "COMPLETE");
    CHECK(!json_object_object_get_ex(ev, "output_path", NULL)); /* anyone's: a signed id, none */
    json_object *mine, *pl;
    CHECK(json_object_object_get_ex(ev, "mediagate_job", &mine));
    CHECK_STR(jstr_or(mine, "mediagate_job_id", NULL), "6b1f8a52-1c3e-4f7a-9d2b-0c5e8f1a2b3c");
    /* Mediagate's job: its signed playback id says where it plays. */
    CHECK_STR(jstr_or(mine, "output_path", NULL), "https://stream.mux.com/");
    CHECK(json_object_object_get_ex(mine, "playlists", &pl));
    CHECK_STR(jstr_or(pl, ".m3u8", NULL), "SignedP1.m3u8");
    json_object_put(ev);

    /* Anyone else's passthrough names the input, as before. */
    ev = parsed("{\"type\": \"video.asset.ready\", \"id\": \"e2\", \"data\": {\"id\": \"AssetB2\","
                " \"status\": \"ready\", \"passthrough\": \"talk.mp4\","
                " \"playback_ids\": [{\"id\": \"SignedP2\", \"policy\": \"signed\"}]}}");
    CHECK(!json_object_object_get_ex(ev, "mediagate_job_id", NULL));
    CHECK(!json_object_object_get_ex(ev, "mediagate_job", NULL));
    CHECK_STR(jstr_or(ev, "input_file", NULL), "talk.mp4");
    CHECK(json_object_object_get_ex(ev, "create", NULL));
    CHECK(!json_object_object_get_ex(ev, "output_path", NULL)); /* a signed id: none */
    json_object_put(ev);
}

/* The API's asset has created_at as a string of Unix seconds. */
static void test_times(void)
{
    json_object *ev = parsed("{\"type\": \"video.asset.created\", \"id\": \"e3\","
                             " \"data\": {\"id\": \"AssetC3\", \"status\": \"preparing\","
                             " \"created_at\": \"1521503163\"}}");
    CHECK_STR(jstr_or(ev, "event_time", NULL), "2018-03-19T23:46:03.000Z");
    json_object_put(ev);
    ev = parsed("{\"type\": \"video.asset.created\", \"id\": \"e4\","
                " \"data\": {\"id\": \"AssetC4\", \"created_at\": 1521503163}}");
    CHECK_STR(jstr_or(ev, "event_time", NULL), "2018-03-19T23:46:03.000Z");
    json_object_put(ev);
    char id[64], err[256];
    json_object *root = json_tokener_parse("{\"type\": \"video.asset.created\", \"data\":"
                                           " {\"id\": \"A\", \"created_at\": \"99999999999999\"}}");
    ev = json_object_new_object();
    CHECK_INT(mux_parse(root, ev, id, sizeof id, err, sizeof err), -1);
    json_object_put(ev);
    json_object_put(root);
}

/* Mux's messages quoting the signed input lose the URL. */
static void test_scrub(void)
{
    const char *url = "https://store.example/b/uploads/u1/talk.mp4?X-Amz-Signature=abc&X-Amz-Expires=9";
    char t[200];
    snprintf(t, sizeof t, "HTTP 400 invalid_parameters: Could not download %s: 403", url);
    scrub_url(t, sizeof t, url);
    CHECK_STR(t, "HTTP 400 invalid_parameters: Could not download <input URL>: 403");
    /* Quoted twice, once without its query, once cut short. */
    snprintf(t, sizeof t, "[%s] and 'https://store.example/b/uploads/u1/talk.mp4' x", url);
    scrub_url(t, sizeof t, url);
    CHECK_STR(t, "[<input URL>] and '<input URL>' x");
    /* A buffer just large enough for the message. */
    char small[46];
    snprintf(small, sizeof small, "x https://store.example/b/uploads/u1/talk.mp4");
    scrub_url(small, sizeof small, url);
    CHECK_STR(small, "x <input URL>");
    snprintf(t, sizeof t, "nothing to hide");
    scrub_url(t, sizeof t, url);
    scrub_url(t, sizeof t, NULL);
    CHECK_STR(t, "nothing to hide");
}

int main(void)
{
    test_check();
    test_create_body();
    test_parser_names_our_job();
    test_times();
    test_scrub();
    return CHECK_DONE("test_mux");
}
