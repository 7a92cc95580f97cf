#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool json_lines;
static _Thread_local const char *request_id;

void log_set_json(bool json)
{
    atomic_store_explicit(&json_lines, json, memory_order_relaxed);
}

void log_set_request_id(const char *id)
{
    request_id = id;
}

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

/* Appends s to out[*n..cap) as the inside of a JSON string. */
static void json_str(char *out, size_t *n, size_t cap, const char *s)
{
    for (; *s && *n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f)
            *n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", c);
        else
            out[(*n)++] = (char)c;
    }
}

void log_msg(const char *level, const char *fmt, ...)
{
    char msg[1536], line[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t ml = m > 0 ? ((size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1) : 0;
    msg[ml] = '\0';
    while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
        msg[--ml] = '\0';
    size_t n = 0;
    if (atomic_load_explicit(&json_lines, memory_order_relaxed)) {
        char ts[40];
        stamp(ts, sizeof ts);
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level);
        json_str(line, &n, sizeof line - 64, msg);
        if (request_id)
            n += (size_t)snprintf(line + n, sizeof line - n, "\",\"request_id\":\"%s", request_id);
        if (n < sizeof line - 3)
            n += (size_t)snprintf(line + n, sizeof line - n, "\"}");
        emit(line, n, sizeof line);
        return;
    }
    n = stamp(line, sizeof line);
    m = snprintf(line + n, sizeof line - n, " %s %s", level, msg);
    n += m > 0 ? (size_t)m : 0;
    if (request_id && n < sizeof line) {
        m = snprintf(line + n, sizeof line - n, " request_id=%s", request_id);
        n += m > 0 ? (size_t)m : 0;
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
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
    int k;
    if (atomic_load_explicit(&json_lines, memory_order_relaxed)) {
        char ts[40];
        memcpy(ts, line, n + 1);
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"access\",\"method\":\"", ts);
        json_str(line, &n, 96, method ? method : "-");
        n += (size_t)snprintf(line + n, sizeof line - n, "\",\"path\":\"");
        json_str(line, &n, sizeof line - 200, path ? path : "-");
        k = snprintf(line + n, sizeof line - n,
                     "\",\"status\":%d,\"duration_us\":%lld,\"bytes\":%zu,\"request_id\":\"%s\"}",
                     status, duration_us, bytes, request_id ? request_id : "");
        n += k > 0 ? (size_t)k : 0;
    } else {
        k = snprintf(line + n, sizeof line - n, " access %s %s %d %lldus %zuB", m, p, status,
                     duration_us, bytes);
        if (k > 0)
            n += (size_t)k;
        if (request_id && n < sizeof line) {
            k = snprintf(line + n, sizeof line - n, " request_id=%s", request_id);
            n += k > 0 ? (size_t)k : 0;
        }
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
    emit(line, n, sizeof line);
}
