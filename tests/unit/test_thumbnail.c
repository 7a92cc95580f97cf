/* The thumbnail.make kind's pure parts (app/worker/thumbnail.c): the top
 * rendition named by a master playlist, the segment of a media playlist
 * that holds a time with its encryption (IV given or the media sequence
 * number), and the JPEG check. */
#include "../../app/worker/thumbnail.c"

#include "check.h"

#define JOB "5f0c3d1e-8a6b-4c2d-9e1f-000000000001"

static void test_top_playlist(void)
{
    char key[300];
    const char *local = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,"
                        "RESOLUTION=640x360\nv0/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n"
                        "v1/index.m3u8\n";
    CHECK_INT(top_playlist(JOB, local, strlen(local), key, sizeof key), 0);
    CHECK_STR(key, "media/" JOB "/v0/index.m3u8");
    /* In a bucket, behind a subtitles group, with CRLF. */
    const char *s3 =
        "#EXTM3U\r\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",URI=\"captions/en.m3u8\""
        "\r\n#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"subs\"\r\na2/v0/index.m3u8\r\n";
    CHECK_INT(top_playlist(JOB, s3, strlen(s3), key, sizeof key), 0);
    CHECK_STR(key, "media/" JOB "/a2/v0/index.m3u8");
    const char *bad[] = {
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../other/v0/index.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n/etc/v0/index.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0//index.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://evil.example/v0/index.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/seg000.ts\n",
        "#EXTM3U\nv0/index.m3u8\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(top_playlist(JOB, bad[i], strlen(bad[i]), key, sizeof key), -1);
}

static void test_locate(void)
{
    thumb_seg s;
    const char *clear = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
                        "#EXTINF:4.000000,\nseg000.ts\n#EXTINF:4.000000,\nseg001.ts\n"
                        "#EXTINF:2.500000,\nseg002.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(thumb_locate(clear, strlen(clear), 0, &s), 0);
    CHECK_STR(s.name, "seg000.ts");
    CHECK(s.offset == 0 && !s.encrypted);
    CHECK_INT(thumb_locate(clear, strlen(clear), 4, &s), 0);
    CHECK_STR(s.name, "seg001.ts");
    CHECK(s.offset == 0);
    CHECK_INT(thumb_locate(clear, strlen(clear), 9, &s), 0);
    CHECK_STR(s.name, "seg002.ts");
    CHECK(s.offset == 1 && s.duration == 2.5);
    /* Past the end: the last segment, a little before its end. */
    CHECK_INT(thumb_locate(clear, strlen(clear), 20, &s), 0);
    CHECK_STR(s.name, "seg002.ts");
    CHECK(s.offset > 2.3 && s.offset < 2.5);

    const char *iv = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n"
                     "#EXT-X-KEY:METHOD=AES-128,URI=\"https://v.example/media/key/" JOB "/3\","
                     "IV=0x000102030405060708090a0b0c0d0e0f\n"
                     "#EXTINF:4,\nseg000.ts\n#EXTINF:4,\nseg001.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(thumb_locate(iv, strlen(iv), 5, &s), 0);
    CHECK_STR(s.name, "seg001.ts");
    CHECK(s.encrypted);
    CHECK_INT(s.key_n, 3);
    CHECK(s.iv[0] == 0 && s.iv[1] == 1 && s.iv[15] == 15);
    /* No IV: the segment's media sequence number, big-endian. */
    const char *seq = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n"
                      "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/" JOB "/12\"\n"
                      "#EXTINF:4,\nseg000.ts\n#EXTINF:4,\nseg001.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(thumb_locate(seq, strlen(seq), 5, &s), 0);
    CHECK_INT(s.key_n, 12);
    unsigned char want[16] = {0};
    want[15] = 6;
    CHECK(memcmp(s.iv, want, 16) == 0);
    /* METHOD=NONE later in the playlist clears it. */
    const char *none = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/x/1\"\n#EXTINF:4,\n"
                       "seg000.ts\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:4,\nseg001.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(thumb_locate(none, strlen(none), 6, &s), 0);
    CHECK(!s.encrypted);
    const char *refused[] = {
        "#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"/media/key/x/1\"\n#EXTINF:4,\na.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/x/one\"\n#EXTINF:4,\na.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128\n#EXTINF:4,\na.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k/1\",IV=0x0102\n#EXTINF:4,\na.ts\n",
        "#EXTM3U\n#EXT-X-KEY:URI=\"/k/1\"\n#EXTINF:4,\na.ts\n",
        /* An IV with a sign or a blank is not 32 hex digits (one parser of
         * the key line: hls_crypt_segment_key's). */
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k/1\",IV=0x+10203040506070809000a0b0c0d0e0f\n"
        "#EXTINF:4,\na.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k/1\",IV=0x 10203040506070809000a0b0c0d0e0f\n"
        "#EXTINF:4,\na.ts\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_INT(thumb_locate(refused[i], strlen(refused[i]), 1, &s), -1);
}

static void test_jpeg(void)
{
    /* SOI, an APP0 of 16 bytes, SOF0 (8 bits, 180 x 320, 3 components), EOI. */
    unsigned char j[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I', 'F',  0,
                         1,    1,    0,    0,    1,    0,    1,    0,    0,   0xFF, 0xC0,
                         0x00, 0x11, 0x08, 0x00, 0xB4, 0x01, 0x40, 0x03, 1,   0x22, 0,
                         2,    0x11, 1,    3,    0x11, 1,    0xFF, 0xD9};
    int w = 0, h = 0;
    CHECK_INT(jpeg_size(j, sizeof j, &w, &h), 0);
    CHECK_INT(w, 320);
    CHECK_INT(h, 180);
    CHECK_INT(jpeg_size(j, sizeof j - 1, &w, &h), -1); /* no EOI: cut short */
    j[0] = 0x89;
    CHECK_INT(jpeg_size(j, sizeof j, &w, &h), -1); /* not a JPEG */
    unsigned char nosof[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0,
                             0,    0xFF, 0xDA, 0,    2,    0xFF, 0xD9};
    CHECK_INT(jpeg_size(nosof, sizeof nosof, &w, &h), -1);
    unsigned char tiny[] = {0xFF, 0xD8, 0xFF, 0xD9};
    CHECK_INT(jpeg_size(tiny, sizeof tiny, &w, &h), -1);
}

int main(void)
{
    test_top_playlist();
    test_locate();
    test_jpeg();
    return CHECK_DONE("test_thumbnail");
}
