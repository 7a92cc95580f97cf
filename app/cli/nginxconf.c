/* mediagate nginx-conf: the site's own lines for the shipped nginx
 * snippets, made from the settings, so that no installed file is edited
 * and nginx's copy of MEDIAGATE_ALLOWED_ORIGINS cannot drift from it. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define DEFAULT_SOCKET "/run/mediagate/mediagate.sock"

/* True when s can stand in an nginx value as is: no space, quote, brace,
 * semicolon, $ or backslash, and not empty. */
static bool plain_value(const char *s)
{
    return *s && !strpbrk(s, " \t\r\n\"';${}\\");
}

/* Prints MEDIAGATE_ALLOWED_ORIGINS as one PCRE alternation of the whole
 * Origin ("(a)|(b)"), for a double-quoted nginx string. Returns the count
 * of patterns, or -1 (after saying why) for a pattern nginx would read
 * otherwise: a double quote, or a backslash before a quote, a backslash,
 * t, r or n (nginx unescapes those in quoted strings). */
static int put_origins(FILE *f, const char *list)
{
    const char *p = list;
    int n = 0;
    while (*p) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (!len)
            break;
        for (size_t i = 0; i < len; i++)
            if (p[i] == '"' || (p[i] == '\\' && i + 1 < len && strchr("\"'\\trn", p[i + 1]))) {
                fprintf(stderr, "mediagate: MEDIAGATE_ALLOWED_ORIGINS: '%.*s' cannot be written for nginx "
                                "(a quote, or \\ before a quote, \\, t, r or n)\n", (int)len, p);
                return -1;
            }
        fprintf(f, "%s(%.*s)", n++ ? "|" : "", (int)len, p);
        p += len;
    }
    return n;
}

int cli_nginx_conf(const config *cfg, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return CLI_EUSAGE;
    const char *sock = *cfg->socket ? cfg->socket : DEFAULT_SOCKET;
    if (!plain_value(sock)) {
        fprintf(stderr, "mediagate: MEDIAGATE_SOCKET cannot be written for nginx: '%s'\n", sock);
        return 1;
    }
    /* The origins first: nothing is printed when they cannot be written. */
    char *pat = NULL;
    size_t patlen = 0;
    FILE *m = open_memstream(&pat, &patlen);
    if (!m)
        return 1;
    int n = put_origins(m, cfg->allowed_origins ? cfg->allowed_origins : "");
    fclose(m);
    if (n < 0) {
        free(pat);
        return 1;
    }
    printf("# mediagate's lines for its nginx snippets, from `mediagate nginx-conf`:\n"
           "# include this file in the site's server { } after the snippets, and\n"
           "# write it again whenever MEDIAGATE_SOCKET, MEDIAGATE_ALLOWED_ORIGINS or\n"
           "# MEDIAGATE_MEDIA_SIGNING_SECRET change (then nginx -s reload).\n");
    printf("# The FastCGI socket (MEDIAGATE_SOCKET; empty: the systemd socket's).\n"
           "set $mediagate_socket unix:%s;\n", sock);
    printf("# Answers nginx makes itself (503, 413, refusals) echo an Origin that\n"
           "# MEDIAGATE_ALLOWED_ORIGINS allows, as mediagate's own answers do.\n");
    if (n > 0)
        printf("if ($http_origin ~ \"^(?:%s)$\") { set $mediagate_refusal_origin $http_origin; }\n", pat);
    else
        printf("# (MEDIAGATE_ALLOWED_ORIGINS is empty: none.)\n");
    free(pat);
    if (*cfg->media_signing_secret)
        printf("# The secret of signed output URLs (MEDIAGATE_MEDIA_SIGNING_SECRET), for\n"
               "# mediagate-media-signed.conf: keep this file readable by root only.\n"
               "set $mediagate_media_secret \"%s\";\n", cfg->media_signing_secret);
    return 0;
}
