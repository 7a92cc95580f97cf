/* libFuzzer harness: a query string or form body through parse_urlencoded,
 * url_decode and parse_content_length, with their contracts checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

static arena a; /* reused, and reset after each input */

static void check_decode(const char *buf, size_t size, bool plus_space)
{
    char *out = NULL;
    size_t n = 0;
    int rc = url_decode(&a, buf, size, plus_space, &out, &n);
    FUZZ_ASSERT(rc == PARSE_OK || rc == PARSE_MALFORMED || rc == PARSE_NUL);
    if (rc != PARSE_OK)
        return;
    FUZZ_ASSERT(n <= size);
    FUZZ_ASSERT(strlen(out) == n); /* no NUL inside, terminated after */
    if (!memchr(buf, '%', size) && !(plus_space && memchr(buf, '+', size)))
        FUZZ_ASSERT(memcmp(out, buf, size) == 0);
}

/* parse_content_length must agree with a plain reading of the digits. */
static void check_content_length(const char *buf, size_t size, size_t cap)
{
    size_t v = 1;
    int rc = parse_content_length(buf, size, cap, &v);
    bool digits = true;
    size_t first = 0; /* first non-zero digit */
    for (size_t i = 0; i < size; i++) {
        digits &= buf[i] >= '0' && buf[i] <= '9';
        if (first == i && buf[i] == '0')
            first++;
    }
    if (!digits) {
        FUZZ_ASSERT(rc == PARSE_MALFORMED && v == 0);
        return;
    }
    char want[32];
    int wn = snprintf(want, sizeof want, "%zu", cap);
    size_t sig = size - first; /* significant digits */
    bool over = sig > (size_t)wn ||
                (sig == (size_t)wn && memcmp(buf + first, want, (size_t)wn) > 0);
    if (over) {
        FUZZ_ASSERT(rc == PARSE_TOO_LARGE && v == 0);
        return;
    }
    FUZZ_ASSERT(rc == PARSE_OK && v <= cap);
    char got[32];
    snprintf(got, sizeof got, "%zu", v);
    FUZZ_ASSERT(sig == 0 ? v == 0 : strlen(got) == sig && memcmp(got, buf + first, sig) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    params p;
    if (!a.chunk_size)
        arena_init(&a, 4096);

    int rc = parse_urlencoded(&a, buf, size, &p);
    FUZZ_ASSERT(rc == PARSE_OK || rc == PARSE_MALFORMED || rc == PARSE_NUL ||
                rc == PARSE_TOO_MANY);
    if (rc == PARSE_OK) {
        FUZZ_ASSERT(p.n <= PARAMS_MAX);
        for (size_t i = 0; i < p.n; i++) {
            FUZZ_ASSERT(p.v[i].key && p.v[i].val);
            FUZZ_ASSERT(strlen(p.v[i].val) == p.v[i].vlen);
            const param *first = params_get(&p, p.v[i].key);
            FUZZ_ASSERT(first && first <= &p.v[i]);
        }
    }
    /* The query parser: the same outcome and fields, each UTF-8, or
     * PARSE_UTF8 at a field before the form parser's end or refusal. */
    params q;
    int qrc = parse_query(&a, buf, size, &q);
    FUZZ_ASSERT(qrc == rc || (qrc == PARSE_UTF8 && rc != PARSE_TOO_MANY));
    if (qrc == PARSE_OK) {
        FUZZ_ASSERT(q.n == p.n);
        for (size_t i = 0; i < q.n; i++)
            FUZZ_ASSERT(utf8_length(q.v[i].key, strlen(q.v[i].key)) >= 0 &&
                        utf8_length(q.v[i].val, q.v[i].vlen) >= 0);
    }
    check_decode(buf, size, true);
    check_decode(buf, size, false);
    check_content_length(buf, size, 65536);
    check_content_length(buf, size, 16777216);
    check_content_length(buf, size, 0);
    arena_reset(&a);
    return 0;
}
