/* app/hash.c: hex, SHA-256, and the one UUID validator every id from a
 * URL, a form or a task payload goes through. libuuid is the oracle for
 * what a UUID is; ours also refuses upper case. */
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "check.h"
#include "hash.h"

/* uuid_valid on a NUL-terminated string. */
static bool valid(const char *s)
{
    return uuid_valid(s, strlen(s));
}

static void test_uuid_accepts(void)
{
    CHECK(valid("0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f"));
    CHECK(valid("00000000-0000-0000-0000-000000000000"));
    CHECK(valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
    /* Whatever we issue is valid, and fits the buffer. */
    for (int i = 0; i < 1000; i++) {
        uuid_t u;
        char id[UUID_BUF];
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
        if (!CHECK(strlen(id) == UUID_LEN && valid(id)))
            break;
    }
    /* The length bounds the check: the id in an upload path before its '/'. */
    const char *path = "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f/clip.mp4";
    CHECK(uuid_valid(path, UUID_LEN));
    CHECK(!uuid_valid(path, UUID_LEN + 1));
    CHECK(!uuid_valid(path, strlen(path)));
}

static void test_uuid_refuses(void)
{
    static const char *const bad[] = {
        "",
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2",     /* 35 */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2ff",   /* 37 */
        "0b7d6c2e1f3a4e5b9c8d7a6b5c4d3e2f",        /* no dashes */
        "0B7D6C2E-1F3A-4E5B-9C8D-7A6B5C4D3E2F",    /* upper case: ids are issued lower */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3E2f",    /* one upper-case digit */
        "0b7d6c2g-1f3a-4e5b-9c8d-7a6b5c4d3e2f",    /* not hex */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2 ",    /* trailing space */
        " b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f",    /* leading space */
        "0b7d6c2e1-f3a-4e5b-9c8d-7a6b5c4d3e2f",    /* dash moved right */
        "0b7d6c2-e1f3a-4e5b-9c8d-7a6b5c4d3e2f",    /* dash moved left */
        "0b7d6c2e-1f3a-4e5b-9c8d7-a6b5c4d3e2f",    /* the last dash moved */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b-c4d3e2f",    /* an extra dash, a digit short */
        "------------------------------------",    /* 36 dashes */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f\n",  /* a newline after */
        "{b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2}",    /* braces */
        "../../../../../../../../../etc/pass",     /* 36, a path */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e/f",    /* a slash */
        "0b7d6c2e_1f3a_4e5b_9c8d_7a6b5c4d3e2f",    /* underscores */
        "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2\xc3", /* a non-ASCII byte */
        ("\xff\xff\xff\xff\xff\xff\xff\xff-\xff\xff\xff\xff-\xff\xff\xff\xff-\xff\xff\xff\xff-"
         "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), /* all bytes 0xff */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!CHECK(!valid(bad[i])))
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);

    /* A NUL inside the 36 bytes: strlen would stop there; the length does not. */
    char nul[UUID_BUF] = "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f";
    for (size_t i = 0; i < UUID_LEN; i++) {
        char keep = nul[i];
        nul[i] = '\0';
        if (!CHECK(!uuid_valid(nul, UUID_LEN)))
            fprintf(stderr, "  accepted a NUL at %zu\n", i);
        nul[i] = keep;
    }
    CHECK(uuid_valid(nul, UUID_LEN));
}

/* Every single-byte change of a valid id: ours says yes exactly when
 * libuuid parses it and it is in lower case. */
static void test_uuid_against_libuuid(void)
{
    char s[UUID_BUF] = "0b7d6c2e-1f3a-4e5b-9c8d-7a6b5c4d3e2f";
    for (size_t i = 0; i < UUID_LEN; i++) {
        char keep = s[i];
        for (int c = 1; c < 256; c++) {
            s[i] = (char)c;
            uuid_t u;
            bool want = uuid_parse(s, u) == 0 && strspn(s, "0123456789abcdef-") == UUID_LEN;
            if (!CHECK(valid(s) == want)) {
                fprintf(stderr, "  byte %d at %zu\n", c, i);
                return;
            }
        }
        s[i] = keep;
    }
}

static void test_hex(void)
{
    char out[65];
    to_hex((const unsigned char *)"\x00\x0f\xa5\xff", 4, out);
    CHECK_STR(out, "000fa5ff");
    sha256_hex("abc", 3, out);
    CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(random_hex(out), 0);
    CHECK_INT(strlen(out), 64);
    CHECK_INT(strspn(out, "0123456789abcdef"), 64);
}

/* uuid_new: a valid id, version 4, variant 1, a new one each time. */
static void test_uuid_new(void)
{
    char a[UUID_BUF], b[UUID_BUF];
    uuid_new(a);
    uuid_new(b);
    CHECK(uuid_valid(a, strlen(a)));
    CHECK(uuid_valid(b, strlen(b)));
    CHECK(a[14] == '4');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) != 0);
}

int main(void)
{
    test_uuid_accepts();
    test_uuid_refuses();
    test_uuid_against_libuuid();
    test_uuid_new();
    test_hex();
    return CHECK_DONE("test_hash");
}
