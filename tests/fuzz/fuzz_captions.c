/* libFuzzer harness: the input as a captions file (captions_to_vtt), in
 * each format. A file taken gives WebVTT that is taken again unchanged
 * (normalized is a fixed point) and holds no NUL; a refusal says why on
 * one line. The input as a master playlist: a rewrite taken is rewritten
 * to itself (idempotent) and, without tracks, loses every subtitles line
 * of the group. */
#include <stdlib.h>
#include <string.h>

#include "captions.h"
#include "fuzz.h"

static void file(const uint8_t *data, size_t size, captions_format fmt)
{
    char *out = NULL, *again = NULL, why[256] = "";
    size_t n, m;
    if (captions_to_vtt((const char *)data, size, fmt, &out, &n, why, sizeof why) != 0) {
        FUZZ_ASSERT(why[0] && !strchr(why, '\n'));
        return;
    }
    FUZZ_ASSERT(strlen(out) == n && strncmp(out, "WEBVTT\n\n", 8) == 0);
    FUZZ_ASSERT(captions_to_vtt(out, n, CAPTIONS_VTT, &again, &m, why, sizeof why) == 0);
    FUZZ_ASSERT(m == n && memcmp(out, again, n) == 0);
    free(again);
    free(out);
}

static void master(const uint8_t *data, size_t size)
{
    static const captions_track t[2] = {{"en", "English"}, {"pt-BR", "Portugu\xc3\xaas"}};
    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    size_t an, bn, cn, dn;
    if (captions_master_rewrite((const char *)data, size, t, 2, &a, &an) != 0)
        return;
    FUZZ_ASSERT(captions_master_rewrite(a, an, t, 2, &b, &bn) == 0);
    FUZZ_ASSERT(an == bn && memcmp(a, b, an) == 0);
    FUZZ_ASSERT(captions_master_rewrite(a, an, t, 0, &c, &cn) == 0);
    FUZZ_ASSERT(!strstr(c, "\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"" CAPTIONS_GROUP "\","));
    FUZZ_ASSERT(captions_master_rewrite(c, cn, t, 0, &d, &dn) == 0);
    FUZZ_ASSERT(cn == dn && memcmp(c, d, cn) == 0);
    free(a);
    free(b);
    free(c);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    file(data, size, CAPTIONS_DETECT);
    file(data, size, CAPTIONS_VTT);
    file(data, size, CAPTIONS_SRT);
    master(data, size);
    long long pts;
    (void)captions_ts_first_pts(data, size, &pts);
    return 0;
}
