#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"

#define ORIGIN_MAX 1024

/* glibc's regcomp takes exponential memory on stacked repeats ("a++++"),
 * which POSIX leaves undefined anyway: refuse them, and long patterns.
 * Returns NULL when tok is acceptable, else the reason. */
const char *cors_pattern_problem(const char *tok)
{
    bool prev_repeat = false;
    if (strlen(tok) > 256)
        return "longer than 256 characters";
    for (const char *p = tok; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            prev_repeat = false;
            continue;
        }
        if (*p == '[') { /* a bracket expression: skip to its closing ] */
            const char *q = p + 1;
            q += *q == '^';
            q += *q == ']'; /* a ] first is a member */
            while (*q && *q != ']') {
                if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
                    const char close[3] = {q[1], ']', '\0'};
                    const char *e = strstr(q + 2, close);
                    if (!e)
                        return "an unclosed [: :], [. .] or [= =]";
                    q = e + 2;
                } else {
                    q++;
                }
            }
            if (!*q)
                return "an unclosed [";
            p = q;
            prev_repeat = false;
            continue;
        }
        bool repeat = *p == '*' || *p == '+' || *p == '?' || *p == '{';
        if (repeat && prev_repeat)
            return "a repetition follows another repetition";
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return "an unclosed {";
            for (const char *q = p + 1; q < end; q++)
                if ((*q >= '0' && *q <= '9' && atoi(q) > 16) || (*q != ',' && (*q < '0' || *q > '9')))
                    return "a {m,n} interval above 16 or malformed";
            p = end;
        }
        prev_repeat = repeat;
    }
    return NULL;
}

int cors_compile(cors_list *l, const char *patterns, char *err, size_t errlen)
{
    int ret = -1;
    char *copy = strdup(patterns ? patterns : "");
    char *wrapped = NULL;
    l->re = NULL;
    l->n = 0;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* Every token takes at least one byte and one separator. */
    size_t cap = strlen(copy) / 2 + 1;
    l->re = calloc(cap, sizeof *l->re);
    if (!l->re) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        size_t len = strlen(tok);
        const char *why = cors_pattern_problem(tok);
        if (why) {
            snprintf(err, errlen, "bad origin pattern '%.300s': %s", tok, why);
            goto out;
        }
        free(wrapped);
        wrapped = malloc(len + 5);
        if (!wrapped) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        /* Anchor both ends around a group, so "a|b" cannot match a prefix. */
        snprintf(wrapped, len + 5, "^(%s)$", tok);
        int rc = regcomp(&l->re[l->n], wrapped, REG_EXTENDED);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &l->re[l->n], msg, sizeof msg);
            snprintf(err, errlen, "bad origin pattern '%s': %s", tok, msg);
            goto out;
        }
        l->n++;
    }
    ret = 0;
out:
    free(wrapped);
    free(copy);
    if (ret != 0)
        cors_free(l);
    return ret;
}

void cors_free(cors_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        regfree(&l->re[i]);
    free(l->re);
    l->re = NULL;
    l->n = 0;
}

bool cors_allowed(const cors_list *l, const char *origin, size_t len)
{
    char buf[ORIGIN_MAX + 1];
    if (!origin || len == 0 || len > ORIGIN_MAX)
        return false;
    /* Only visible ASCII: never echo CR, LF, NUL or spaces into a header. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)origin[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    memcpy(buf, origin, len);
    buf[len] = '\0';
    /* The anchors are not enough on their own: a pattern such as "a)|(b"
     * escapes the group. POSIX matching is leftmost-longest, so a whole
     * match exists exactly when the match found spans the whole string. */
    for (size_t i = 0; i < l->n; i++) {
        regmatch_t m[1];
        if (regexec(&l->re[i], buf, 1, m, 0) == 0 && m[0].rm_so == 0 &&
            (size_t)m[0].rm_eo == len)
            return true;
    }
    return false;
}

bool cors_same_origin(const char *origin, const char *scheme, const char *host,
                      const char *server_name)
{
    if (!origin || !scheme || !host || !server_name || !*scheme || !*host || !*server_name)
        return false;
    /* The name part of Host: "[::1]:8080" -> "[::1]", "a.example:8080" -> "a.example". */
    const char *end = host[0] == '[' ? strchr(host, ']') : strchr(host, ':');
    size_t nl = end ? (size_t)(end - host) + (host[0] == '[') : strlen(host);
    size_t sl = strlen(scheme);
    return strlen(server_name) == nl && strncasecmp(host, server_name, nl) == 0 &&
           strncasecmp(origin, scheme, sl) == 0 && strncmp(origin + sl, "://", 3) == 0 &&
           strcasecmp(origin + sl + 3, host) == 0;
}

bool cors_request_same_origin(const request *r, const char *origin)
{
    return cors_same_origin(origin, request_param(r, "REQUEST_SCHEME"),
                            request_param(r, "HTTP_HOST"), request_param(r, "SERVER_NAME"));
}

bool cors_origin_ok(request *r, const cors_list *allowed, const char *origin)
{
    if (!origin || cors_request_same_origin(r, origin))
        return true;
    if (!cors_allowed(allowed, origin, strlen(origin)))
        return false;
    r->cors_origin = origin;
    return true;
}
