/* Unit tests for app/cors.c: the allowed-origin patterns must match a whole
 * Origin and nothing that merely contains, extends or resembles it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cors.h"

static bool allowed(const cors_list *l, const char *origin)
{
    return cors_allowed(l, origin, strlen(origin));
}

/* Compiles patterns, failing the check (at the caller's line) if it does
 * not compile. */
static bool compile(cors_list *l, const char *patterns, int line)
{
    char err[256] = "";
    bool ok = cors_compile(l, patterns, err, sizeof err) == 0;
    if (!check_(ok, __FILE__, line, "cors_compile"))
        fprintf(stderr, "  patterns \"%s\": %s\n", patterns, err);
    return ok;
}

static void test_exact(void)
{
    cors_list l;
    if (!compile(&l, "https://app\\.example\\.com", __LINE__))
        return;
    CHECK_INT(l.n, 1);
    CHECK(allowed(&l, "https://app.example.com"));
    CHECK(!allowed(&l, "https://app.example.com.evil.net"));
    CHECK(!allowed(&l, "https://evil-app.example.com"));
    CHECK(!allowed(&l, "https://xapp.example.com"));
    CHECK(!allowed(&l, "http://app.example.com"));
    CHECK(!allowed(&l, "https://appxexample.com"));
    CHECK(!allowed(&l, "https://app.example.com/"));
    CHECK(!allowed(&l, "https://app.example.com:8443"));
    CHECK(!allowed(&l, "HTTPS://APP.EXAMPLE.COM"));
    CHECK(!allowed(&l, "null"));
    CHECK(!allowed(&l, ""));
    CHECK(!cors_allowed(&l, NULL, 0));
    /* The length is honoured: the origin need not be NUL-terminated. */
    CHECK(cors_allowed(&l, "https://app.example.com.evil.net", 23));
    CHECK(!cors_allowed(&l, "https://app.example.com", 22));
    cors_free(&l);
    CHECK(l.re == NULL && l.n == 0);
}

static void test_alternation(void)
{
    cors_list l;
    if (!compile(&l, "https://(a|b)\\.example\\.com", __LINE__))
        return;
    CHECK(allowed(&l, "https://a.example.com"));
    CHECK(allowed(&l, "https://b.example.com"));
    CHECK(!allowed(&l, "https://c.example.com"));
    CHECK(!allowed(&l, "https://a.example.com.evil.net"));
    CHECK(!allowed(&l, "https://xa.example.com"));
    cors_free(&l);

    /* A top-level alternation is anchored as a whole: neither branch may
     * match a prefix or a suffix. */
    if (!compile(&l, "https://a\\.example\\.com|https://b\\.example\\.com", __LINE__))
        return;
    CHECK(allowed(&l, "https://a.example.com"));
    CHECK(allowed(&l, "https://b.example.com"));
    CHECK(!allowed(&l, "https://a.example.com.evil.net"));
    CHECK(!allowed(&l, "https://evil.net/https://b.example.com"));
    CHECK(!allowed(&l, "xhttps://b.example.com"));
    cors_free(&l);
}

static void test_several(void)
{
    cors_list l;
    if (!compile(&l, "  https://app\\.example\\.com \thttp://localhost:[0-9]+   "
                     "https://[a-z]+\\.cdn\\.example\\.org ",
                 __LINE__))
        return;
    CHECK_INT(l.n, 3);
    CHECK(allowed(&l, "https://app.example.com"));
    CHECK(allowed(&l, "http://localhost:5173"));
    CHECK(allowed(&l, "https://img.cdn.example.org"));
    CHECK(!allowed(&l, "http://localhost:"));
    CHECK(!allowed(&l, "http://localhost:5173.evil.net"));
    CHECK(!allowed(&l, "https://a.b.cdn.example.org"));
    CHECK(!allowed(&l, "https://app.example.com http://localhost:1"));
    cors_free(&l);

    /* No patterns: nothing is allowed. */
    if (!compile(&l, "", __LINE__))
        return;
    CHECK_INT(l.n, 0);
    CHECK(!allowed(&l, "https://app.example.com"));
    cors_free(&l);
    if (!compile(&l, NULL, __LINE__))
        return;
    CHECK_INT(l.n, 0);
    cors_free(&l);
    if (!compile(&l, "   \t ", __LINE__))
        return;
    CHECK_INT(l.n, 0);
    cors_free(&l);
}

/* Patterns may be separated by newlines or CRs too (a multi-line
 * environment variable); each still counts as one pattern. */
static void test_line_separated(void)
{
    cors_list l;
    if (!compile(&l, "https://a\\.example\\.com\nhttps://b\\.example\\.com\r\n"
                     "https://c\\.example\\.com\rhttps://d\\.example\\.com\n\n",
                 __LINE__))
        return;
    CHECK_INT(l.n, 4);
    CHECK(allowed(&l, "https://a.example.com"));
    CHECK(allowed(&l, "https://b.example.com"));
    CHECK(allowed(&l, "https://c.example.com"));
    CHECK(allowed(&l, "https://d.example.com"));
    CHECK(!allowed(&l, "https://e.example.com"));
    cors_free(&l);

    /* Many one-byte patterns: the densest list there is. */
    if (!compile(&l, "a\nb\rc\td e\n\rf", __LINE__))
        return;
    CHECK_INT(l.n, 6);
    CHECK(allowed(&l, "f") && !allowed(&l, "g"));
    cors_free(&l);
}

/* A pattern with unbalanced parentheses must not slip out of the
 * anchoring: it is refused, or its branches still match whole origins. */
static void test_unbalanced(void)
{
    cors_list l;
    char err[256];
    if (cors_compile(&l, "https://a\\.example\\.com)|(https://b\\.example\\.com", err,
                     sizeof err) != 0)
        return;
    CHECK(!allowed(&l, "https://a.example.com.evil.net"));
    CHECK(!allowed(&l, "https://evil.net/https://b.example.com"));
    cors_free(&l);
}

static void test_unsafe_origins(void)
{
    cors_list l;
    if (!compile(&l, ".*", __LINE__))
        return;
    CHECK(allowed(&l, "https://anything.example"));
    CHECK(!allowed(&l, "https://a.example.com\r\nSet-Cookie: x=1"));
    CHECK(!allowed(&l, "https://a.example.com\n"));
    CHECK(!allowed(&l, "https://a.example.com\r"));
    CHECK(!allowed(&l, "https://a.example.com x"));
    CHECK(!allowed(&l, "https://a.example.com\t"));
    CHECK(!allowed(&l, "https://a.example.com\x7f"));
    CHECK(!allowed(&l, "https://\xE5\xA4\xA7.example"));
    CHECK(!cors_allowed(&l, "https://a\0.example.com", 22));
    CHECK(!cors_allowed(&l, "https://a.example.com\0", 22));
    CHECK(!allowed(&l, ""));

    /* 1024 bytes is the longest Origin considered. */
    char *big = malloc(1026);
    if (big) {
        memset(big, 'a', 1025);
        big[1025] = '\0';
        CHECK(cors_allowed(&l, big, 1024));
        CHECK(!cors_allowed(&l, big, 1025));
        free(big);
    }
    cors_free(&l);
}

static void test_bad_pattern(void)
{
    cors_list l;
    char err[256] = "";
    CHECK_INT(cors_compile(&l, "https://ok\\.example\\.com (", err, sizeof err), -1);
    CHECK_HAS(err, "'('");
    CHECK(l.re == NULL && l.n == 0);
    /* cors_free after a failed compile is harmless. */
    cors_free(&l);

    err[0] = '\0';
    CHECK_INT(cors_compile(&l, "https://[a-", err, sizeof err), -1);
    CHECK_HAS(err, "https://[a-");

    /* Stacked repeats after a bracket expression that opens with ] (found
     * by fuzz-config: glibc's regcomp took over 2 GB). */
    err[0] = '\0';
    CHECK_INT(cors_compile(&l, "https://x[][]+++++", err, sizeof err), -1);
    CHECK_HAS(err, "repetition");
    CHECK_INT(cors_compile(&l, "https://x[]a]++", err, sizeof err), -1);
    CHECK_INT(cors_compile(&l, "https://x[^]]++", err, sizeof err), -1);
    CHECK_INT(cors_compile(&l, "https://x[[:alpha:]]++", err, sizeof err), -1);
    CHECK_INT(cors_compile(&l, "https://x[[:alpha:]", err, sizeof err), -1);
    /* ... while bracket expressions themselves still work. */
    CHECK_INT(cors_compile(&l, "https://[[:alpha:]]+\\.example\\.com https://[]a-z]x", err,
                           sizeof err), 0);
    CHECK(cors_allowed(&l, "https://app.example.com", 23));
    CHECK(cors_allowed(&l, "https://]x", 10));
    cors_free(&l);

    /* A tiny error buffer is truncated, not overrun. */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    CHECK_INT(cors_compile(&l, "(", tiny, sizeof tiny), -1);
    CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
}

static void test_same_origin(void)
{
    CHECK(cors_same_origin("http://127.0.0.1:8080", "http", "127.0.0.1:8080", "127.0.0.1"));
    CHECK(cors_same_origin("https://Video.Example.com", "https", "video.example.com",
                           "video.example.com"));
    CHECK(cors_same_origin("http://[::1]:8080", "http", "[::1]:8080", "[::1]"));
    CHECK(!cors_same_origin("https://video.example.com", "http", "video.example.com",
                            "video.example.com"));
    CHECK(!cors_same_origin("http://video.example.com:81", "http", "video.example.com",
                            "video.example.com"));
    CHECK(!cors_same_origin("http://video.example.com", "http", "video.example.com:81",
                            "video.example.com"));
    CHECK(!cors_same_origin("http://video.example.com.evil.net", "http", "video.example.com",
                            "video.example.com"));
    CHECK(!cors_same_origin("http://evil.net", "http", "video.example.com", "video.example.com"));
    /* DNS rebinding: the attacker's name in Origin and Host, not the site's. */
    CHECK(!cors_same_origin("http://evil.net:8080", "http", "evil.net:8080", "video.example.com"));
    CHECK(!cors_same_origin("http://evil.net", "http", "evil.net", "_"));
    CHECK(!cors_same_origin("http://evil.net", "http", "evil.net", ""));
    CHECK(!cors_same_origin("http://video.example.co", "http", "video.example.co",
                            "video.example.com"));
    CHECK(!cors_same_origin("http:/video.example.com", "http", "video.example.com",
                            "video.example.com"));
    CHECK(!cors_same_origin("null", "http", "video.example.com", "video.example.com"));
    CHECK(!cors_same_origin("http://x", NULL, "x", "x"));
    CHECK(!cors_same_origin("http://x", "http", NULL, "x"));
    CHECK(!cors_same_origin("http://x", "http", "x", NULL));
    CHECK(!cors_same_origin(NULL, "http", "x", "x"));
}

int main(void)
{
    test_same_origin();
    test_exact();
    test_alternation();
    test_several();
    test_line_separated();
    test_unbalanced();
    test_unsafe_origins();
    test_bad_pattern();
    return CHECK_DONE("test_cors");
}
