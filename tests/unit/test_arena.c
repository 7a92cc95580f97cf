/* Unit tests for app/arena.c: zeroed, aligned, non-overlapping memory that
 * survives until arena_reset(). Run under ASan, which catches overruns. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "check.h"

static bool zeroed(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int main(void)
{
    arena a;
    arena_init(&a, 64);
    CHECK(a.head == NULL);
    CHECK_INT(a.chunk_size, 64);

    /* Many small allocations across several chunks: aligned, zeroed and
     * each keeps its own bytes. */
    unsigned char *p[100];
    for (size_t i = 0; i < 100; i++) {
        size_t n = 1 + i % 37;
        p[i] = arena_alloc(&a, n);
        if (!CHECK(p[i] != NULL))
            return CHECK_DONE("test_arena");
        CHECK((uintptr_t)p[i] % alignof(max_align_t) == 0);
        CHECK(zeroed(p[i], n));
        memset(p[i], (int)i + 1, n);
    }
    bool intact = true;
    for (size_t i = 0; i < 100; i++)
        for (size_t j = 0; j < 1 + i % 37; j++)
            intact &= p[i][j] == (unsigned char)(i + 1);
    CHECK(intact);

    /* Larger than a chunk. */
    unsigned char *big = arena_alloc(&a, 10000);
    CHECK(big != NULL && zeroed(big, 10000));
    if (big)
        memset(big, 0xab, 10000);
    CHECK(arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK(arena_alloc(&a, SIZE_MAX - 8) == NULL);

    char *s = arena_strdup(&a, "job_id");
    CHECK_STR(s, "job_id");
    s = arena_strndup(&a, "input_file=x", 10);
    CHECK_STR(s, "input_file");
    s = arena_strndup(&a, "a\0b", 3);
    CHECK(s && memcmp(s, "a\0b", 4) == 0);
    s = arena_strndup(&a, "", 0);
    CHECK_STR(s, "");
    CHECK(arena_strndup(&a, "x", SIZE_MAX) == NULL);

    /* After a reset the arena is usable again and memory comes back
     * zeroed. */
    arena_reset(&a);
    CHECK(a.head != NULL);
    unsigned char *q = arena_alloc(&a, 32);
    CHECK(q != NULL && zeroed(q, 32));
    /* The first chunk is reused from its start, so a long-lived arena does
     * not grow from one request to the next. */
    CHECK(q == p[0]);
    arena_reset(&a);
    arena_reset(&a);
    q = arena_alloc(&a, 48);
    CHECK(q != NULL && zeroed(q, 48));

    arena_free(&a);
    CHECK(a.head == NULL);
    /* Free and reset of an empty arena are harmless; a zero chunk size
     * means the default. */
    arena_free(&a);
    arena_reset(&a);
    arena_init(&a, 0);
    CHECK(a.chunk_size > 0);
    CHECK(arena_alloc(&a, 0) != NULL);
    arena_free(&a);
    return CHECK_DONE("test_arena");
}
