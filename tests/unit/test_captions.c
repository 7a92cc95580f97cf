/* Captions (app/captions.c): WebVTT and SRT checked and normalized, the
 * HLS subtitles rendition and the master playlist's rewrite. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions.h"
#include "check.h"

static char why[256];

/* The normalized text of s[0..len) (fmt), or NULL with why set. */
static char *conv_n(const char *s, size_t len, captions_format fmt)
{
    char *out = NULL;
    size_t n = 0;
    why[0] = '\0';
    if (captions_to_vtt(s, len, fmt, &out, &n, why, sizeof why) != 0)
        return NULL;
    CHECK_INT(strlen(out), n);
    return out;
}

static char *conv(const char *s, captions_format fmt)
{
    return conv_n(s, strlen(s), fmt);
}

static void refused(const char *s, captions_format fmt, const char *msg)
{
    char *out = conv(s, fmt);
    CHECK(out == NULL);
    CHECK_HAS(why, msg);
    free(out);
}

static void test_vtt(void)
{
    char *o = conv("\xef\xbb\xbfWEBVTT - a title\r\nKind: captions\r\n\r\n"
                   "NOTE a comment\r\nover two lines\r\n\r\n"
                   "intro\r\n00:01.000 --> 00:02.500 align:start line:0 bogus:1\r\nHello\r\n"
                   "<i>world</i>\r\n\r\n\r\n"
                   "01:00:00.000 --> 01:00:01.000\r\nLater\r\n",
                   CAPTIONS_DETECT);
    CHECK_STR(o, "WEBVTT\n\nintro\n00:00:01.000 --> 00:00:02.500 align:start line:0\nHello\n"
                 "<i>world</i>\n\n01:00:00.000 --> 01:00:01.000\nLater\n\n");
    free(o);
    /* the same with CR line ends and a STYLE block */
    o = conv("WEBVTT\r\rSTYLE\r::cue { color: red }\r\r00:00.000 --> 00:00.000\r\r", CAPTIONS_VTT);
    CHECK_STR(o, "WEBVTT\n\nSTYLE\n::cue { color: red }\n\n00:00:00.000 --> 00:00:00.000\n\n");
    free(o);
    /* normalized text is taken again as it is */
    char *a = conv("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000 size:50%\nx\n\n", CAPTIONS_VTT);
    char *b = a ? conv(a, CAPTIONS_VTT) : NULL;
    CHECK_STR(b, a);
    free(a);
    free(b);
}

static void test_vtt_refused(void)
{
    /* an emptied file is not a way to remove a language's captions */
    refused("WEBVTT\n", CAPTIONS_DETECT, "no cues (to remove a language's captions, DELETE it)");
    refused("WEBVTT\n\nNOTE only a note\n\nSTYLE\n::cue { color: red }\n", CAPTIONS_VTT, "no cues");
    refused("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", CAPTIONS_VTT, "line 1: a WebVTT file");
    refused("WEBVTT\n\n00:02.000 --> 00:01.000\nx\n", CAPTIONS_VTT, "line 3: the cue ends before");
    refused("WEBVTT\n\n00:01.000 -> 00:02.000\nx\n", CAPTIONS_VTT, "line 4: a cue timing");
    refused("WEBVTT\n\n00:01.00 --> 00:02.000\nx\n", CAPTIONS_VTT, "line 3: a malformed start");
    refused("WEBVTT\n\n00:61.000 --> 00:62.000\nx\n", CAPTIONS_VTT, "line 3: a malformed start");
    refused("WEBVTT\n\n0:00:01.000 --> 00:02.000\nx\n", CAPTIONS_VTT, "line 3:");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000x\nx\n", CAPTIONS_VTT, "line 3: a malformed end");
    refused("WEBVTT\n\n00:01.000 --> 49:00:00.000\nx\n", CAPTIONS_VTT, "past 48 hours");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000 align\nx\n", CAPTIONS_VTT, "cue setting");
    refused("WEBVTT\n\nid\nno timing here\n", CAPTIONS_VTT, "line 4: a cue timing line");
    refused("WEBVTT\n00:01.000 --> 00:02.000\nx\n", CAPTIONS_VTT, "line 2: a blank line");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n00:03.000 --> 00:04.000\n", CAPTIONS_VTT,
            "line 5: \"-->\" inside");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000\nx\xff\n", CAPTIONS_VTT, "line 4: not UTF-8");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000\nx\x01\n", CAPTIONS_VTT, "line 4: a control");
    refused("1\n00:00:01,000 --> 00:00:02,000\nx\n", CAPTIONS_VTT, "line 1: a WebVTT file");
    refused("", CAPTIONS_DETECT, "empty");
    refused("hello\nworld\n", CAPTIONS_DETECT, "line 1: neither WebVTT");
    char nul[] = "WEBVTT\n\nx\0y";
    char *out = NULL;
    size_t n;
    CHECK_INT(captions_to_vtt(nul, sizeof nul - 1, CAPTIONS_DETECT, &out, &n, why, sizeof why), -1);
    CHECK_HAS(why, "line 3: a NUL byte");
    /* bounded: size and cue count */
    size_t big = CAPTIONS_MAX_BYTES + 1;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    memcpy(huge, "WEBVTT\n\n", 8);
    huge[big] = '\0';
    refused(huge, CAPTIONS_DETECT, "larger than");
    free(huge);
    const char *cue = "00:00.000 --> 00:00.001\n\n";
    size_t cl = strlen(cue), cues = CAPTIONS_MAX_CUES + 1;
    char *many = malloc(8 + cl * cues + 1);
    memcpy(many, "WEBVTT\n\n", 8);
    for (size_t i = 0; i < cues; i++)
        memcpy(many + 8 + i * cl, cue, cl);
    many[8 + cl * cues] = '\0';
    refused(many, CAPTIONS_DETECT, "more than 20000 cues");
    free(many);
}

static void test_srt(void)
{
    char *o = conv("\xef\xbb\xbf"
                   "1\r\n00:00:01,000 --> 00:00:02,000\r\nHello\r\nthere\r\n\r\n"
                   "2\r\n00:00:03,250 --> 00:00:04,000 X1:10 X2:20 Y1:1 Y2:2\r\n<b>Bye</b>\r\n",
                   CAPTIONS_DETECT);
    CHECK_STR(o, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\nthere\n\n"
                 "00:00:03.250 --> 00:00:04.000\n<b>Bye</b>\n\n");
    free(o);
    refused("1\n00:00:01,000 --> 00:00:00,500\nx\n", CAPTIONS_SRT, "line 2: the cue ends before");
    refused("1\n00:00:01,000 --> 00:00:02\nx\n", CAPTIONS_SRT, "line 2: a malformed end");
    refused("1\n00:00:01,000 --> 00:00:02,000\nx\n\nx\n00:00:01,000 --> 00:00:02,000\n",
            CAPTIONS_SRT, "line 5: an SRT cue number");
    refused("1\n", CAPTIONS_SRT, "line 2: the cue's timing line is missing");
    refused("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n", CAPTIONS_SRT, "line 1: an SRT cue number");
    refused("\n\n", CAPTIONS_SRT, "no cues");
}

/* ASCII s as UTF-16 with its byte order mark (big-endian when be) into
 * out: its length. */
static size_t utf16(const char *s, bool be, char *out)
{
    size_t n = 0;
    out[n++] = be ? '\xfe' : '\xff';
    out[n++] = be ? '\xff' : '\xfe';
    for (; *s; s++) {
        out[n++] = be ? 0 : *s;
        out[n++] = be ? *s : 0;
    }
    return n;
}

static void test_utf16(void)
{
    char buf[256];
    const char *want = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n\n";
    for (int be = 0; be < 2; be++) {
        size_t n = utf16("WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nHello\r\n", be, buf);
        char *o = conv_n(buf, n, CAPTIONS_DETECT);
        CHECK_STR(o, want);
        free(o);
        n = utf16("1\n00:00:01,000 --> 00:00:02,000\nHello\n", be, buf);
        o = conv_n(buf, n, CAPTIONS_SRT);
        CHECK_STR(o, want);
        free(o);
    }
    /* beyond ASCII: "Ça " then U+1F600 (a surrogate pair), little-endian */
    size_t n = utf16("WEBVTT\n\n00:01.000 --> 00:02.000\n", false, buf);
    memcpy(buf + n,
           "\xc7\0"
           "a\0 \0\x3d\xd8\x00\xde\n\0",
           12);
    char *o = conv_n(buf, n + 12, CAPTIONS_VTT);
    CHECK_STR(o, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xc3\x87"
                 "a \xf0\x9f\x98\x80\n\n");
    free(o);
    /* a lone surrogate, an odd byte, a BOM alone */
    CHECK(conv_n("\xff\xfeW\0\x3d\xd8\n\0", 8, CAPTIONS_DETECT) == NULL);
    CHECK_HAS(why, "not valid UTF-16");
    CHECK(conv_n("\xff\xfeW\0E", 5, CAPTIONS_DETECT) == NULL);
    CHECK_HAS(why, "UTF-16");
    CHECK(conv_n("\xfe\xff", 2, CAPTIONS_DETECT) == NULL);
    CHECK_HAS(why, "empty");
    /* UTF-16 NUL is refused like any NUL */
    n = utf16("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n", false, buf);
    buf[n - 4] = 0;
    CHECK(conv_n(buf, n, CAPTIONS_DETECT) == NULL);
    CHECK_HAS(why, "NUL");
}

static void canon(const char *tag, const char *want)
{
    char t[40];
    snprintf(t, sizeof t, "%s", tag);
    CHECK(captions_language_ok(t));
    captions_language_canon(t);
    CHECK_STR(t, want);
}

static void test_canon(void)
{
    canon("en", "en");
    canon("EN", "en");
    canon("pt-br", "pt-BR");
    canon("PT-br", "pt-BR");
    canon("zh-hant-tw", "zh-Hant-TW");
    canon("ZH-HANT-TW", "zh-Hant-TW");
    canon("es-419", "es-419");
    canon("sr-LATN-rs-X1", "sr-Latn-RS-x1");
    canon("de-CH-1901", "de-CH-1901");
    canon("en-X-US", "en-x-us"); /* after a singleton: lower case */
    canon("EN-A-BB", "en-a-bb");
}

static void test_tags(void)
{
    CHECK(captions_language_ok("en"));
    CHECK(captions_language_ok("pt-BR"));
    CHECK(captions_language_ok("zh-Hant-TW"));
    CHECK(captions_language_ok("sr-Latn-RS-x1"));
    CHECK(!captions_language_ok("e"));
    CHECK(!captions_language_ok("engl"));
    CHECK(!captions_language_ok("en-"));
    CHECK(!captions_language_ok("en_US"));
    CHECK(!captions_language_ok("en-a-b-c-d"));
    CHECK(!captions_language_ok("en-123456789"));
    CHECK(!captions_language_ok("../x"));
    CHECK(captions_label_ok("English (CC)"));
    CHECK(captions_label_ok("Fran\xc3\xa7"
                            "ais"));
    CHECK(!captions_label_ok(""));
    CHECK(!captions_label_ok("a\"b"));
    CHECK(!captions_label_ok("a\nb"));
    CHECK(!captions_label_ok("\xff"));
}

static void test_ts(void)
{
    /* two elementary streams; the audio starts earlier than the video */
    unsigned char ts[188 * 3];
    memset(ts, 0xff, sizeof ts);
    const unsigned pids[3] = {0, 0x100, 0x101};
    const long long pts[3] = {0, 126000, 123000};
    for (int i = 0; i < 3; i++) {
        unsigned char *p = ts + 188 * i;
        p[0] = 0x47;
        p[1] = 0x40 | (unsigned char)(pids[i] >> 8);
        p[2] = pids[i] & 0xff;
        p[3] = 0x10;
        if (i == 0) { /* a PAT */
            memcpy(p + 4, "\x00\x00\xb0\x0d", 4);
            continue;
        }
        unsigned char *e = p + 4;
        memcpy(e, "\x00\x00\x01\xe0\x00\x00\x80\x80\x05", 9);
        long long v = pts[i];
        e[9] = (unsigned char)(0x21 | ((v >> 29) & 0x0e));
        e[10] = (unsigned char)(v >> 22);
        e[11] = (unsigned char)(((v >> 14) & 0xfe) | 1);
        e[12] = (unsigned char)(v >> 7);
        e[13] = (unsigned char)(((v << 1) & 0xfe) | 1);
    }
    long long got = -1;
    CHECK_INT(captions_ts_first_pts(ts, sizeof ts, &got), 0);
    CHECK_INT(got, 123000);
    CHECK_INT(captions_ts_first_pts(ts, 188, &got), -1);
    ts[188] = 0x00;
    CHECK_INT(captions_ts_first_pts(ts, sizeof ts, &got), -1);
}

static void test_hls(void)
{
    size_t n;
    char *v = captions_vtt_for_hls("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n\n", 41, 126000,
                                   &n);
    CHECK_STR(v, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n"
                 "00:00:01.000 --> 00:00:02.000\nx\n\n");
    free(v);
    CHECK(captions_vtt_for_hls("1\n", 2, 0, &n) == NULL);
    char pl[512];
    CHECK(captions_media_playlist("pt-BR", 12345, pl, sizeof pl) > 0);
    CHECK_STR(pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:13\n#EXT-X-MEDIA-SEQUENCE:0\n"
                  "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:12.345,\npt-BR.vtt\n#EXT-X-ENDLIST\n");
    CHECK_INT(captions_media_playlist("en", 1000, pl, 20), -1);
}

static void test_master(void)
{
    const char *m = "#EXTM3U\n#EXT-X-VERSION:3\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,"
                    "mp4a.40.2\"\nv0/index.m3u8\n\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\"\nv1/index.m3u8\n";
    captions_track t[2] = {{"en", "English"}, {"pt-BR", "Portugu\xc3\xaas"}};
    char *o = NULL, *o2 = NULL, *o3 = NULL;
    size_t n, n2, n3;
    CHECK_INT(captions_master_rewrite(m, strlen(m), t, 2, &o, &n), 0);
    CHECK_STR(o, "#EXTM3U\n#EXT-X-VERSION:3\n"
                 "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\","
                 "DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"captions/en.m3u8\"\n"
                 "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Portugu\xc3\xaas\","
                 "LANGUAGE=\"pt-BR\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,"
                 "URI=\"captions/pt-BR.m3u8\"\n"
                 "#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,"
                 "mp4a.40.2\",SUBTITLES=\"subs\"\nv0/index.m3u8\n\n"
                 "#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\",SUBTITLES=\"subs\"\n"
                 "v1/index.m3u8\n");
    /* idempotent; one track fewer; none: the original back */
    CHECK_INT(captions_master_rewrite(o, n, t, 2, &o2, &n2), 0);
    CHECK_STR(o2, o);
    free(o2);
    CHECK_INT(captions_master_rewrite(o, n, t + 1, 1, &o2, &n2), 0);
    CHECK_LACKS(o2, "LANGUAGE=\"en\"");
    CHECK_HAS(o2, "LANGUAGE=\"pt-BR\"");
    CHECK_INT(captions_master_rewrite(o2, n2, t, 0, &o3, &n3), 0);
    CHECK_STR(o3, m);
    free(o2);
    free(o3);
    /* another group's lines stay */
    const char *other =
        "#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"cc\",NAME=\"x\",URI=\"a\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"cc\"\nv0.m3u8\n";
    CHECK_INT(captions_master_rewrite(other, strlen(other), t, 0, &o2, &n2), 0);
    CHECK_HAS(o2, "GROUP-ID=\"cc\"");
    CHECK_HAS(o2, "SUBTITLES=\"cc\"");
    free(o2);
    CHECK_INT(captions_master_rewrite("#EXTM3U\n#EXTINF:1,\na.ts\n", 23, t, 1, &o2, &n2), -1);
    CHECK_INT(captions_master_rewrite("hello\n", 6, t, 1, &o2, &n2), -1);
    const char *open_quote = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a\nv0.m3u8\n";
    CHECK_INT(captions_master_rewrite(open_quote, strlen(open_quote), t, 1, &o2, &n2), -1);
    char uri[64];
    CHECK_INT(captions_master_first_variant(m, strlen(m), uri, sizeof uri), 0);
    CHECK_STR(uri, "v0/index.m3u8");
    CHECK_INT(captions_master_first_variant(o, n, uri, sizeof uri), 0);
    CHECK_STR(uri, "v0/index.m3u8");
    CHECK_INT(captions_master_first_variant("#EXTM3U\n", 8, uri, sizeof uri), -1);
    free(o);
}

static void test_first_segment(void)
{
    char uri[64];
    unsigned char iv[16];
    int n = -1;
    const char *clear =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nseg1.ts\n";
    CHECK_INT(captions_first_segment(clear, strlen(clear), uri, sizeof uri, &n, iv), 0);
    CHECK_STR(uri, "seg0.ts");
    CHECK_INT(n, 0);
    const char *enc = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n"
                      "#EXT-X-KEY:METHOD=AES-128,URI=\"https://m.example.com/media/key/j-1/3\","
                      "IV=0x000102030405060708090a0b0c0d0e0F\n#EXTINF:2.0,\nseg0.ts\n";
    CHECK_INT(captions_first_segment(enc, strlen(enc), uri, sizeof uri, &n, iv), 0);
    CHECK_INT(n, 3);
    CHECK_INT(iv[0], 0);
    CHECK_INT(iv[15], 15);
    CHECK_INT(iv[10], 10);
    const char *seq = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:258\n"
                      "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/12\"\n#EXTINF:2,\ns.ts\n";
    CHECK_INT(captions_first_segment(seq, strlen(seq), uri, sizeof uri, &n, iv), 0);
    CHECK_INT(n, 12);
    CHECK_INT(iv[14], 1);
    CHECK_INT(iv[15], 2);
    const char *bad[] = {
        "#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"/media/key/j/1\"\ns.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/x\"\ns.ts\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k/1\",IV=0x00\ns.ts\n",
        "#EXTM3U\n#EXTINF:2,\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(captions_first_segment(bad[i], strlen(bad[i]), uri, sizeof uri, &n, iv), -1);
    CHECK_INT(captions_first_segment(clear, strlen(clear), uri, 4, &n, iv), -1);
}

int main(void)
{
    test_vtt();
    test_vtt_refused();
    test_srt();
    test_utf16();
    test_canon();
    test_tags();
    test_ts();
    test_hls();
    test_master();
    test_first_segment();
    return CHECK_DONE("captions");
}
