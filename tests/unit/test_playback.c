/* Playback from the bucket (app/playback.c): the signed route's paths, its
 * signature (the value below was computed with Python's hmac, independently
 * of this code), and the rewriting of playlists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "playback.h"

#define JOB "5f0c3d1e-8a6b-4c2d-9e1f-000000000001"
#define SIG "96636e60cdae8ac387b48be690a9e162"

static void test_sign(void)
{
    config c = {0};
    unsigned char k[32], k2[32];
    char sig[PLAYBACK_SIG_LEN + 1];
    c.media_signing_secret = "media-signing-secret-0123456789";
    c.storage_secret_access_key = "";
    CHECK_INT(playback_key(&c, k), 0);
    playback_sign(k, JOB, 1700000000, sig);
    CHECK_STR(sig, SIG);
    CHECK(playback_valid(k, JOB, 1700000000, SIG, 1699999999));
    CHECK(!playback_valid(k, JOB, 1700000000, SIG, 1700000000));     /* expired */
    CHECK(!playback_valid(k, JOB, 1700000180, SIG, 1699999999));     /* another expiry */
    CHECK(!playback_valid(k, JOB "2", 1700000000, SIG, 1699999999)); /* another job */
    CHECK(!playback_valid(k, JOB, 1700000000, "96636e60cdae8ac387b48be690a9e161", 0));
    CHECK(!playback_valid(k, JOB, 1700000000, "96636e60", 0));
    /* Without a signing secret, the store's secret is the key's. */
    c.media_signing_secret = "";
    c.storage_secret_access_key = "store-secret";
    CHECK_INT(playback_key(&c, k2), 0);
    CHECK(memcmp(k, k2, 32) != 0);
    c.storage_secret_access_key = "";
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_INT(playback_key(&c, k2), -1);
}

static void test_parse(void)
{
    char sig[PLAYBACK_SIG_LEN + 1], job[101], file[512];
    long long exp = 0;
    const char *ok = SIG "/1700000000/" JOB "/v0/index.m3u8";
    CHECK_INT(playback_parse(ok, strlen(ok), sig, &exp, job, file), 0);
    CHECK_STR(sig, SIG);
    CHECK_STR(job, JOB);
    CHECK_STR(file, "v0/index.m3u8");
    CHECK(exp == 1700000000);
    static const char *bad[] = {
        SIG "/1700000000/" JOB "/",
        SIG "/1700000000/" JOB "/../other/master.m3u8",
        SIG "/1700000000/" JOB "/v0/../master.m3u8",
        SIG "/1700000000/" JOB "/.hidden.m3u8",
        SIG "/1700000000/" JOB "/../other/a1/poster.jpg",
        SIG "/1700000000/" JOB "/a1/./poster.jpg",
        SIG "/1700000000/" JOB "/a1/.poster.jpg",
        SIG "/1700000000/" JOB "/a1/mp4/",
        SIG "/1700000000/" JOB "/a1/poster.jpg?x=1",
        SIG "/1700000000/" JOB "/a1/poster%2ejpg",
        SIG "/1700000000/" JOB "//master.m3u8",
        SIG "/1700000000/" JOB "/a b.m3u8",
        SIG "/1700000000//master.m3u8",
        SIG "/17000000000000/" JOB "/master.m3u8",
        SIG "/-1/" JOB "/master.m3u8",
        SIG "/1700000000/job.x/master.m3u8",
        "96636E60CDAE8AC387B48BE690A9E162/1700000000/" JOB "/master.m3u8",
        "96636e60/1700000000/" JOB "/master.m3u8",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK(playback_parse(bad[i], strlen(bad[i]), sig, &exp, job, file) == -1))
            fprintf(stderr, "  accepted: %s\n", bad[i]);
    /* Any file of the job's directory: the route answers each by its kind. */
    static const struct {
        const char *file;
        playback_kind kind;
    } files[] = {
        {"a1/v0/seg000.ts", PLAYBACK_OBJECT},    {"a1/poster.jpg", PLAYBACK_OBJECT},
        {"a1/mp4/720p.mp4", PLAYBACK_OBJECT},    {"a1/storyboard.vtt", PLAYBACK_VTT},
        {"captions/en.m3u8", PLAYBACK_PLAYLIST}, {"thumbs/1500-320.jpg", PLAYBACK_OBJECT},
        {"a1/v3/index.m3u8", PLAYBACK_PLAYLIST}, {"a1/storyboard.vtt.jpg", PLAYBACK_OBJECT},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[300];
        int n = snprintf(path, sizeof path, "%s/1700000000/%s/%s", SIG, JOB, files[i].file);
        if (!CHECK_INT(playback_parse(path, (size_t)n, sig, &exp, job, file), 0))
            fprintf(stderr, "  refused: %s\n", path);
        CHECK_STR(file, files[i].file);
        CHECK_INT(playback_file_kind(file), files[i].kind);
    }
    /* A NUL inside is the end of nothing: the length says where it ends. */
    char nul[200];
    int n = snprintf(nul, sizeof nul, "%s/1700000000/%s/master.m3u8", SIG, JOB);
    nul[n - 8] = '\0';
    CHECK_INT(playback_parse(nul, (size_t)n, sig, &exp, job, file), -1);
}

static int calls;

static int fake_url(void *arg, const char *key, char *url, size_t cap)
{
    calls++;
    snprintf(url, cap, "https://store.example/%s?X-Amz-Signature=%s", key, (const char *)arg);
    return 0;
}

#define KEY_BASE "https://media.example/api"

/* playback_rewrite of in with key_base KEY_BASE "/" (as a setting may end). */
static void rewrite_keyed(const char *in, const char *dir, const char *key_base, int want,
                          const char *expect)
{
    char *out = NULL, why[200] = "";
    size_t len = 0;
    int got = playback_rewrite(in, strlen(in), dir, key_base, fake_url, "s1", &out, &len, why,
                               sizeof why);
    if (!CHECK_INT(got, want))
        fprintf(stderr, "  %s: %s\n", in, why);
    if (want == 0 && CHECK(out != NULL)) {
        CHECK_STR(out, expect);
        CHECK(len == strlen(out));
    }
    if (want != 0)
        CHECK(out == NULL && *why);
    free(out);
}

static void rewrite(const char *in, const char *dir, int want, const char *expect)
{
    rewrite_keyed(in, dir, KEY_BASE "/", want, expect);
}

#define IV ",IV=0x000102030405060708090a0b0c0d0e0f"

/* An encrypted job's #EXT-X-KEY naming its own key route is left alone;
 * any other key URI is refused as before. */
static void test_rewrite_keys(void)
{
    const char *dir = "media/" JOB "/a2/v0/";
    calls = 0;
    rewrite("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2\"" IV "\n"
            "#EXTINF:2.0,\nseg000.ts\n#EXT-X-ENDLIST\n", dir, 0,
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2\"" IV "\n"
            "#EXTINF:2.0,\nhttps://store.example/media/" JOB "/a2/v0/seg000.ts?X-Amz-Signature=s1\n"
            "#EXT-X-ENDLIST\n");
    CHECK_INT(calls, 1);
    /* No MEDIAGATE_PUBLIC_URL: path-absolute, under MEDIAGATE_PREFIX ("" at the root). */
    const char *root = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/" JOB "/12\"\n";
    rewrite_keyed(root, dir, "", 0, root);
    const char *pre = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/video-api/media/key/" JOB "/1\"\n";
    rewrite_keyed(pre, dir, "/video-api", 0, pre);
    rewrite_keyed(root, dir, NULL, -1, NULL);
    /* Encoded under other settings (MEDIAGATE_PUBLIC_URL set, changed or
     * cleared, MEDIAGATE_PREFIX changed): the job's key route under today's
     * base, whatever base the playlist names. */
    rewrite_keyed(root, dir, "/video-api/", 0,
                  "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/video-api/media/key/" JOB "/12\"\n");
    rewrite_keyed(pre, dir, "", 0,
                  "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/" JOB "/1\"\n");
    static const char *moved[] = {
        "/media/key/" JOB "/2",
        "/old-prefix/media/key/" JOB "/2",
        "https://old.example/media/key/" JOB "/2",
        "http://old.example:8080/a/b/media/key/" JOB "/2",
        "https://media.example/media/key/" JOB "/2",
        KEY_BASE "/media/key/" JOB "/2",
    };
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
        char in[600];
        snprintf(in, sizeof in, "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"%s\"" IV "\n", moved[i]);
        rewrite(in, dir, 0,
                "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB
                "/2\"" IV "\n");
        rewrite_keyed(in, dir, "", 0,
                      "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/" JOB "/2\"" IV "\n");
    }
    static const char *bad[] = {
        /* another job's key, another route, a job id that only ends as this one */
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE
        "/media/key/5f0c3d1e-8a6b-4c2d-9e1f-000000000002/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/hls/" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/x" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/keys/" JOB "/2\"",
        /* a base that is not a path or an http(s) URL prefix (a relative
         * "x/media/key/..." is a file of the job's directory, presigned) */
        "#EXT-X-KEY:METHOD=AES-128,URI=\"ftp://h/media/key/" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"javascript:/media/key/" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"https://h/?q/media/key/" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"https://h/#/media/key/" JOB "/2\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"https://h /media/key/" JOB "/2\"",
        /* n: digits, 1 to 9 of them, no leading zero, nothing after */
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/0\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/02\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/1234567890\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2x\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2/k\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2?x=1\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "\"",
        /* the key route on a tag that is not a key */
        "#EXT-X-MAP:URI=\"" KEY_BASE "/media/key/" JOB "/2\"",
        "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2\"",
        /* a second URI after the kept one */
        "#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB
        "/2\",URI=\"https://e.example/k\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[600];
        snprintf(in, sizeof in, "#EXTM3U\n%s\n", bad[i]);
        rewrite(in, dir, -1, NULL);
    }
    /* dir names no job: nothing is its key. */
    rewrite("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"" KEY_BASE "/media/key/" JOB "/2\"\n",
            "media/", -1, NULL);
    char uri[200];
    config c = {.public_url = "https://media.example/api/", .prefix = "/api"};
    CHECK_INT(playback_key_uri(&c, JOB, 3, uri, sizeof uri), 0);
    CHECK_STR(uri, KEY_BASE "/media/key/" JOB "/3");
    c.public_url = "";
    CHECK_INT(playback_key_uri(&c, JOB, 3, uri, sizeof uri), 0);
    CHECK_STR(uri, "/api/media/key/" JOB "/3");
    CHECK_INT(playback_key_uri(&c, JOB, 3, uri, 20), -1);
}

static void test_rewrite(void)
{
    const char *dir = "media/" JOB "/";
    /* The master: renditions stay relative (they resolve under the signed
     * route's directory). */
    rewrite("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nv0/index.m3u8\n", dir,
            0, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nv0/index.m3u8\n");
    calls = 0;
    rewrite("#EXTM3U\r\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"1@0\"\n"
            "#EXTINF:2.0,\nseg000.ts\n\n#EXTINF:1.5,\n  seg001.ts  \n#EXT-X-ENDLIST\n",
            "media/" JOB "/v0/", 0,
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
            "#EXT-X-MAP:URI=\"https://store.example/media/" JOB "/v0/init.mp4?X-Amz-Signature=s1\","
            "BYTERANGE=\"1@0\"\n"
            "#EXTINF:2.0,\nhttps://store.example/media/" JOB "/v0/seg000.ts?X-Amz-Signature=s1\n\n"
            "#EXTINF:1.5,\nhttps://store.example/media/" JOB "/v0/seg001.ts?X-Amz-Signature=s1\n"
            "#EXT-X-ENDLIST\n");
    CHECK_INT(calls, 3);
    rewrite("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"a0/index.m3u8\"\n", dir, 0,
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"a0/index.m3u8\"\n");
    /* Anything not a file of the job's directory is refused. */
    static const char *bad[] = {
        "seg000.ts\n",
        "#EXTM3U\n../other/seg000.ts\n",
        "#EXTM3U\n/etc/passwd\n",
        "#EXTM3U\nhttps://elsewhere.example/seg.ts\n",
        "#EXTM3U\nseg000.ts?x=1\n",
        "#EXTM3U\nv0//seg.ts\n",
        "#EXTM3U\n.hidden.ts\n",
        "#EXTM3U\n#EXT-X-MAP:URI=\"../init.mp4\"\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k\"\n",
        /* a URI= a player may take but the rewriter would not reach */
        "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\",URI=\"https://evil.example/i\"\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI=\"https://evil.example/k\"\n",
        "#EXTM3U\n#EXT-X-MAP:URI=https://evil.example/i\n",
        "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,X-URI=\"https://evil.example/a\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        rewrite(bad[i], dir, -1, NULL);
    char nul[] = "#EXTM3U\nseg\0.ts\n";
    char *out = NULL, why[200];
    size_t len;
    CHECK_INT(playback_rewrite(nul, sizeof nul - 1, dir, KEY_BASE, fake_url, "s1", &out, &len,
                               why, sizeof why),
              -1);
}

int main(void)
{
    test_sign();
    test_parse();
    test_rewrite();
    test_rewrite_keys();
    return CHECK_DONE("playback");
}
