/* mediagate apikey create NAME | list | revoke ID: the API keys of the
 * stream routes. A key is printed once; only its SHA-256 and first
 * characters are stored. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "config.h"
#include "db.h"
#include "hash.h"

/* Creates a key named argv[0] and prints it on stdout (the message about it
 * on stderr). The name is the user that ACL entries name (USER_<name>), so
 * it must be an ACL id: exit 2 otherwise, before the database. */
static int create(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    PGconn *c = NULL;
    if (argc != 1)
        return CLI_EUSAGE;
    if (!acl_id_ok(argv[0], strlen(argv[0]))) {
        fputs("mediagate: apikey create: the name '", stderr);
        cli_put_clean(stderr, argv[0], NULL, 0);
        fprintf(stderr, "' is refused: a name is 1 to %d of A-Z a-z 0-9 . _ @ - (it is the "
                        "user that ACL entries name, USER_<name>)\n", ACL_ID_MAX);
        return 2;
    }
    c = db_connect_admin(cfg);
    if (!c)
        return 1;
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
    res = PQexecParams(c, "INSERT INTO api_keys (name, key_hash, key_prefix) VALUES ($1, $2, $3) "
                          "RETURNING id", 3, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "mediagate: %s", PQerrorMessage(c));
        goto out;
    }
    fprintf(stderr, "API key %s created for '%s'. It is shown only now:\n",
            PQgetvalue(res, 0, 0), argv[0]);
    printf("%s\n", key);
    ret = 0;
out:
    PQclear(res);
    PQfinish(c);
    return ret;
}

static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        return 1;
    res = PQexec(c, "SELECT id, name, key_prefix, to_char(created_at AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD HH24:MI:SS'), coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD HH24:MI:SS'), '-') FROM api_keys ORDER BY id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "mediagate: %s", PQerrorMessage(c));
        goto out;
    }
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
    PQfinish(c);
    return ret;
}

static int revoke(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    PGconn *c = NULL;
    if (argc != 1)
        return CLI_EUSAGE;
    c = db_connect_admin(cfg);
    if (!c)
        return 1;
    const char *vals[] = {argv[0]};
    res = PQexecParams(c, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                          "WHERE id = $1::bigint RETURNING id", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no API key %s\n", argv[0]);
        goto out;
    }
    printf("API key %s revoked\n", argv[0]);
    ret = 0;
out:
    PQclear(res);
    PQfinish(c);
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
