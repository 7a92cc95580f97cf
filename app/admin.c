/* Operator commands on stored notifications: see failed ones, read one
 * byte for byte, and apply one again after a fix. */
#include "admin.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "notify.h"
#include "stream.h"

static int list(PGconn *c, bool all)
{
    int ret = 1;
    const char *vals[] = {all ? "all" : "failed"};
    PGresult *res = PQexecParams(
        c,
        "SELECT id, backend, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
        "result, coalesce(job_id, '-'), event_id, coalesce(error, '') FROM notifications "
        "WHERE $1 = 'all' OR result = 'failed' ORDER BY id DESC LIMIT 200",
        1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "mediagate: %s", PQerrorMessage(c));
        goto out;
    }
    printf("%-8s %-12s %-19s %-7s %-24s %s\n", "id", "backend", "received (UTC)", "result",
           "job", "event id / error");
    for (int i = 0; i < PQntuples(res); i++) {
        printf("%-8s %-12s %-19s %-7s %-24s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
               PQgetvalue(res, i, 5));
        if (*PQgetvalue(res, i, 6))
            printf("%-8s   error: %s\n", "", PQgetvalue(res, i, 6));
    }
    printf("%d notification%s\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Fetches backend (text) and body (binary) of notification id. */
static PGresult *fetch(PGconn *c, const char *id)
{
    const char *vals[] = {id};
    int fmts[] = {0};
    PGresult *res = PQexecParams(c,
                                 "SELECT backend, body, event_id, result, coalesce(error, ''), "
                                 "coalesce(job_id, ''), received_at, replays "
                                 "FROM notifications WHERE id = $1::bigint",
                                 1, NULL, vals, NULL, fmts, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no notification %s %s\n", id,
                PQresultStatus(res) == PGRES_TUPLES_OK ? "" : PQerrorMessage(c));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Binary-format text columns are the plain bytes; copy one out. */
static char *col(PGresult *res, int n)
{
    return strndup(PQgetvalue(res, 0, n), (size_t)PQgetlength(res, 0, n));
}

static int show(PGconn *c, const char *id)
{
    PGresult *res = fetch(c, id);
    if (!res)
        return 1;
    char *b = col(res, 0), *ev = col(res, 2), *r = col(res, 3), *e = col(res, 4), *j = col(res, 5);
    fprintf(stderr, "backend: %s\nevent id: %s\nresult: %s\njob: %s\nerror: %s\nbody (%d bytes) follows on stdout\n",
            b, ev, r, j, e, PQgetlength(res, 0, 1));
    fwrite(PQgetvalue(res, 0, 1), 1, (size_t)PQgetlength(res, 0, 1), stdout);
    free(b), free(ev), free(r), free(e), free(j);
    PQclear(res);
    return 0;
}

static int replay(PGconn *c, const char *id)
{
    int ret = 1;
    char evid[256] = "", err[256] = "";
    json_object *ev = NULL;
    PGresult *out = NULL, *res = fetch(c, id);
    char *backend = NULL;
    if (!res)
        goto out;
    backend = col(res, 0);
    const notify_backend *b = notify_find(backend);
    if (!b) {
        fprintf(stderr, "mediagate: notification %s is from unknown backend %s\n", id, backend);
        goto out;
    }
    ev = notify_parse(b, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1), evid, sizeof evid,
                      err, sizeof err);
    if (!ev) {
        const char *vals[] = {id, err};
        out = PQexecParams(c, "UPDATE notifications SET error = $2, replays = replays + 1 "
                              "WHERE id = $1::bigint", 2, NULL, vals, NULL, NULL, 0);
        fprintf(stderr, "mediagate: notification %s still does not parse: %s\n", id, err);
        goto out;
    }
    const char *vals[] = {id, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN)};
    out = PQexecParams(c, "SELECT mediagate_replay($1::bigint, $2::jsonb)", 2, NULL, vals, NULL,
                       NULL, 0);
    if (PQresultStatus(out) != PGRES_TUPLES_OK) {
        fprintf(stderr, "mediagate: replay failed: %s", PQerrorMessage(c));
        goto out;
    }
    printf("notification %s: %s\n", id, PQgetvalue(out, 0, 0));
    ret = strcmp(PQgetvalue(out, 0, 0), "applied") == 0 ? 0 : 1;
out:
    free(backend);
    json_object_put(ev);
    PQclear(out);
    PQclear(res);
    return ret;
}

int admin_notifications(const config *cfg, int argc, char **argv)
{
    int ret = 2;
    const char *sub = argc > 0 ? argv[0] : "list";
    PGconn *c = NULL;
    if (strcmp(sub, "list") != 0 && (argc < 2 || (strcmp(sub, "show") && strcmp(sub, "replay")))) {
        fprintf(stderr, "usage: mediagate notifications list [--all] | show ID | replay ID\n");
        return 2;
    }
    c = db_connect_admin(cfg);
    if (!c)
        return 1;
    if (strcmp(sub, "list") == 0)
        ret = list(c, argc > 1 && strcmp(argv[1], "--all") == 0);
    else if (strcmp(sub, "show") == 0)
        ret = show(c, argv[1]);
    else
        ret = replay(c, argv[1]);
    PQfinish(c);
    return ret;
}

/* mediagate apikey create NAME | list | revoke ID. The key is printed once;
 * only its SHA-256 and first characters are stored. */
int admin_apikey(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    const char *sub = argc > 0 ? argv[0] : "";
    if (!((strcmp(sub, "create") == 0 && argc == 2) || (strcmp(sub, "list") == 0) ||
          (strcmp(sub, "revoke") == 0 && argc == 2))) {
        fprintf(stderr, "usage: mediagate apikey create NAME | list | revoke ID\n");
        return 2;
    }
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        return 1;
    if (strcmp(sub, "create") == 0) {
        char key[70], hex[65];
        unsigned char h[32];
        if (random_hex(hex) != 0)
            goto out;
        snprintf(key, sizeof key, "mgk_%s", hex);
        sha256_raw(key, strlen(key), h);
        char prefix[13];
        snprintf(prefix, sizeof prefix, "%.12s", key);
        const char *vals[] = {argv[1], (const char *)h, prefix};
        int lens[] = {0, 32, 0}, fmts[] = {0, 1, 0};
        res = PQexecParams(c, "INSERT INTO api_keys (name, key_hash, key_prefix) VALUES ($1, $2, $3) "
                              "RETURNING id", 3, NULL, vals, lens, fmts, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "mediagate: %s", PQerrorMessage(c));
            goto out;
        }
        fprintf(stderr, "API key %s created for '%s'. It is shown only now:\n",
                PQgetvalue(res, 0, 0), argv[1]);
        printf("%s\n", key);
    } else if (strcmp(sub, "list") == 0) {
        res = PQexec(c, "SELECT id, name, key_prefix, to_char(created_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD HH24:MI:SS'), coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD HH24:MI:SS'), '-') FROM api_keys ORDER BY id");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "mediagate: %s", PQerrorMessage(c));
            goto out;
        }
        printf("%-6s %-24s %-14s %-19s %s\n", "id", "name", "key", "created (UTC)", "revoked");
        for (int i = 0; i < PQntuples(res); i++)
            printf("%-6s %-24s %-14s %-19s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    } else {
        const char *vals[] = {argv[1]};
        res = PQexecParams(c, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                              "WHERE id = $1::bigint RETURNING id", 1, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            fprintf(stderr, "mediagate: no API key %s\n", argv[1]);
            goto out;
        }
        printf("API key %s revoked\n", argv[1]);
    }
    ret = 0;
out:
    PQclear(res);
    PQfinish(c);
    return ret;
}
