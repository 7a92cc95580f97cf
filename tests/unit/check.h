/* A minimal assertion header for the unit tests: each failed check prints
 * one "file:line: ..." line and the program exits non-zero at the end. */
#ifndef MEDIAGATE_TEST_CHECK_H
#define MEDIAGATE_TEST_CHECK_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int check_count_;
static int check_failed_;

static inline bool check_(bool ok, const char *file, int line, const char *expr)
{
    check_count_++;
    if (!ok) {
        check_failed_++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    }
    return ok;
}

static inline bool check_long_(long got, long want, const char *file, int line,
                               const char *expr)
{
    check_count_++;
    if (got != want) {
        check_failed_++;
        fprintf(stderr, "%s:%d: check failed: %s: got %ld, want %ld\n", file, line, expr,
                got, want);
        return false;
    }
    return true;
}

static inline bool check_str_(const char *got, const char *want, const char *file,
                              int line, const char *expr)
{
    check_count_++;
    if (!got || !want ? got != want : strcmp(got, want) != 0) {
        check_failed_++;
        fprintf(stderr, "%s:%d: check failed: %s: got \"%s\", want \"%s\"\n", file, line,
                expr, got ? got : "(null)", want ? want : "(null)");
        return false;
    }
    return true;
}

/* True when haystack contains needle; reports both on failure. */
static inline bool check_has_(const char *hay, const char *needle, bool want,
                              const char *file, int line, const char *expr)
{
    check_count_++;
    bool has = hay && strstr(hay, needle) != NULL;
    if (has != want) {
        check_failed_++;
        fprintf(stderr, "%s:%d: check failed: %s: \"%s\" %s \"%s\"\n", file, line, expr,
                hay ? hay : "(null)", want ? "lacks" : "contains", needle);
        return false;
    }
    return true;
}

static inline int check_done_(const char *name)
{
    if (check_failed_)
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failed_, check_count_);
    else
        printf("%s: all %d checks passed\n", name, check_count_);
    return check_failed_ ? 1 : 0;
}

#define CHECK(e) check_(!!(e), __FILE__, __LINE__, #e)
#define CHECK_INT(got, want) check_long_((long)(got), (long)(want), __FILE__, __LINE__, #got)
#define CHECK_STR(got, want) check_str_((got), (want), __FILE__, __LINE__, #got)
#define CHECK_HAS(hay, needle) check_has_((hay), (needle), true, __FILE__, __LINE__, #hay)
#define CHECK_LACKS(hay, needle) check_has_((hay), (needle), false, __FILE__, __LINE__, #hay)
#define CHECK_DONE(name) check_done_(name)

#endif
