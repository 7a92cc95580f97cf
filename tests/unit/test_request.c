/* Unit tests for app/request.c: CONTENT_LENGTH, percent-decoding, query
 * strings, JSON bodies and the media API's parameter convention. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "request.h"

#define CAP 65536
/* A string literal and its length, NUL bytes included. */
#define LIT(s) s, sizeof(s) - 1

/* parse_content_length on a NUL-terminated string (NULL stays NULL). */
static int cl(const char *s, size_t cap, size_t *out)
{
    return parse_content_length(s, s ? strlen(s) : 0, cap, out);
}

static void test_msec(void)
{
    long long ms = -1;
    CHECK(parse_msec(LIT("1733530000.123"), &ms));
    CHECK(ms == 1733530000123LL);
    CHECK(parse_msec(LIT("0.001"), &ms));
    CHECK(ms == 1);
    ms = 7;
    CHECK(!parse_msec(LIT(""), &ms));
    CHECK(!parse_msec(NULL, 0, &ms));
    CHECK(!parse_msec(LIT(".123"), &ms));
    CHECK(!parse_msec(LIT("1733530000"), &ms));
    CHECK(!parse_msec(LIT("1733530000.12"), &ms));
    CHECK(!parse_msec(LIT("1733530000.1234"), &ms));
    CHECK(!parse_msec(LIT("-1733530000.123"), &ms));
    CHECK(!parse_msec(LIT("17335x0000.123"), &ms));
    CHECK(!parse_msec(LIT("1733530000,123"), &ms));
    CHECK(!parse_msec(LIT("1733530000.1\0003"), &ms));
    CHECK(!parse_msec(LIT("99999999999999999.123"), &ms));
    CHECK(ms == 7);
}

static void test_content_length(void)
{
    size_t v = 123;
    CHECK_INT(cl("", CAP, &v), PARSE_OK);
    CHECK_INT(v, 0);
    v = 123;
    CHECK_INT(cl(NULL, CAP, &v), PARSE_OK);
    CHECK_INT(v, 0);
    CHECK_INT(cl("0", CAP, &v), PARSE_OK);
    CHECK_INT(v, 0);
    CHECK_INT(cl("42", CAP, &v), PARSE_OK);
    CHECK_INT(v, 42);
    CHECK_INT(cl("0042", CAP, &v), PARSE_OK);
    CHECK_INT(v, 42);

    static const char *bad[] = {"-1", "1e3", " 5", "5 ", "+5", "0x10", "4 2", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        if (!CHECK_INT(cl(bad[i], CAP, &v), PARSE_MALFORMED))
            fprintf(stderr, "  input: \"%s\"\n", bad[i]);
        CHECK_INT(v, 0);
    }
    /* Only len bytes count: "42" followed by junk the caller excluded. */
    CHECK_INT(parse_content_length("42xyz", 2, CAP, &v), PARSE_OK);
    CHECK_INT(v, 42);
    /* A NUL inside the counted bytes is not a digit. */
    CHECK_INT(parse_content_length("4\0" "2", 3, CAP, &v), PARSE_MALFORMED);

    v = 7;
    CHECK_INT(cl("99999999999999999999", CAP, &v), PARSE_TOO_LARGE);
    CHECK_INT(v, 0);
    /* 20 digits whose value wraps size_t to something small if computed
     * naively: 2^64 + 5 = 18446744073709551621. */
    CHECK_INT(cl("18446744073709551621", CAP, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("65537", CAP, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("65536", CAP, &v), PARSE_OK);
    CHECK_INT(v, 65536);
    CHECK_INT(cl("0000000000000000000000065536", CAP, &v), PARSE_OK);
    CHECK_INT(v, 65536);
    CHECK_INT(cl("1", 0, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("0", 0, &v), PARSE_OK);
    /* A cap that still leaves room for a whole digit step. */
    CHECK_INT(cl("1000000000000000000", SIZE_MAX / 10, &v), PARSE_OK);
    CHECK(v == 1000000000000000000u);
#if SIZE_MAX == 18446744073709551615u
    /* Even a cap near SIZE_MAX cannot be overflowed past. */
    CHECK_INT(cl("99999999999999999999", SIZE_MAX, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("18446744073709551616", SIZE_MAX, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("18446744073709551620", SIZE_MAX, &v), PARSE_TOO_LARGE);
    CHECK_INT(cl("18446744073709551615", SIZE_MAX, &v), PARSE_OK);
    CHECK(v == SIZE_MAX);
    CHECK_INT(cl("1844674407370955162", SIZE_MAX / 10, &v), PARSE_TOO_LARGE);
#endif
}

/* url_decode on a NUL-terminated string. */
static int dec(arena *a, const char *s, bool plus, char **out, size_t *n)
{
    return url_decode(a, s, strlen(s), plus, out, n);
}

static void test_url_decode(arena *a)
{
    char *o = NULL;
    size_t n = 99;
    CHECK_INT(dec(a, "a+b", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "a b");
    CHECK_INT(n, 3);
    CHECK_INT(dec(a, "a+b", false, &o, &n), PARSE_OK);
    CHECK_STR(o, "a+b");
    CHECK_INT(dec(a, "a%20b", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "a b");
    CHECK_INT(dec(a, "%2B", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "+");
    CHECK_INT(dec(a, "%2b%2F%7e", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "+/~");
    CHECK_INT(dec(a, "", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "");
    CHECK_INT(n, 0);
    CHECK_INT(dec(a, "%E5%A4%A7.mp4", true, &o, &n), PARSE_OK);
    CHECK_STR(o, "\xE5\xA4\xA7.mp4");
    CHECK_INT(n, 7);

    static const char *bad[] = {"%zz", "%4", "%", "a%", "%4g", "%g4", "abc%2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK_INT(dec(a, bad[i], true, &o, &n), PARSE_MALFORMED))
            fprintf(stderr, "  input: \"%s\"\n", bad[i]);
    /* An escape cut by len is incomplete even if the buffer goes on. */
    CHECK_INT(url_decode(a, "%41", 2, true, &o, &n), PARSE_MALFORMED);
    CHECK_INT(url_decode(a, "%41", 3, true, &o, &n), PARSE_OK);
    CHECK_STR(o, "A");

    CHECK_INT(dec(a, "a%00b", true, &o, &n), PARSE_NUL);
    CHECK_INT(url_decode(a, "a\0b", 3, true, &o, &n), PARSE_NUL);
}

static void test_urlencoded(arena *a)
{
    params p;
    const param *v;
    const char *q;

    q = "job_id=abc";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 1);
    v = params_get(&p, "job_id");
    CHECK(v && strcmp(v->val, "abc") == 0 && v->vlen == 3);
    CHECK(params_get(&p, "job") == NULL);
    CHECK(params_get(&p, "job_id2") == NULL);

    q = "a=1&&b=2&";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 2);
    v = params_get(&p, "a");
    CHECK(v && strcmp(v->val, "1") == 0);
    v = params_get(&p, "b");
    CHECK(v && strcmp(v->val, "2") == 0);

    q = "flag&job_id=";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 2);
    v = params_get(&p, "flag");
    CHECK(v && strcmp(v->val, "") == 0 && v->vlen == 0);
    v = params_get(&p, "job_id");
    CHECK(v && strcmp(v->val, "") == 0 && v->vlen == 0);

    q = "k=first&k=second";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 2);
    v = params_get(&p, "k");
    CHECK(v && strcmp(v->val, "first") == 0);

    q = "input_file=%E5%A4%A7.mp4&x=1";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    v = params_get(&p, "input_file");
    CHECK(v && strcmp(v->val, "\xE5\xA4\xA7.mp4") == 0 && v->vlen == 7);

    q = "input_file=a%2Fb+c.mp4&a%20b=x%3Dy";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    v = params_get(&p, "input_file");
    CHECK(v && strcmp(v->val, "a/b c.mp4") == 0);
    v = params_get(&p, "a b");
    CHECK(v && strcmp(v->val, "x=y") == 0);

    /* Only the first '=' splits. */
    q = "k=a=b";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    v = params_get(&p, "k");
    CHECK(v && strcmp(v->val, "a=b") == 0);

    CHECK_INT(parse_urlencoded(a, "", 0, &p), PARSE_OK);
    CHECK_INT(p.n, 0);
    CHECK_INT(parse_urlencoded(a, NULL, 0, &p), PARSE_OK);
    CHECK_INT(p.n, 0);
    CHECK(params_get(&p, "x") == NULL);

    q = "a=%zz";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_MALFORMED);
    q = "%zz=1";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_MALFORMED);
    q = "a=1&b=%4";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_MALFORMED);
    q = "a=%00";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_NUL);
    q = "a%00=1";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_NUL);
    CHECK_INT(parse_urlencoded(a, "a=1\0&b=2", 8, &p), PARSE_NUL);
    CHECK_INT(parse_urlencoded(a, "a=1&\0b=2", 8, &p), PARSE_NUL);

    /* PARAMS_MAX fields are fine, one more is refused. */
    char many[PARAMS_MAX * 4 + 8];
    size_t len = 0;
    for (int i = 0; i < PARAMS_MAX; i++)
        len += (size_t)snprintf(many + len, sizeof many - len, "%sa=%d", i ? "&" : "",
                                i % 10);
    CHECK_INT(parse_urlencoded(a, many, len, &p), PARSE_OK);
    CHECK_INT(p.n, PARAMS_MAX);
    v = params_get(&p, "a");
    CHECK(v && strcmp(v->val, "0") == 0);
    len += (size_t)snprintf(many + len, sizeof many - len, "&z=1");
    CHECK_INT(parse_urlencoded(a, many, len, &p), PARSE_TOO_MANY);

    /* Empty segments are no fields: they count toward no limit. */
    char gaps[PARAMS_MAX * 8 + 8];
    len = 0;
    for (int i = 0; i < PARAMS_MAX; i++)
        len += (size_t)snprintf(gaps + len, sizeof gaps - len, "&&a=%d&&", i % 10);
    CHECK_INT(parse_urlencoded(a, gaps, len, &p), PARSE_OK);
    CHECK_INT(p.n, PARAMS_MAX);
    CHECK_INT(parse_query(a, gaps, len, &p), PARSE_OK);
    CHECK_INT(p.n, PARAMS_MAX);
    q = "a=1&&&&b=2&";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 2);
    q = "&&&&";
    CHECK_INT(parse_urlencoded(a, q, strlen(q), &p), PARSE_OK);
    CHECK_INT(p.n, 0);
    CHECK(params_get(&p, "a") == NULL);
    len += (size_t)snprintf(gaps + len, sizeof gaps - len, "z=1");
    CHECK_INT(parse_urlencoded(a, gaps, len, &p), PARSE_TOO_MANY);
}

/* A query's keys and values decode to UTF-8 or the query is refused; a
 * form body (parse_urlencoded) leaves that to the handler's own check. */
static void test_query_utf8(arena *a)
{
    params p;
    static const char *bad[] = {"x=%FF",       "x=a%C3%28b", "%C0%AF=1",    "x=%ED%A0%80",
                                "x=%F4%90%80%80", "x=\xff",  "ok=1&x=%E6%98", "%FF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK_INT(parse_query(a, bad[i], strlen(bad[i]), &p), PARSE_UTF8))
            fprintf(stderr, "  query \"%s\"\n", bad[i]);
        CHECK_INT(parse_urlencoded(a, bad[i], strlen(bad[i]), &p), PARSE_OK);
    }
    const char *q = "name=%C3%A9t%C3%A9&%E6%98%A0=%F0%9F%8E%AC";
    CHECK_INT(parse_query(a, q, strlen(q), &p), PARSE_OK);
    const param *v = params_get(&p, "name");
    CHECK(v && strcmp(v->val, "\xc3\xa9t\xc3\xa9") == 0);
    v = params_get(&p, "\xe6\x98\xa0");
    CHECK(v && strcmp(v->val, "\xf0\x9f\x8e\xac") == 0);
    /* The other refusals keep their own outcome. */
    CHECK_INT(parse_query(a, "x=%zz", 5, &p), PARSE_MALFORMED);
    CHECK_INT(parse_query(a, "x=%00", 5, &p), PARSE_NUL);
}

/* parse_json on a string; returns whether it was accepted and checks that
 * a refusal comes with a message. */
static bool json_ok(const char *s, size_t len)
{
    const char *err = "unset";
    struct json_object *o = parse_json(s, len, &err);
    bool ok = o != NULL;
    if (ok)
        CHECK(err == NULL);
    else
        CHECK(err != NULL && *err);
    json_object_put(o);
    return ok;
}

static void test_json(void)
{
    const char *err = "unset";
    const char *s = "{\"input_file\": \"a/b.mp4\", \"n\": 3}";
    struct json_object *o = parse_json(s, strlen(s), &err);
    CHECK(o != NULL);
    CHECK(err == NULL);
    struct json_object *f = NULL;
    CHECK(o && json_object_object_get_ex(o, "input_file", &f) &&
          json_object_is_type(f, json_type_string) &&
          strcmp(json_object_get_string(f), "a/b.mp4") == 0);
    CHECK(o && json_object_object_get_ex(o, "n", &f) && json_object_get_int(f) == 3);
    json_object_put(o);

    CHECK(json_ok(LIT("{}")));
    CHECK(json_ok(LIT("[1,2]")));
    CHECK(json_ok(LIT("{} \r\n\t")));
    CHECK(json_ok(LIT("{\"k\":\"\xE5\xA4\xA7\"}")));
    /* Only len bytes are parsed. */
    CHECK(json_ok("{}garbage", 2));

    CHECK(!json_ok(LIT("{}x")));
    CHECK(!json_ok(LIT("{} {}")));
    CHECK(!json_ok(LIT("{\"a\":")));
    CHECK(!json_ok(LIT("{\"a\":1")));
    CHECK(!json_ok(LIT("")));
    CHECK(!json_ok(LIT("   ")));
    CHECK(!json_ok(LIT("null")));
    CHECK(!json_ok(LIT("{\"a\":\"\xff\"}")));
    CHECK(!json_ok(LIT("{\"a\":\"\xe5\xa4\"}")));
    CHECK(!json_ok(LIT("{\"a\":\"\xc3\"}")));
    CHECK(!json_ok(LIT("{\"\xff\":1}")));
    /* What json-c's own UTF-8 check lets through and PostgreSQL refuses:
     * overlong forms, surrogates, beyond U+10FFFF (found by fuzz_json). */
    CHECK(!json_ok(LIT("{\"a\":\"\xc0\xaf\"}")));
    /* A number that ends the body is whole (json-c waits for more). */
    CHECK(json_ok(LIT("1")));
    CHECK(json_ok(LIT("-1.5e3")));
    CHECK(json_ok(LIT("[1]")));
    CHECK(!json_ok(LIT("-")));
    CHECK(!json_ok(LIT("[1")));
    CHECK(!json_ok(LIT("nul")));
    CHECK(!json_ok(LIT("{\"a\":\"\xed\xa4\xa7\"}")));
    CHECK(!json_ok(LIT("{\"a\":\"\xf4\x90\x80\x80\"}")));
    CHECK(!json_ok(LIT("{\"\xe0\x80\xaf\":1}")));
    CHECK(json_ok(LIT("{\"a\":\"\\ud800\\ud83c\\udfac\xf4\x8f\xbf\xbf\"}")));
    /* Strict mode: no single-quoted values, no trailing commas, no
     * comments. (json-c 0.16 still takes a single-quoted key.) */
    CHECK(!json_ok(LIT("{\"a\":'x'}")));
    CHECK(!json_ok(LIT("{\"a\":1,}")));
    CHECK(!json_ok(LIT("{} // c")));
    CHECK(!json_ok(LIT("{\"a\":\0}")));
    /* A NUL byte is not whitespace, even after a complete value. */
    CHECK(!json_ok(LIT("{}\0")));
    CHECK(!json_ok(LIT("{\"a\":1}\0\0")));
    CHECK(!json_ok(LIT("[] \0 ")));
}

/* A request with its own arena and a parsed query, as the dispatcher
 * leaves it. */
static void set_query(request *r, const char *q)
{
    json_object_put(r->out);
    r->out = NULL;
    r->query = q;
    r->qp = (params){0};
    if (q)
        CHECK_INT(parse_urlencoded(r->a, q, strlen(q), &r->qp), PARSE_OK);
}

/* Checks r->out is {"success": false, "message": msg} and nothing else. */
static void check_error_body(const request *r, const char *msg, int line)
{
    struct json_object *s = NULL, *m = NULL;
    bool ok = r->out && json_object_is_type(r->out, json_type_object) &&
              json_object_object_length(r->out) == 2 &&
              json_object_object_get_ex(r->out, "success", &s) &&
              json_object_is_type(s, json_type_boolean) && !json_object_get_boolean(s) &&
              json_object_object_get_ex(r->out, "message", &m) &&
              json_object_is_type(m, json_type_string) &&
              strcmp(json_object_get_string(m), msg) == 0;
    if (!check_(ok, __FILE__, line, "error body"))
        fprintf(stderr, "  got %s, want message \"%s\"\n",
                r->out ? json_object_to_json_string(r->out) : "(no body)", msg);
}

static void test_require_param(arena *a)
{
    request r = {0};
    const char *v = "unset";
    r.a = a;

    set_query(&r, NULL);
    CHECK_INT(require_param(&r, "job_id", &v), 400);
    CHECK(v == NULL);
    check_error_body(&r, "Not found parameter.", __LINE__);
    CHECK_STR(r.cache_control, "no-store");

    set_query(&r, "");
    CHECK_INT(require_param(&r, "job_id", &v), 400);
    check_error_body(&r, "Not found parameter job_id.", __LINE__);

    set_query(&r, "other=1&job_idx=2");
    CHECK_INT(require_param(&r, "job_id", &v), 400);
    check_error_body(&r, "Not found parameter job_id.", __LINE__);

    set_query(&r, "job_id=");
    CHECK_INT(require_param(&r, "job_id", &v), 422);
    CHECK(v == NULL);
    check_error_body(&r, "Not exist parameter job_id.", __LINE__);

    set_query(&r, "job_id");
    CHECK_INT(require_param(&r, "job_id", &v), 422);
    check_error_body(&r, "Not exist parameter job_id.", __LINE__);

    set_query(&r, "input_file=a%2Fb.mp4&job_id=abc");
    r.etag = true;
    CHECK_INT(require_param(&r, "job_id", &v), 0);
    CHECK_STR(v, "abc");
    CHECK(r.out == NULL);
    CHECK_INT(require_param(&r, "input_file", &v), 0);
    CHECK_STR(v, "a/b.mp4");

    /* reply_error replaces an earlier body and turns caching off. */
    r.out = json_object_new_object();
    r.cache_control = "public, max-age=60";
    CHECK_INT(reply_error(&r, 503, "busy"), 503);
    check_error_body(&r, "busy", __LINE__);
    CHECK(!r.etag);
    CHECK_STR(r.cache_control, "no-store");

    CHECK_INT(reply_db_error(&r, 503), 503);
    CHECK_INT(reply_db_error(&r, 409), 409);
    CHECK_INT(reply_db_error(&r, 400), 400);
    CHECK_INT(reply_db_error(&r, 500), 500);
    CHECK_INT(reply_db_error(&r, 12345), 500);
    check_error_body(&r, "Internal error.", __LINE__);
    json_object_put(r.out);
}

static void test_utf8_length(void)
{
    CHECK_INT(utf8_length("", 0), 0);
    CHECK_INT(utf8_length("abc", 3), 3);
    CHECK_INT(utf8_length("\xc3\xa9t\xc3\xa9", 5), 3);         /* été */
    CHECK_INT(utf8_length("\xe6\x98\xa0\xe7\x94\xbb", 6), 2); /* 映画 */
    CHECK_INT(utf8_length("\xf0\x9f\x8e\xac", 4), 1);          /* U+1F3AC */
    static const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\x80", "\xe6\x98"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(utf8_length(bad[i], strlen(bad[i])), -1);
}

int main(void)
{
    test_utf8_length();
    arena a;
    arena_init(&a, 256);
    test_msec();
    test_content_length();
    test_url_decode(&a);
    arena_reset(&a);
    test_urlencoded(&a);
    arena_reset(&a);
    test_query_utf8(&a);
    arena_reset(&a);
    test_json();
    test_require_param(&a);
    arena_free(&a);
    return CHECK_DONE("test_request");
}
