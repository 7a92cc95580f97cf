/* What the operator commands share: printing values from the database
 * safely to a terminal and reading ids (SQL errors: app/cli/sql.c). */
#include "cli/cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#define JSON_OID 114
#define JSONB_OID 3802

/* The length of the UTF-8 character at s[0..n) (1 for a byte that starts
 * none), and in *shown whether a terminal shows it as itself (not C0, DEL
 * or C1). */
static size_t next_char(const unsigned char *s, size_t n, bool *shown)
{
    *shown = s[0] >= 0x20 && s[0] < 0x7f;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 1; /* ASCII, a continuation, overlong or out of range */
    size_t k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (k > n || utf8_length((const char *)s, k) != 1)
        return 1;
    *shown = !(k == 2 && s[0] == 0xc2 && s[1] < 0xa0); /* C1: U+0080 to U+009F */
    return k;
}

void cli_put_clean(FILE *f, const char *s, const char *indent, int width)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    int col = 0;
    for (size_t i = 0, k; i < len; i += k, col++) {
        bool shown;
        k = next_char(u + i, len - i, &shown);
        if (u[i] == '\n' && indent) {
            fprintf(f, "\n%s", indent);
            col = -1;
        } else if (shown)
            fwrite(u + i, 1, k, f);
        else
            fputc(u[i] == '\t' ? ' ' : '?', f);
    }
    for (; col < width; col++)
        fputc(' ', f);
}

/* Prints a json or jsonb value pretty, each line after the first indented;
 * the text as it is when it does not parse. */
static void put_json(FILE *f, const char *text, size_t len, const char *indent)
{
    const char *err;
    json_object *o = parse_json(text, len, &err);
    int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE;
    cli_put_clean(f, o ? json_object_to_json_string_ext(o, flags) : text, indent, 0);
    json_object_put(o);
}

void cli_show_row(FILE *f, const PGresult *res)
{
    int w = 0;
    for (int j = 0; j < PQnfields(res); j++) {
        int n = (int)strlen(PQfname(res, j));
        w = n > w ? n : w;
    }
    char indent[64];
    snprintf(indent, sizeof indent, "%*s", w + 2 < 63 ? w + 2 : 63, "");
    for (int j = 0; j < PQnfields(res); j++) {
        fprintf(f, "%s:%*s ", PQfname(res, j), w - (int)strlen(PQfname(res, j)), "");
        Oid t = PQftype(res, j);
        if (PQgetisnull(res, 0, j))
            fputs("-", f);
        else if (t == JSON_OID || t == JSONB_OID)
            put_json(f, PQgetvalue(res, 0, j), (size_t)PQgetlength(res, 0, j), indent);
        else
            cli_put_clean(f, PQgetvalue(res, 0, j), indent, 0);
        fputc('\n', f);
    }
}

bool cli_parse_bigint(const char *what, const char *s, char out[24])
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    bool digits = (s[0] >= '0' && s[0] <= '9') ||
                  ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9');
    if (!digits || *end || errno == ERANGE) {
        fprintf(stderr, "mediagate: a %s id is a whole number, not '", what);
        cli_put_clean(stderr, s, " ", 0);
        fputs("'\n", stderr);
        return false;
    }
    snprintf(out, 24, "%lld", v);
    return true;
}
