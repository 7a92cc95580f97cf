#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t stamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n + (m > 0 ? (size_t)m : 0);
}

static void emit(char *line, size_t n, size_t cap)
{
    if (n >= cap - 1)
        n = cap - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void log_msg(const char *level, const char *fmt, ...)
{
    char line[2048];
    size_t n = stamp(line, sizeof line);
    int m = snprintf(line + n, sizeof line - n, " %s ", level);
    n += m > 0 ? (size_t)m : 0;
    va_list ap;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += (size_t)m;
    if (n >= sizeof line)
        n = sizeof line - 1;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    emit(line, n, sizeof line);
}

/* Copies s into out, escaping bytes that would break a log line. */
static size_t clean(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

void log_access(const char *method, const char *path, int status,
                long long duration_us, size_t bytes)
{
    char m[32], p[512], line[1024];
    clean(m, sizeof m, method ? method : "-");
    clean(p, sizeof p, path ? path : "-");
    size_t n = stamp(line, sizeof line);
    int k = snprintf(line + n, sizeof line - n, " access %s %s %d %lldus %zuB",
                     m, p, status, duration_us, bytes);
    if (k > 0)
        n += (size_t)k;
    emit(line, n, sizeof line);
}
