/* What the local encoder makes beside the ladder (app/worker/extras.h):
 * the plan from a profile, the poster's choice among its candidates, the
 * storyboard's WebVTT, and the JPEG and MP4 read-backs on hostile bytes. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "worker/extras.h"

static char dir[] = "/tmp/mg-test-extras.XXXXXX";

static void write_file(const char *name, const void *data, size_t len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void test_plan(void)
{
    extras_plan x;
    profile p;
    /* no profile: the defaults; the poster a little in, 1 s tiles of 160 px */
    extras_plan_make(NULL, 1280, 720, 8, true, 1280, 720, 128, &x);
    CHECK(x.poster && x.storyboard && x.audio_only);
    CHECK(x.poster_t == 2 && x.poster_w == 1280 && x.poster_h == 720);
    CHECK(x.sb_interval == 1 && x.sb_tiles == 8 && x.sb_cols == 8 && x.sb_rows == 1);
    CHECK(x.sb_w == 160 && x.sb_h == 90);
    CHECK_INT(x.audio_only_kbps, 128);
    CHECK_INT(x.poster_step, 1);
    /* a long video: the candidates after the fifth spread over the rest (a
     * black start longer than five seconds): 2..6 s, then 4 s apart */
    extras_plan_make(NULL, 1280, 720, 30, true, 1280, 720, 128, &x);
    CHECK_INT(x.poster_step, 4);
    /* a short video: a third in; a source without audio: no audio-only */
    extras_plan_make(NULL, 1280, 720, 3, false, 1280, 720, 0, &x);
    CHECK(x.poster_t == 1 && !x.audio_only);
    /* a long one: at most 100 tiles, 10 a row; the interval grows */
    extras_plan_make(NULL, 1280, 720, 3600, true, 1280, 720, 0, &x);
    CHECK(x.sb_interval == 36 && x.sb_tiles == 100 && x.sb_cols == 10 && x.sb_rows == 10);
    CHECK_INT(x.audio_only_kbps, 128);
    /* an asked interval too small for the sheet, an asked poster time past the end */
    profile_defaults(&p);
    p.sb_interval = 0.5;
    p.poster_time = 500;
    extras_plan_make(&p, 640, 480, 120, true, 640, 480, 64, &x);
    CHECK(x.sb_interval == 1.2 && x.sb_tiles == 100);
    CHECK(x.poster_t == 119.5);
    CHECK(x.sb_h == 120);
    /* a very tall source: tiles no more than twice as high as wide */
    extras_plan_make(&p, 16, 4096, 10, true, 16, 4096, 64, &x);
    CHECK(x.sb_h <= 2 * 160 && x.sb_w >= 2 && x.sb_w % 2 == 0 && x.sb_h % 2 == 0);
    /* an unknown duration: a bounded sheet all the same */
    extras_plan_make(&p, 640, 480, 0, true, 640, 480, 64, &x);
    CHECK(x.sb_tiles == 100 && x.poster_t == 500);
    /* switched off */
    p.poster = p.storyboard = p.audio_only = false;
    extras_plan_make(&p, 640, 480, 10, true, 640, 480, 64, &x);
    CHECK(!x.poster && !x.storyboard && !x.audio_only);
}

/* A minimal JPEG's markers: SOI, APP0, SOF0 (w x h), SOS, EOI. */
static size_t jpeg(unsigned char *b, int w, int h)
{
    static const unsigned char app0[] = {0xFF, 0xE0, 0, 4, 'J', 'F'};
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xD8;
    memcpy(b + n, app0, sizeof app0), n += sizeof app0;
    unsigned char sof[] = {0xFF, 0xC0, 0, 11, 8, (unsigned char)(h >> 8), (unsigned char)h,
                           (unsigned char)(w >> 8), (unsigned char)w, 1, 1, 0x11, 0};
    memcpy(b + n, sof, sizeof sof), n += sizeof sof;
    b[n++] = 0xFF, b[n++] = 0xDA, b[n++] = 0, b[n++] = 2;
    b[n++] = 0x12, b[n++] = 0x34;
    b[n++] = 0xFF, b[n++] = 0xD9;
    return n;
}

static void test_jpeg(void)
{
    unsigned char b[64];
    int w = 0, h = 0;
    size_t n = jpeg(b, 1600, 90);
    CHECK_INT(extras_jpeg_parse(b, n, &w, &h), 0);
    CHECK(w == 1600 && h == 90);
    CHECK_INT(extras_jpeg_parse(b, n - 1, &w, &h), -1); /* cut short: no EOI */
    CHECK_INT(extras_jpeg_parse(b, 2, &w, &h), -1);
    CHECK_INT(extras_jpeg_parse(b, 0, &w, &h), -1);
    b[9] = 0xFF; /* APP0's length now runs past the end */
    b[8] = 0xFF;
    CHECK_INT(extras_jpeg_parse(b, n, &w, &h), -1);
    n = jpeg(b, 0, 90); /* no width */
    CHECK_INT(extras_jpeg_parse(b, n, &w, &h), -1);
    /* every prefix and every byte changed: no crash, sizes only when whole */
    n = jpeg(b, 320, 240);
    for (size_t i = 0; i < n; i++) {
        unsigned char c[64];
        memcpy(c, b, n);
        for (int v = 0; v < 256; v += 51) {
            c[i] = (unsigned char)v;
            if (extras_jpeg_parse(c, n, &w, &h) == 0)
                CHECK(w > 0 && h > 0);
        }
        (void)extras_jpeg_parse(b, i, &w, &h);
    }
    write_file("s.jpg", b, n);
    char p[256];
    snprintf(p, sizeof p, "%s/s.jpg", dir);
    CHECK_INT(extras_jpeg_size(p, &w, &h), 0);
    CHECK(w == 320 && h == 240);
    snprintf(p, sizeof p, "%s/none.jpg", dir);
    CHECK_INT(extras_jpeg_size(p, &w, &h), -1);
}

/* A box of type t with len payload bytes of fill into b; returns its size. */
static size_t box(unsigned char *b, const char *t, const unsigned char *payload, size_t len)
{
    size_t n = 8 + len;
    b[0] = (unsigned char)(n >> 24), b[1] = (unsigned char)(n >> 16), b[2] = (unsigned char)(n >> 8),
    b[3] = (unsigned char)n;
    memcpy(b + 4, t, 4);
    if (payload)
        memcpy(b + 8, payload, len);
    else
        memset(b + 8, 0, len);
    return n;
}

/* An MP4 of ftyp, moov (mvhd: timescale 1000, duration ms) and mdat, the
 * moov first or last. */
static size_t mp4(unsigned char *b, bool moov_first, unsigned ms)
{
    unsigned char mvhd[100] = {0}, moov[200];
    mvhd[12 + 2] = 1000 >> 8, mvhd[12 + 3] = 1000 & 0xFF; /* version 0: timescale at 12 */
    mvhd[16] = (unsigned char)(ms >> 24), mvhd[17] = (unsigned char)(ms >> 16),
    mvhd[18] = (unsigned char)(ms >> 8), mvhd[19] = (unsigned char)ms;
    size_t ml = box(moov, "mvhd", mvhd, sizeof mvhd);
    size_t n = box(b, "ftyp", (const unsigned char *)"isom\0\0\0\0", 8);
    if (moov_first)
        n += box(b + n, "moov", moov, ml);
    n += box(b + n, "mdat", NULL, 50);
    if (!moov_first)
        n += box(b + n, "moov", moov, ml);
    return n;
}

static void test_mp4(void)
{
    unsigned char b[512];
    char p[256], why[160];
    double d = 0;
    snprintf(p, sizeof p, "%s/a.mp4", dir);
    size_t n = mp4(b, true, 8040);
    write_file("a.mp4", b, n);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), 0);
    CHECK(d > 8.03 && d < 8.05);
    write_file("a.mp4", b, n - 1); /* cut short */
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), -1);
    CHECK_STR(why, "is cut short or not an MP4");
    n = mp4(b, false, 8040);
    write_file("a.mp4", b, n);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), -1);
    CHECK_STR(why, "has its moov after its mdat (not faststart)");
    write_file("a.mp4", "", 0);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), -1);
    CHECK_STR(why, "is missing or empty");
    /* a box whose size runs past the end, one of size 0 (to the end), a
     * 64-bit size smaller than its header: refused, never read past */
    n = mp4(b, true, 1000);
    b[3] = 0xF0;
    write_file("a.mp4", b, n);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), -1);
    n = mp4(b, true, 1000);
    unsigned char big[16] = {0, 0, 0, 1, 'f', 'r', 'e', 'e', 0, 0, 0, 0, 0, 0, 0, 4};
    memcpy(b + n, big, sizeof big);
    write_file("a.mp4", b, n + sizeof big);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), -1);
    memcpy(b + n, "\0\0\0\0free", 8);
    write_file("a.mp4", b, n + 8);
    CHECK_INT(extras_mp4_check(p, &d, why, sizeof why), 0);
}

/* The poster: the first grey candidate that is not black; all black: the first. */
static void test_finish(void)
{
    unsigned char img[64], grey[4 * 32 * 32];
    size_t n = jpeg(img, 640, 360);
    extras_plan x = {.poster = true, .poster_t = 0.5, .poster_n = 10, .poster_w = 640,
                     .poster_h = 360, .storyboard = true, .sb_interval = 3, .sb_tiles = 3,
                     .sb_w = 160, .sb_h = 90, .sb_cols = 3, .sb_rows = 1};
    /* (the first of each: the source's first frame, never chosen) */
    for (int i = 1; i <= 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "poster-cand-%02d.jpg", i);
        write_file(name, img, n);
    }
    memset(grey, 2, sizeof grey);
    memset(grey, 200, 1024);
    memset(grey + 3 * 1024, 120, 1024); /* the third candidate is a picture */
    write_file("poster-cand.grey", grey, sizeof grey);
    n = jpeg(img, 480, 90);
    write_file("storyboard-sheet-1.jpg", img, n);
    write_file("storyboard-sheet-2.jpg", img, n);
    json_object *ex = json_object_new_object();
    extras_finish(dir, &x, 8.0004, ex, "test");
    const char *s = json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN);
    CHECK_HAS(s, "\"poster\":{\"file\":\"poster.jpg\",\"width\":640,\"height\":360,\"time_s\":2.5}");
    CHECK_HAS(s, "\"tile_width\":160,\"tile_height\":90,\"columns\":3,\"rows\":1,\"interval_s\":3");
    CHECK_LACKS(s, "missing");
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/poster-cand-01.jpg", dir);
    CHECK(stat(p, &st) != 0);
    snprintf(p, sizeof p, "%s/poster-cand.grey", dir);
    CHECK(stat(p, &st) != 0);
    snprintf(p, sizeof p, "%s/storyboard.vtt", dir);
    size_t len = 0;
    char *vtt = hls_read_file(p, 1 << 16, &len);
    CHECK_STR(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nstoryboard.jpg#xywh=0,0,160,90\n"
                   "\n00:00:03.000 --> 00:00:06.000\nstoryboard.jpg#xywh=160,0,160,90\n"
                   "\n00:00:06.000 --> 00:00:08.000\nstoryboard.jpg#xywh=320,0,160,90\n");
    free(vtt);
    json_object_put(ex);

    /* all black: the frame at the time; a sheet of the wrong size, and no
     * candidates at all: missing, with why, and no file left */
    n = jpeg(img, 640, 360);
    write_file("poster-cand-01.jpg", img, n);
    write_file("poster-cand-02.jpg", img, n);
    write_file("poster-cand-03.jpg", img, n);
    memset(grey, 0, sizeof grey);
    memset(grey, 200, 1024);
    write_file("poster-cand.grey", grey, 3 * 1024);
    n = jpeg(img, 478, 90);
    write_file("storyboard-sheet-1.jpg", img, n);
    write_file("storyboard-sheet-2.jpg", img, n);
    ex = json_object_new_object();
    extras_finish(dir, &x, 8, ex, "test");
    s = json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN);
    CHECK_HAS(s, "\"time_s\":0.5");
    CHECK_HAS(s, "\"missing\":[{\"output\":\"storyboard\"");
    CHECK_HAS(s, "\"missing\":[{\"output\":\"storyboard\",\"reason\":\"the storyboard's sprite "
                 "sheet could not be written\"}]");
    CHECK_LACKS(s, "\"storyboard\":{");
    snprintf(p, sizeof p, "%s/storyboard.jpg", dir);
    CHECK(stat(p, &st) != 0);
    json_object_put(ex);
    snprintf(p, sizeof p, "%s/storyboard-sheet-2.jpg", dir);
    CHECK(stat(p, &st) != 0);
    x.storyboard = false;
    write_file("poster-cand.grey", grey, 1024); /* only the source's first frame */
    ex = json_object_new_object();
    extras_finish(dir, &x, 8, ex, "test");
    CHECK_STR(json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN),
              "{\"missing\":[{\"output\":\"poster\",\"reason\":\"the video has no frame at 0.5 s "
              "to take it from\"}]}");
    json_object_put(ex);

    /* on an object store: every file name under the attempt's prefix */
    ex = json_object_new_object();
    json_object *po = json_object_new_object(), *sb = json_object_new_object(),
                *im = json_object_new_array(), *m = json_object_new_array(),
                *m0 = json_object_new_object();
    json_object_object_add(po, "file", json_object_new_string("poster.jpg"));
    json_object_object_add(ex, "poster", po);
    json_object_array_add(im, json_object_new_string("storyboard.jpg"));
    json_object_object_add(sb, "vtt", json_object_new_string("storyboard.vtt"));
    json_object_object_add(sb, "images", im);
    json_object_object_add(ex, "storyboard", sb);
    json_object_object_add(m0, "file", json_object_new_string("mp4/720p.mp4"));
    json_object_array_add(m, m0);
    json_object_object_add(ex, "mp4", m);
    extras_prefix(ex, "a2/");
    CHECK_STR(json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
              "{\"poster\":{\"file\":\"a2/poster.jpg\"},\"storyboard\":{\"vtt\":\"a2/storyboard.vtt\","
              "\"images\":[\"a2/storyboard.jpg\"]},\"mp4\":[{\"file\":\"a2/mp4/720p.mp4\"}]}");
    json_object_put(ex);
}

static void test_seconds_and_drop(void)
{
    /* seconds rounded to the millisecond, never 17 digits */
    const char *want[] = {"1.44", "2.5", "3", "0.001", "36"};
    double in[] = {1.4399999999999999, 2.5000000001, 3, 0.0009999, 36.0004};
    for (int i = 0; i < 5; i++) {
        json_object *v = extras_seconds(in[i]);
        CHECK_STR(json_object_to_json_string(v), want[i]);
        json_object_put(v);
    }
    /* the audio-only variant leaves the master; the others stay */
    const char *m = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2\n"
                    "v0/index.m3u8\n\n#EXT-X-STREAM-INF:BANDWIDTH=140800,CODECS=\"mp4a.40.2\"\n"
                    "v1/index.m3u8\n\n";
    write_file("master.m3u8", (const unsigned char *)m, strlen(m));
    CHECK_INT(extras_drop_variant(dir, 1), 0);
    char p[256], *got;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/master.m3u8", dir);
    got = hls_read_file(p, 1 << 16, &len);
    CHECK_STR(got, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2\n"
                   "v0/index.m3u8\n\n\n");
    free(got);
    CHECK_INT(extras_drop_variant(dir, 1), -1); /* no such variant: the master stays */
    unlink(p);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    test_plan();
    test_jpeg();
    test_mp4();
    test_finish();
    test_seconds_and_drop();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return CHECK_DONE("extras");
}
