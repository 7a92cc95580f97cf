/* The Zencoder encoder's row (app/encoders/zencoder.c) without the network:
 * what it refuses, the job it asks for, a job's details read as a
 * notification. The calls themselves are tested end to end against a
 * stand-in (tests/pytest/test_zencoder_encoder.py). */
#include "../../app/encoders/zencoder.c"

#include "check.h"

static profile ladder(const char *codec, bool hls, bool mp4)
{
    profile p = {.name = "z", .encoder = "zencoder", .nrend = 2, .hls = hls, .mp4 = mp4};
    p.rend[0] = (rendition){.height = 720, .video_kbps = 2800, .audio_kbps = 128};
    p.rend[1] = (rendition){.width = 640, .height = 360, .audio_kbps = -1};
    snprintf(p.rend[0].codec, sizeof p.rend[0].codec, "h264");
    snprintf(p.rend[1].codec, sizeof p.rend[1].codec, "%s", codec);
    return p;
}

static void test_check(void)
{
    config cfg = {0};
    char err[200] = "";
    profile p = ladder("h264", true, true);
    CHECK_INT(check(&cfg, &p, err, sizeof err), 0);
    p = ladder("h265", false, true);
    CHECK_INT(check(&cfg, &p, err, sizeof err), 0);
    p = ladder("h265", true, false);
    CHECK_INT(check(&cfg, &p, err, sizeof err), -1);
    CHECK(strstr(err, "rendition 2: ") == err);
}

/* The create body of p as text. */
static const char *body_of(json_object **b, const config *cfg, const profile *p,
                           const char *notify)
{
    encode_job job = {.id = "j-1", .input_url = "https://in.example/x?sig=1", .profile = p,
                      .notify_url = notify, .destination = "s3://b/media/j-1/"};
    *b = create_body(cfg, &job, job.destination);
    return json_object_to_json_string_ext(*b, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_create_body(void)
{
    config cfg = {.zencoder_secret = "s3cr3t-0123456789"};
    json_object *b;
    profile p = ladder("h264", true, true);
    CHECK_STR(body_of(&b, &cfg, &p, "https://m.example/notifications/zencoder"),
              "{\"input\":\"https://in.example/x?sig=1\",\"pass_through\":\"j-1\",\"outputs\":["
              "{\"label\":\"v0\",\"url\":\"s3://b/media/j-1/v0/index.m3u8\",\"type\":\"segmented\","
              "\"format\":\"ts\",\"video_codec\":\"h264\",\"height\":720,\"upscale\":false,"
              "\"video_bitrate\":2800,\"audio_bitrate\":128},"
              "{\"label\":\"v1\",\"url\":\"s3://b/media/j-1/v1/index.m3u8\",\"type\":\"segmented\","
              "\"format\":\"ts\",\"video_codec\":\"h264\",\"width\":640,\"height\":360,"
              "\"upscale\":false,\"skip_audio\":true},"
              "{\"label\":\"master\",\"type\":\"playlist\",\"url\":\"s3://b/media/j-1/master.m3u8\","
              "\"streams\":[{\"path\":\"v0/index.m3u8\",\"bandwidth\":2928},{\"path\":\"v1/index.m3u8\"}]},"
              "{\"label\":\"mp4-0\",\"url\":\"s3://b/media/j-1/v0.mp4\",\"format\":\"mp4\","
              "\"video_codec\":\"h264\",\"height\":720,\"upscale\":false,\"video_bitrate\":2800,"
              "\"audio_bitrate\":128},"
              "{\"label\":\"mp4-1\",\"url\":\"s3://b/media/j-1/v1.mp4\",\"format\":\"mp4\","
              "\"video_codec\":\"h264\",\"width\":640,\"height\":360,\"upscale\":false,"
              "\"skip_audio\":true}],"
              "\"notifications\":[{\"format\":\"json\",\"url\":\"https://m.example/notifications/zencoder\","
              "\"headers\":{\"X-Zencoder-Notification-Secret\":\"s3cr3t-0123456789\"}}]}");
    json_object_put(b);
    /* No notification URL, or no secret to send with it: none asked. */
    const char *s = body_of(&b, &cfg, &p, NULL);
    CHECK(strstr(s, "notifications") == NULL);
    json_object_put(b);
    cfg.zencoder_secret = "";
    s = body_of(&b, &cfg, &p, "https://m.example/notifications/zencoder");
    CHECK(strstr(s, "notifications") == NULL);
    json_object_put(b);
}

/* A finished job's details (the documented body's shape, with an HLS
 * master) read as its notification. */
static void test_details(void)
{
    const char *text =
        "{\"job\": {\"id\": 45491013, \"state\": \"finished\", \"pass_through\": \"j-1\","
        " \"updated_at\": \"2013-05-04T21:37:12-07:00\","
        " \"input_media_file\": {\"duration_in_ms\": 5067, \"width\": 1280},"
        " \"output_media_files\": ["
        "  {\"format\": null, \"label\": \"master\", \"url\": \"s3://b/o/master.m3u8\","
        "   \"file_size_bytes\": 199, \"width\": null, \"height\": null},"
        "  {\"format\": \"mpeg-ts\", \"label\": \"v0\", \"url\": \"s3://b/o/v0/index.m3u8\","
        "   \"file_size_bytes\": 2223629, \"width\": 1280, \"height\": 720}]}}";
    json_object *root = json_tokener_parse(text), *job, *n, *ev = json_object_new_object();
    char err[200] = "";
    CHECK(json_object_object_get_ex(root, "job", &job));
    n = details_as_notification(job);
    CHECK_INT(zencoder_parse(n, ev, NULL, 0, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE),
              "{\"backend_job_id\":\"45491013\",\"status\":\"COMPLETE\",\"mediagate_job_id\":\"j-1\","
              "\"event_time\":\"2013-05-04T21:37:12-07:00\",\"duration_ms\":5067,"
              "\"output_path\":\"s3://b/o/\",\"width_px\":1280,\"height_px\":720,"
              "\"outputs_by_format\":[{\"format\":\"mpeg-ts\",\"width\":1280,\"height\":720,"
              "\"file_size_in_bytes\":2223629,\"label\":\"v0\",\"url\":\"s3://b/o/v0/index.m3u8\"}],"
              "\"playlists\":{\".m3u8\":\"master.m3u8\"}}");
    json_object_put(ev);
    json_object_put(n);
    json_object_put(root);
}

/* A failed job's details read as its notification: the outputs' error. */
static void test_details_failed(void)
{
    const char *text =
        "{\"job\": {\"id\": 7, \"state\": \"failed\", \"pass_through\": null,"
        " \"input_media_file\": {\"state\": \"failed\"},"
        " \"output_media_files\": [{\"format\": \"mpeg4\", \"state\": \"failed\","
        "   \"error_message\": \"The file is an unrecognized format.\"}]}}";
    json_object *root = json_tokener_parse(text), *job, *n, *ev = json_object_new_object();
    char err[200] = "";
    CHECK(json_object_object_get_ex(root, "job", &job));
    n = details_as_notification(job);
    CHECK_INT(zencoder_parse(n, ev, NULL, 0, err, sizeof err), 0);
    CHECK_STR(jstr_or(ev, "status", NULL), "ERROR");
    CHECK_STR(jstr_or(ev, "error_message", NULL), "The file is an unrecognized format.");
    CHECK(!json_object_object_get_ex(ev, "mediagate_job_id", NULL));
    json_object_put(ev);
    json_object_put(n);
    json_object_put(root);
}

int main(void)
{
    test_details_failed();
    test_check();
    test_create_body();
    test_details();
    return CHECK_DONE("zencoder");
}
