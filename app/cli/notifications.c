/* mediagate notifications list [--all] | show ID | replay ID: see failed
 * notifications, read one byte for byte, and apply one again after a fix. */
#include "cli/cli.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sql.h"
#include "config.h"
#include "notify/notify.h"

static int list_conn(db *d, bool all)
{
    int ret = 1;
    PGresult *res = NULL;
    const char *vals[] = {all ? "all" : "failed"};
    if (cli_exec(d, "notifications list", C_NOTIF_LIST, 1, vals, &res))
        goto out;
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
static PGresult *fetch(db *d, const char *id)
{
    const char *vals[] = {id};
    PGresult *res = NULL;
    int st = db_exec_format(d, C_NOTIF_FETCH, 1, vals, NULL, NULL, 1, &res);
    if (st != 0) {
        cli_db_error(d, "notifications");
        return NULL;
    }
    if (PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no notification %s\n", id);
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

static int show_conn(db *d, const char *id)
{
    PGresult *res = fetch(d, id);
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

static int replay_conn(db *d, const char *id)
{
    int ret = 1;
    char evid[256] = "", err[256] = "";
    json_object *ev = NULL;
    PGresult *out = NULL, *res = fetch(d, id);
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
        db_exec(d, C_NOTIF_UNPARSED, 2, vals, &out);
        fprintf(stderr, "mediagate: notification %s still does not parse: %s\n", id, err);
        goto out;
    }
    const char *vals[] = {id, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN)};
    if (cli_exec(d, "replay failed", C_NOTIF_REPLAY, 2, vals, &out))
        goto out;
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
static int on_conn(const config *cfg, int (*fn)(db *, const char *), const char *arg)
{
    db d;
    cli_db_init(&d, cfg);
    int ret = fn(&d, arg);
    db_close(&d);
    return ret;
}

static int list(const config *cfg, int argc, char **argv)
{
    db d;
    cli_db_init(&d, cfg);
    int ret = list_conn(&d, argc > 0 && strcmp(argv[0], "--all") == 0);
    db_close(&d);
    return ret;
}

static int show(const config *cfg, int argc, char **argv)
{
    char id[24];
    if (argc != 1 || !cli_parse_bigint("notification", argv[0], id))
        return CLI_EUSAGE;
    return on_conn(cfg, show_conn, id);
}

static int replay(const config *cfg, int argc, char **argv)
{
    char id[24];
    if (argc != 1 || !cli_parse_bigint("notification", argv[0], id))
        return CLI_EUSAGE;
    return on_conn(cfg, replay_conn, id);
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
