#include "migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/sql.h"
#include "config.h"
#include "hash.h"
#include "schema.h"
#include "worker/worker.h"
#include "worker/wsql.h"

/* Runs statement s of the CLI's table (no parameters); 0 or -1, having
 * said why. */
static int step(db *d, int s)
{
    PGresult *res = NULL;
    int ret = db_exec(d, s, 0, NULL, &res) ? -1 : 0;
    if (ret)
        fprintf(stderr, "mediagate migrate: %s\n", d->error);
    PQclear(res);
    return ret;
}

/* Opens a transaction holding migrate's lock. Returns 0 or -1. */
static int begin(db *d)
{
    return step(d, C_BEGIN) || step(d, C_LOCK) ? -1 : 0;
}

/* Ends a transaction that failed. */
static void rollback(db *d)
{
    PGresult *res = NULL;
    if (d->conn && PQtransactionStatus(d->conn) != PQTRANS_IDLE)
        db_exec(d, C_ROLLBACK, 0, NULL, &res);
    PQclear(res);
}

/* The text of statement s's one value for key ($1), or "" when it has no
 * row, into out (cap bytes). Returns 0 or -1, having said why. */
static int lookup(db *d, int s, const char *key, char *out, size_t cap)
{
    PGresult *res = NULL;
    const char *vals[] = {key};
    *out = '\0';
    if (db_exec(d, s, 1, vals, &res) != 0) {
        fprintf(stderr, "mediagate migrate: %s\n", d->error);
        return -1;
    }
    if (PQntuples(res) == 1)
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Runs statement s with two parameters. Returns 0 or -1, having said why. */
static int record(db *d, int s, const char *a, const char *b)
{
    PGresult *res = NULL;
    const char *vals[] = {a, b};
    int ret = db_exec(d, s, 2, vals, &res) ? -1 : 0;
    if (ret)
        fprintf(stderr, "mediagate migrate: %s\n", d->error);
    PQclear(res);
    return ret;
}

/* Applies function f unless schema_functions records its digest. Returns
 * 1 when applied, 0 when already there, -1 on error (rolled back). */
static int apply_function(db *d, const struct schema_function *f)
{
    int ret = -1;
    char have[80];
    if (begin(d) || lookup(d, C_FUNCTION_DIGEST, f->name, have, sizeof have))
        goto out;
    if (strcmp(have, f->digest) == 0) {
        ret = step(d, C_COMMIT) ? -1 : 0;
        goto out;
    }
    if (step(d, C_NO_BODY_CHECK))
        goto out;
    if (db_script(d, f->sql) != 0) {
        fprintf(stderr, "mediagate migrate: functions/%s.sql failed: %s\n", f->name, d->error);
        goto out;
    }
    if (record(d, C_FUNCTION_DONE, f->name, f->digest) || step(d, C_COMMIT))
        goto out;
    printf("applied functions/%s.sql\n", f->name);
    ret = 1;
out:
    if (ret < 0)
        rollback(d);
    return ret;
}

/* Applies one migration unless already recorded, after the functions its
 * triggers run. Returns 1 when applied, 0 when already there, -1 on error
 * (the transaction is rolled back). */
static int apply_one(db *d, const struct migration *m)
{
    int ret = -1;
    char sum[65], have[80];
    sha256_hex(m->sql, strlen(m->sql), sum);
    if (begin(d) || lookup(d, C_MIGRATION_SUM, m->name, have, sizeof have))
        goto out;
    if (*have) {
        /* Recorded before its functions moved out: the same migration. */
        if (m->before && strcmp(have, m->before) == 0) {
            if (record(d, C_MIGRATION_RESUM, m->name, sum))
                goto out;
        } else if (strcmp(have, sum) != 0) {
            fprintf(stderr, "mediagate migrate: warning: %s changed since it was applied\n",
                    m->name);
        }
        ret = step(d, C_COMMIT) ? -1 : 0;
        goto out;
    }
    if (step(d, C_COMMIT))
        goto out;
    for (const int *n = m->needs; *n >= 0; n++)
        if (apply_function(d, &schema_functions[*n]) < 0)
            return -1;
    if (begin(d) || lookup(d, C_MIGRATION_SUM, m->name, have, sizeof have))
        goto out;
    if (*have) { /* another migrate applied it meanwhile */
        ret = step(d, C_COMMIT) ? -1 : 0;
        goto out;
    }
    if (db_script(d, m->sql) != 0) {
        fprintf(stderr, "mediagate migrate: %s failed: %s\n", m->name, d->error);
        goto out;
    }
    if (record(d, C_MIGRATION_DONE, m->name, sum) || step(d, C_COMMIT))
        goto out;
    ret = 1;
out:
    if (ret < 0)
        rollback(d);
    return ret;
}

/* Fills the library's index for the jobs made before it (sql/044), a
 * batch per transaction, so that no job is locked for longer than one
 * batch's update; resumes where an interrupted run stopped. Returns 0 or
 * -1, having said why. */
static int fill_readers(db *d)
{
    long batches = 0;
    for (;;) {
        PGresult *res = NULL;
        if (db_exec(d, C_JOBS_BACKFILL, 0, NULL, &res) != 0) {
            fprintf(stderr, "mediagate migrate: filling the library's index failed: %s\n",
                    d->error);
            PQclear(res);
            return -1;
        }
        bool more = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!more)
            break;
        batches++;
    }
    if (batches)
        printf("filled the library's index (%ld batches of at most 1000 jobs)\n", batches);
    return 0;
}

int migrate_run(const config *cfg)
{
    int ret = 1, applied = 0;
    db d;
    cli_db_init(&d, cfg);
    d.session = true; /* its settings and lock: never a silent reconnect */
    if (step(&d, C_QUIET) || begin(&d) || step(&d, C_MIGRATIONS_TABLE) ||
        step(&d, C_FUNCTIONS_TABLE) || step(&d, C_COMMIT)) {
        rollback(&d);
        goto out;
    }
    for (unsigned i = 0; i < migrations_count; i++) {
        int r = apply_one(&d, &migrations[i]);
        if (r < 0)
            goto out;
        if (r == 1) {
            printf("applied %s\n", migrations[i].name);
            applied++;
        }
    }
    for (unsigned i = 0; i < schema_functions_count; i++) {
        int r = apply_function(&d, &schema_functions[i]);
        if (r < 0)
            goto out;
        applied += r;
    }
    if (fill_readers(&d) != 0)
        goto out;
    /* The worker's kinds, so that work for them may be queued at once. */
    db w;
    wsql_init(&w, cfg);
    int st = worker_sync_kinds(&w, cfg);
    db_close(&w);
    if (st != 0) {
        fprintf(stderr, "mediagate migrate: writing the task kinds failed (%d)\n", st);
        goto out;
    }
    /* The shipped profiles, so that uploads without one have the default. */
    if (cli_profiles_ship(cfg) != 0)
        goto out;
    printf("%s (%u migrations known)\n", applied ? "migrated" : "up to date", migrations_count);
    ret = 0;
out:
    db_close(&d);
    return ret;
}
