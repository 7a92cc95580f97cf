/* mediagate notifications list [--all] | show ID | replay ID: see failed
 * notifications, read one byte for byte, and apply one again after a fix. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "notify/notify.h"

static int list_conn(PGconn *c, bool all)
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

static int show_conn(PGconn *c, const char *id)
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

static int replay_conn(PGconn *c, const char *id)
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

/* Connects, runs fn on arg, and disconnects. Returns fn's exit status. */
static int on_conn(const config *cfg, int (*fn)(PGconn *, const char *), const char *arg)
{
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        return 1;
    int ret = fn(c, arg);
    PQfinish(c);
    return ret;
}

static int list(const config *cfg, int argc, char **argv)
{
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        return 1;
    int ret = list_conn(c, argc > 0 && strcmp(argv[0], "--all") == 0);
    PQfinish(c);
    return ret;
}

static int show(const config *cfg, int argc, char **argv)
{
    return argc < 1 ? CLI_EUSAGE : on_conn(cfg, show_conn, argv[0]);
}

static int replay(const config *cfg, int argc, char **argv)
{
    return argc < 1 ? CLI_EUSAGE : on_conn(cfg, replay_conn, argv[0]);
}

const cli_command cli_notifications_commands[] = {
    {.name = "list", .needs_config = true, .fn = list, .args = "[--all]",
     .usage = "failed notifications, newest first (--all: every one)\n"
              "At most 200; a notification's error follows on its own line.\n"},
    {.name = "show", .needs_config = true, .fn = show, .args = "ID",
     .usage = "what was stored of notification ID; raw body on stdout\n"
              "Backend, event id, result, job and error go to stderr, the body as it\n"
              "was received to stdout.\n"},
    {.name = "replay", .needs_config = true, .fn = replay, .args = "ID",
     .usage = "parse notification ID again and apply it (after a fix)\n"
              "Exits 0 only when it was applied.\n"},
    {.name = NULL},
};
