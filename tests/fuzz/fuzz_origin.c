/* libFuzzer harness: the input as an Origin header against fixed pattern
 * lists, with an exact oracle for the literal patterns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cors.h"

static cors_list exact, alt, alt_top, alt_paren, all;
static bool ready;

static void compile(cors_list *l, const char *patterns)
{
    char err[256];
    if (cors_compile(l, patterns, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_origin: %s\n", err);
        abort();
    }
}

static bool is(const uint8_t *data, size_t size, const char *s)
{
    return size == strlen(s) && memcmp(data, s, size) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        compile(&exact, "https://app\\.example\\.com");
        compile(&alt, "https://(a|b)\\.example\\.com");
        compile(&alt_top, "https://a\\.example\\.com|https://b\\.example\\.com");
        /* Unbalanced parentheses close the anchoring group early. */
        compile(&alt_paren, "https://a\\.example\\.com)|(https://b\\.example\\.com");
        compile(&all, "https://app\\.example\\.com\nhttps://(a|b)\\.example\\.com "
                       "http://localhost:[0-9]+\r\nhttps://[a-z0-9-]+\\.cdn\\.example\\.org\t"
                       ".*\\.preview\\.example\\.net");
        ready = true;
    }
    const char *o = (const char *)data;

    FUZZ_ASSERT(cors_allowed(&exact, o, size) == is(data, size, "https://app.example.com"));
    bool ab = is(data, size, "https://a.example.com") || is(data, size, "https://b.example.com");
    FUZZ_ASSERT(cors_allowed(&alt, o, size) == ab);
    FUZZ_ASSERT(cors_allowed(&alt_top, o, size) == ab);
    FUZZ_ASSERT(cors_allowed(&alt_paren, o, size) == ab);
    if (cors_allowed(&all, o, size)) {
        /* Never a value that could break the header it is echoed into. */
        FUZZ_ASSERT(size > 0 && size <= 1024);
        for (size_t i = 0; i < size; i++)
            FUZZ_ASSERT(data[i] > 0x20 && data[i] < 0x7f);
        FUZZ_ASSERT(size >= 7 && (memcmp(o, "https:/", 7) == 0 || memcmp(o, "http://", 7) == 0 ||
                                  memmem(o, size, ".preview.example.net", 20)));
    }
    return 0;
}
