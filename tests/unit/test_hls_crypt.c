/* HLS AES-128 (app/worker/hls_crypt.c): the cipher on NIST SP 800-38A's
 * CBC-AES128 vector, a wrong key refused, a rendition encrypted in place and
 * read back through the playlist it rewrote, and what
 * hls_crypt_segment_key finds in playlists of other shapes. */
#include <stdlib.h>
#include <sys/stat.h>

#include "check.h"
#include "../../app/worker/hls_crypt.c"

static const unsigned char nist_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                           0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
static const unsigned char nist_iv[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const unsigned char nist_pt[16] = {0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
                                          0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a};
static const unsigned char nist_ct[16] = {0x76, 0x49, 0xab, 0xac, 0x81, 0x19, 0xb2, 0x46,
                                          0xce, 0xe9, 0x8e, 0x9b, 0x12, 0xe9, 0x19, 0x7d};

static char dir[] = "/tmp/test_hls_crypt.XXXXXX";

static void put(const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f)
        fclose(f);
}

/* The file name of dir, malloc'd, its length in *n; NULL if unreadable. */
static unsigned char *get(const char *name, size_t *n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return (unsigned char *)hls_read_file(p, 1 << 20, n);
}

static void path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void test_cipher(void)
{
    char in[512], out[512], back[512];
    size_t n = 0;
    unsigned char wrong[16];
    memcpy(wrong, nist_key, 16);
    wrong[0] ^= 1;
    put("pt", nist_pt, 16);
    path("pt", in, sizeof in);
    path("ct", out, sizeof out);
    path("back", back, sizeof back);
    CHECK_INT(crypt_file(1, nist_key, nist_iv, in, out), 0);
    unsigned char *ct = get("ct", &n);
    /* The vector's block, then a whole block of PKCS#7 padding. */
    if (CHECK(ct && n == 32))
        CHECK(memcmp(ct, nist_ct, 16) == 0);
    free(ct);
    CHECK_INT(hls_crypt_decrypt_file(nist_key, nist_iv, out, back), 0);
    unsigned char *pt = get("back", &n);
    CHECK(pt && n == 16 && memcmp(pt, nist_pt, 16) == 0);
    free(pt);
    /* The wrong key: the padding does not check, and nothing is left. */
    unlink(back);
    CHECK_INT(hls_crypt_decrypt_file(wrong, nist_iv, out, back), -1);
    CHECK_INT(errno, EBADMSG);
    CHECK(access(back, F_OK) != 0);
    CHECK_INT(hls_crypt_decrypt_file(nist_key, nist_iv, "/nonexistent/seg.ts", back), -1);
}

static void test_variant(void)
{
    static const char uri[] = "https://media.example/media/key/j1/2";
    static const char pl[] = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
                             "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg000.ts\n"
                             "#EXTINF:2.5,\nseg001.ts\n#EXT-X-ENDLIST\n";
    unsigned char seg[2][1000], key[16] = {7};
    char why[300] = "", vdir[64], p[128];
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 1000; i++)
            seg[s][i] = (unsigned char)(i * (s + 3));
    snprintf(vdir, sizeof vdir, "%s/v0", dir);
    CHECK(mkdir(vdir, 0755) == 0);
    put("v0/index.m3u8", pl, strlen(pl));
    put("v0/seg000.ts", seg[0], 1000);
    put("v0/seg001.ts", seg[1], 1000);
    if (!CHECK_INT(crypt_variant(vdir, key, uri, why, sizeof why), 0))
        fprintf(stderr, "  %s\n", why);
    size_t n = 0;
    char *text = (char *)get("v0/index.m3u8", &n);
    if (!CHECK(text))
        return;
    /* One key line before each segment, each with its own IV. */
    const char *k0 = strstr(text, "#EXT-X-KEY:METHOD=AES-128,"
                                  "URI=\"https://media.example/media/key/j1/2\",IV=0x");
    const char *k1 = k0 ? strstr(k0 + 1, "#EXT-X-KEY:") : NULL;
    CHECK(k0 && k1 && !strstr(k1 + 1, "#EXT-X-KEY:"));
    CHECK(k0 && k0 < strstr(text, "#EXTINF:4.0,") && k1 > strstr(text, "seg000.ts") &&
          k1 < strstr(text, "#EXTINF:2.5,"));
    CHECK(k0 && k1 && memcmp(k0 + 74, k1 + 74, 32) != 0);
    CHECK_HAS(text, "#EXT-X-ENDLIST\n");
    for (int s = 0; s < 2; s++) {
        char name[16];
        unsigned char iv[16];
        int att = 0;
        snprintf(name, sizeof name, "seg%03d.ts", s);
        CHECK_INT(hls_crypt_segment_key(text, n, name, &att, iv), 1);
        CHECK_INT(att, 2);
        char in[128], out[512];
        snprintf(in, sizeof in, "%s/%s", vdir, name);
        path("clear.ts", out, sizeof out);
        size_t cn = 0;
        unsigned char *enc = get(s ? "v0/seg001.ts" : "v0/seg000.ts", &cn);
        CHECK(enc && cn == 1008 && memcmp(enc, seg[s], 16) != 0);
        free(enc);
        CHECK_INT(hls_crypt_decrypt_file(key, iv, in, out), 0);
        unsigned char *clear = get("clear.ts", &cn);
        CHECK(clear && cn == 1000 && memcmp(clear, seg[s], 1000) == 0);
        free(clear);
        unlink(out);
    }
    /* Encrypted already: refused, the files left as they are. */
    CHECK_INT(crypt_variant(vdir, key, uri, why, sizeof why), -1);
    CHECK_HAS(why, "encrypted already");
    snprintf(p, sizeof p, "%s/.seg000.ts.aes", vdir);
    CHECK(access(p, F_OK) != 0);
    free(text);
    /* A segment the playlist names that is not there: -1, no temp file left. */
    put("v0/index.m3u8", "#EXTM3U\n#EXTINF:1,\ngone.ts\n", 27);
    CHECK_INT(crypt_variant(vdir, key, uri, why, sizeof why), -1);
    snprintf(p, sizeof p, "%s/.gone.ts.aes", vdir);
    CHECK(access(p, F_OK) != 0);
    put("v0/index.m3u8", "#EXTM3U\n#EXTINF:1,\n../x.ts\n", 27);
    CHECK_INT(crypt_variant(vdir, key, uri, why, sizeof why), -1);
}

static void test_segment_key(void)
{
    unsigned char iv[16], want[16] = {0};
    int n = 0;
    const char *clear = "#EXTM3U\n#EXTINF:4,\na.ts\n";
    CHECK_INT(hls_crypt_segment_key(clear, strlen(clear), "a.ts", &n, iv), 0);
    CHECK_INT(hls_crypt_segment_key(clear, strlen(clear), "b.ts", &n, iv), -1);
    /* No IV attribute: the media sequence number, big-endian. */
    const char *implicit = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:258\n"
                           "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/3\"\n"
                           "#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n"
                           "#EXT-X-KEY:METHOD=NONE\n#EXTINF:4,\nc.ts\n";
    CHECK_INT(hls_crypt_segment_key(implicit, strlen(implicit), "b.ts", &n, iv), 1);
    want[14] = 1;
    want[15] = 3; /* 259 */
    CHECK_INT(n, 3);
    CHECK(memcmp(iv, want, 16) == 0);
    CHECK_INT(hls_crypt_segment_key(implicit, strlen(implicit), "c.ts", &n, iv), 0);
    static const char *bad[] = {
        "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"/media/key/j/3\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/x\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/\"",
        "#EXT-X-KEY:METHOD=AES-128",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/3\",IV=0x0001",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/3\",IV=0xzz0102030405060708090a0b0c0d0e0f",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/3\",IV=0x+0010203040506070809a0b0c0d0e0f",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/3\",IV=0x 0010203040506070809a0b0c0d0e0f",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/03\"",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/1234567890\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char pl[300];
        snprintf(pl, sizeof pl, "#EXTM3U\n%s\n#EXTINF:4,\na.ts\n", bad[i]);
        if (!CHECK_INT(hls_crypt_segment_key(pl, strlen(pl), "a.ts", &n, iv), -1))
            fprintf(stderr, "  %s\n", bad[i]);
    }
}

/* The one hex decoder and #EXT-X-KEY reader the thumbnail, captions and
 * key code share. */
static void test_shared_parsers(void)
{
    unsigned char b[16], want[16] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_INT(hls_crypt_unhex("DEADbeef", 8, b, 4), 0);
    CHECK(memcmp(b, want, 4) == 0);
    static const char *bad[] = {"deadbee", "deadbeef0", "+eadbeef", " eadbeef", "0xadbeef",
                                "deadbeeg", "-1adbeef"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(hls_crypt_unhex(bad[i], strlen(bad[i]), b, 4), -1);
    CHECK_INT(hls_crypt_unhex("dead\0eef", 8, b, 4), -1);
    CHECK_INT(hls_crypt_unhex("dead", 4, b, 4), -1); /* too short for n */
    hls_key k;
    const char *l = "#EXT-X-KEY:METHOD=AES-128,URI=\"https://h.example/p/media/key/j/42\","
                    "IV=0X000102030405060708090A0B0C0D0E0F";
    CHECK_INT(hls_crypt_key_line(l, strlen(l), &k), 0);
    CHECK(k.aes && k.has_iv && k.n == 42);
    CHECK(memcmp(k.iv, nist_iv, 16) == 0);
    unsigned char iv[16];
    hls_crypt_segment_iv(&k, 7, iv);
    CHECK(memcmp(iv, nist_iv, 16) == 0);
    l = "#EXT-X-KEY:METHOD=AES-128,URI=\"/media/key/j/1\"";
    CHECK_INT(hls_crypt_key_line(l, strlen(l), &k), 0);
    CHECK(k.aes && !k.has_iv && k.n == 1);
    hls_crypt_segment_iv(&k, 0x0102, iv);
    CHECK(iv[15] == 2 && iv[14] == 1 && iv[0] == 0);
    l = "#EXT-X-KEY:METHOD=NONE";
    CHECK_INT(hls_crypt_key_line(l, strlen(l), &k), 0);
    CHECK(!k.aes);
    l = "#EXT-X-MAP:URI=\"/media/key/j/1\"";
    CHECK_INT(hls_crypt_key_line(l, strlen(l), &k), -1);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    test_cipher();
    test_variant();
    test_segment_key();
    test_shared_parsers();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return CHECK_DONE("hls_crypt");
}
