/* mediagate apikey create NAME | list | revoke ID: the API keys of the
 * stream routes. A key is printed once; only its SHA-256 and first
 * characters are stored. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "cli/sql.h"
#include "config.h"
#include "hash.h"

/* Creates a key named argv[0] and prints it on stdout (the message about it
 * on stderr). The name is the user that ACL entries name (USER_<name>), so
 * it must be an ACL id: exit 2 otherwise, before the database. */
static int create(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    db d;
    if (argc != 1)
        return CLI_EUSAGE;
    if (!acl_id_ok(argv[0], strlen(argv[0]))) {
        fputs("mediagate: apikey create: the name '", stderr);
        cli_put_clean(stderr, argv[0], NULL, 0);
        fprintf(stderr, "' is refused: a name is 1 to %d of A-Z a-z 0-9 . _ @ - (it is the "
                        "user that ACL entries name, USER_<name>)\n", ACL_ID_MAX);
        return 2;
    }
    cli_db_init(&d, cfg);
    char key[70], hex[65];
    unsigned char h[32];
    if (random_hex(hex) != 0)
        goto out;
    snprintf(key, sizeof key, "mgk_%s", hex);
    sha256_raw(key, strlen(key), h);
    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", key);
    const char *vals[] = {argv[0], (const char *)h, prefix};
    int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
    if (db_exec_params(&d, C_APIKEY_CREATE, 3, vals, lens, fmts, &res) != 0) {
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
    printf("%-6s %-24s %-14s %-19s %s\n", "id", "name", "key", "created (UTC)", "revoked");
    for (int i = 0; i < PQntuples(res); i++) {
        /* A name from before names were checked may hold anything. */
        printf("%-6s ", PQgetvalue(res, i, 0));
        cli_put_clean(stdout, PQgetvalue(res, i, 1), NULL, 24);
        printf(" %-14s %-19s %s\n", PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4));
    }
    ret = 0;
out:
    PQclear(res);
    return ret;
}

static int revoke(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    db d;
    if (argc != 1)
        return CLI_EUSAGE;
    cli_db_init(&d, cfg);
    const char *vals[] = {argv[0]};
    if (db_exec(&d, C_APIKEY_REVOKE, 1, vals, &res) != 0 || PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no API key %s\n", argv[0]);
        goto out;
    }
    printf("API key %s revoked\n", argv[0]);
    ret = 0;
out:
    PQclear(res);
    db_close(&d);
    return ret;
}

const cli_command cli_apikey_commands[] = {
    {.name = "create", .needs_config = true, .fn = create, .args = "NAME",
     .usage = "create a key named NAME; prints it once\n"
              "NAME is 1 to 128 of A-Z a-z 0-9 . _ @ - (the user that ACL entries name,\n"
              "USER_<NAME>); anything else exits 2.\n"
              "The key goes to stdout and is shown only now: the database keeps its\n"
              "SHA-256 and its first 12 characters.\n"},
    {.name = "list", .needs_config = true, .fn = list, .args = "",
     .usage = "every key: id, name, first characters, created, revoked\n"},
    {.name = "revoke", .needs_config = true, .fn = revoke, .args = "ID",
     .usage = "revoke key ID (its id in 'apikey list')\n"},
    {.name = NULL},
};
