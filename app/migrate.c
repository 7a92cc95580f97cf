#include "migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "hash.h"
#include "log.h"
#include "worker/worker.h"
#include "worker/wsql.h"

#define LOCK_SQL "SELECT pg_advisory_xact_lock(hashtext('mediagate migrate'))"

/* Runs a fixed command and checks it succeeded. Returns 0 or -1. */
static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int ret = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (ret)
        fprintf(stderr, "mediagate migrate: %s", PQerrorMessage(c));
    PQclear(res);
    return ret;
}

/* Applies one migration unless already recorded. Returns 1 when applied,
 * 0 when already there, -1 on error (the transaction is rolled back). */
static int apply_one(PGconn *c, const struct migration *m)
{
    int ret = -1;
    PGresult *res = NULL;
    char sum[65];
    sha256_hex(m->sql, strlen(m->sql), sum);
    const char *params[] = {m->name, sum};

    if (exec_ok(c, "BEGIN") || exec_ok(c, LOCK_SQL))
        goto out;
    res = PQexecParams(c, "SELECT checksum FROM schema_migrations WHERE version = $1", 1,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "mediagate migrate: %s", PQerrorMessage(c));
        goto out;
    }
    if (PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), sum) != 0)
            fprintf(stderr, "mediagate migrate: warning: %s changed since it was applied\n",
                    m->name);
        ret = exec_ok(c, "COMMIT") ? -1 : 0;
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (exec_ok(c, m->sql)) {
        fprintf(stderr, "mediagate migrate: %s failed\n", m->name);
        goto out;
    }
    res = PQexecParams(c, "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "mediagate migrate: %s", PQerrorMessage(c));
        goto out;
    }
    if (exec_ok(c, "COMMIT"))
        goto out;
    ret = 1;
out:
    PQclear(res);
    if (ret < 0 && PQtransactionStatus(c) != PQTRANS_IDLE) {
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
    }
    return ret;
}

int migrate_run(const config *cfg)
{
    int ret = 1, applied = 0;
    PGconn *c = db_connect_admin(cfg);
    if (!c)
        goto out;
    if (exec_ok(c, "SET client_min_messages = warning") || exec_ok(c, "BEGIN") ||
        exec_ok(c, LOCK_SQL) ||
        exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version text PRIMARY KEY,"
                   " checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())") ||
        exec_ok(c, "COMMIT"))
        goto out;
    for (unsigned i = 0; i < migrations_count; i++) {
        int r = apply_one(c, &migrations[i]);
        if (r < 0)
            goto out;
        if (r == 1) {
            printf("applied %s\n", migrations[i].name);
            applied++;
        }
    }
    /* The worker's kinds, so that work for them may be queued at once. */
    db d;
    wsql_init(&d, cfg);
    int st = worker_sync_kinds(&d, cfg);
    db_close(&d);
    if (st != 0) {
        fprintf(stderr, "mediagate migrate: writing the task kinds failed (%d)\n", st);
        goto out;
    }
    printf("%s (%u migrations known)\n", applied ? "migrated" : "up to date", migrations_count);
    ret = 0;
out:
    PQfinish(c);
    return ret;
}

int migrate_check(const config *cfg, const char *who)
{
    int ret = 0;
    PGresult *res = NULL;
    if (migrations_count == 0)
        return 0;
    const char *newest = migrations[migrations_count - 1].name;
    PGconn *c = db_connect_admin(cfg);
    if (!c) {
        log_warn("%s: cannot check the schema now (database unreachable); going on", who);
        return 0;
    }
    res = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        goto failed;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        log_error("%s: the database has no mediagate schema; run `mediagate migrate` first "
                  "(this binary has %u migrations, up to %s)", who, migrations_count, newest);
        ret = 1;
        goto out;
    }
    PQclear(res);
    const char *params[] = {newest};
    res = PQexecParams(c,
                       "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1),"
                       " (SELECT max(version) FROM schema_migrations)",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        goto failed;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        log_error("%s: the database schema is older than this binary (newest applied: %s, "
                  "newest built in: %s); run `mediagate migrate` first",
                  who, PQgetisnull(res, 0, 1) ? "none" : PQgetvalue(res, 0, 1), newest);
        ret = 1;
    }
    goto out;
failed:
    log_warn("%s: cannot check the schema: %s", who, PQerrorMessage(c));
out:
    PQclear(res);
    PQfinish(c);
    return ret;
}
