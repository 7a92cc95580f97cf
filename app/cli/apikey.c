/* mediagate apikey create NAME [--profiles a,b] | list | revoke ID |
 * sessions ID [--end]: the API keys of the stream, upload and job routes.
 * A key is printed once; only its SHA-256 and first characters are
 * stored. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "cli/sql.h"
#include "config.h"
#include "hash.h"
#include "profile.h"
#include "uploads/target.h"

/* The --profiles list a,b as a PostgreSQL array ({a,b}) into out. Returns
 * 0, or 2 having said why: each must be a profile's name, named once. */
static int profiles_array(const char *list, char *out, size_t cap)
{
    char buf[1024], *names[sizeof buf / 2];
    size_t n = 0;
    int count = 0;
    snprintf(buf, sizeof buf, "%s", list);
    out[n++] = '{';
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!profile_name_ok(t) || n + strlen(t) + 2 >= cap) {
            fputs("mediagate: apikey create: --profiles takes profile names, a,b (each 1 to 63 "
                  "of a-z 0-9 . _ -)\n",
                  stderr);
            return 2;
        }
        for (int i = 0; i < count; i++)
            if (strcmp(names[i], t) == 0) {
                fprintf(stderr, "mediagate: apikey create: --profiles names %s twice\n", t);
                return 2;
            }
        names[count] = t;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", count++ ? "," : "", t);
    }
    if (!count || strlen(list) >= sizeof buf) {
        fputs("mediagate: apikey create: --profiles takes profile names, a,b\n", stderr);
        return 2;
    }
    snprintf(out + n, cap - n, "}");
    return 0;
}

/* The --targets list a,b as a PostgreSQL array ({a,b}) into out. Returns
 * 0, or 2 having said why: each must be an upload target's name
 * (app/uploads/target.h), named once. */
static int targets_array(const char *list, char *out, size_t cap)
{
    char buf[256];
    size_t n = 0;
    unsigned seen = 0;
    snprintf(buf, sizeof buf, "%s", list);
    out[n++] = '{';
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const upload_target *row = upload_target_find(t);
        if (!row) {
            fputs("mediagate: apikey create: --targets: no upload target '", stderr);
            cli_put_clean(stderr, t, NULL, 0);
            fputs("' (one of:", stderr);
            for (size_t i = 0; i < upload_targets_count; i++)
                fprintf(stderr, "%s %s", i ? "," : "", upload_targets[i].name);
            fputs(")\n", stderr);
            return 2;
        }
        unsigned bit = 1u << (row - upload_targets);
        if (seen & bit) {
            fprintf(stderr, "mediagate: apikey create: --targets names %s twice\n", t);
            return 2;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s", seen ? "," : "", t);
        seen |= bit;
    }
    if (!seen || strlen(list) >= sizeof buf) {
        fputs("mediagate: apikey create: --targets takes upload target names, a,b\n", stderr);
        return 2;
    }
    snprintf(out + n, cap - n, "}");
    return 0;
}

/* Creates a key named argv[0] and prints it on stdout (the message about it
 * on stderr); with --profiles a,b it may make jobs with those profiles
 * only, and each must exist; with --targets a,b it may upload to those
 * upload targets only. The name is the user that ACL entries name
 * (USER_<name>), so it must be an ACL id: exit 2 otherwise, before the
 * database. */
static int create(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    db d;
    char profiles[1100], targets[300];
    const char *limit = NULL, *tlimit = NULL;
    if (argc % 2 != 1)
        return CLI_EUSAGE;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--profiles") == 0 && !limit) {
            if ((ret = profiles_array(argv[i + 1], profiles, sizeof profiles)) != 0)
                return ret;
            limit = profiles;
        } else if (strcmp(argv[i], "--targets") == 0 && !tlimit) {
            if ((ret = targets_array(argv[i + 1], targets, sizeof targets)) != 0)
                return ret;
            tlimit = targets;
        } else {
            return CLI_EUSAGE;
        }
    }
    ret = 1;
    if (!acl_id_ok(argv[0], strlen(argv[0]))) {
        fputs("mediagate: apikey create: the name '", stderr);
        cli_put_clean(stderr, argv[0], NULL, 0);
        fprintf(stderr, "' is refused: a name is 1 to %d of A-Z a-z 0-9 . _ @ - (it is the "
                        "user that ACL entries name, USER_<name>)\n", ACL_ID_MAX);
        return 2;
    }
    cli_db_init(&d, cfg);
    if (limit) {
        const char *pv[] = {limit};
        if (cli_exec(&d, "apikey create", C_PROFILES_MISSING, 1, pv, &res) != 0)
            goto out;
        if (!PQgetisnull(res, 0, 0)) {
            fprintf(stderr, "mediagate: apikey create: no such profile: %s\n",
                    PQgetvalue(res, 0, 0));
            ret = 2;
            goto out;
        }
        PQclear(res);
        res = NULL;
    }
    char key[70], hex[65];
    unsigned char h[32];
    if (random_hex(hex) != 0)
        goto out;
    snprintf(key, sizeof key, "mgk_%s", hex);
    sha256_raw(key, strlen(key), h);
    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", key);
    const char *vals[] = {argv[0], (const char *)h, prefix, limit, tlimit};
    int lens[] = {0, 32, 0, 0, 0}, fmts[] = {0, 1, 0, 0, 0};
    if (db_exec_params(&d, C_APIKEY_CREATE, 5, vals, lens, fmts, &res) != 0) {
        cli_db_error(&d, "apikey create");
        goto out;
    }
    fprintf(stderr, "API key %s created for '%s'. It is shown only now:\n",
            PQgetvalue(res, 0, 0), argv[0]);
    printf("%s\n", key);
    ret = 0;
out:
    PQclear(res);
    db_close(&d);
    return ret;
}

static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = cli_query(cfg, "apikey list", C_APIKEY_LIST, 0, NULL);
    if (!res)
        goto out;
    printf("%-6s %-24s %-14s %-19s %-19s %-24s %s\n", "id", "name", "key", "created (UTC)",
           "revoked", "profiles", "targets");
    for (int i = 0; i < PQntuples(res); i++) {
        /* A name from before names were checked may hold anything. */
        printf("%-6s ", PQgetvalue(res, i, 0));
        cli_put_clean(stdout, PQgetvalue(res, i, 1), NULL, 24);
        printf(" %-14s %-19s %-19s ", PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4));
        cli_put_clean(stdout, PQgetvalue(res, i, 5), NULL, 24);
        putchar(' ');
        cli_put_clean(stdout, PQgetvalue(res, i, 6), NULL, 0);
        putchar('\n');
    }
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Revokes key argv[0] and ends what was made with it (its streams, its
 * upload slots waiting for a file), printing a line for each. */
static int revoke(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    db d;
    if (argc != 1)
        return CLI_EUSAGE;
    cli_db_init(&d, cfg);
    const char *vals[] = {argv[0], cfg->vod_rtmp ? "t" : "f", cfg->vod_put ? "t" : "f"};
    if (db_exec(&d, C_APIKEY_REVOKE, 3, vals, &res) != 0 || PQntuples(res) < 1) {
        fputs("mediagate: no API key ", stderr);
        cli_put_clean(stderr, argv[0], NULL, 0);
        fputc('\n', stderr);
        goto out;
    }
    printf("API key %s revoked; its console sessions ended\n", PQgetvalue(res, 0, 1));
    for (int i = 1; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), "stream") == 0)
            printf("stream %s stopped\n", PQgetvalue(res, i, 1));
        else
            printf("upload %s expired (job %s CANCELED)\n", PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
    ret = 0;
out:
    PQclear(res);
    db_close(&d);
    return ret;
}

/* Key argv[0]'s live console sessions, one line each; with --end, ends
 * them instead (the key keeps working). */
static int sessions(const config *cfg, int argc, char **argv)
{
    bool end = argc == 2 && strcmp(argv[1], "--end") == 0;
    if (argc != 1 && !end)
        return CLI_EUSAGE;
    const char *vals[] = {argv[0]};
    PGresult *res = cli_query(cfg, "apikey sessions", end ? C_APIKEY_SIGNOUT : C_APIKEY_SESSIONS,
                              1, vals);
    int ret = 1;
    if (!res)
        goto out;
    if (PQntuples(res) < 1) {
        fputs("mediagate: no API key ", stderr);
        cli_put_clean(stderr, argv[0], NULL, 0);
        fputc('\n', stderr);
        goto out;
    }
    ret = 0;
    if (end) {
        printf("%s console sessions of API key %s ended\n", PQgetvalue(res, 0, 0), argv[0]);
        goto out;
    }
    printf("%-8s %-19s %s\n", "session", "created (UTC)", "expires (UTC)");
    for (int i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 0))
            printf("%-8s %-19s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
out:
    PQclear(res);
    return ret;
}

const cli_command cli_apikey_commands[] = {
    {.name = "create", .needs_config = true, .fn = create,
     .args = "NAME [OPTIONS]",
     .usage = "create a key named NAME; prints it once\n"
              "NAME is 1 to 128 of A-Z a-z 0-9 . _ @ - (the user that ACL entries name,\n"
              "USER_<NAME>); anything else exits 2.\n"
              "--profiles P1,P2: the key makes jobs with these encode profiles only\n"
              "(each must exist, named once; the first is its default); without it,\n"
              "with any profile.\n"
              "--targets T1,T2: the key uploads (POST /uploads target=) to these upload\n"
              "targets only (local, s3, tencent, mux, jwplatform; each named once);\n"
              "without it, to any configured one. Both may be given, in either order.\n"
              "The key goes to stdout and is shown only now: the database keeps its\n"
              "SHA-256 and its first 12 characters.\n"},
    {.name = "list", .needs_config = true, .fn = list, .args = "",
     .usage = "every key: id, name, prefix, dates, profiles, targets\n"},
    {.name = "revoke", .needs_config = true, .fn = revoke, .args = "ID",
     .usage = "revoke key ID and end what was made with it\n"
              "ID is its id in 'apikey list'. What the key or its console sessions\n"
              "made ends: the sessions; its streams not stopped stop (their RTMP\n"
              "stream key and HTTP ingest token are refused, as after POST\n"
              "/stream/stop); its upload slots still waiting for a file (direct and\n"
              "tus) expire now, their jobs CANCELED. Prints a line for each.\n"},
    {.name = "sessions", .needs_config = true, .fn = sessions, .args = "ID [--end]",
     .usage = "key ID's live console sessions\n"
              "(POST /media/session): id, created, expires.\n"
              "--end: end them all (refused at once); the key keeps working, and what\n"
              "they made (streams, upload slots) lives on: apikey revoke ends that.\n"},
    {.name = NULL},
};
