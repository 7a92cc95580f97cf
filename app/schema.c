#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"

const char *schema_newest(void)
{
    return migrations_count ? migrations[migrations_count - 1].name : "";
}

enum schema_state schema_state(db *d, char *detail, size_t cap)
{
    enum schema_state ret = SCHEMA_UNKNOWN;
    PGresult *res = NULL;
    const char *newest[] = {schema_newest()};
    const char *wanted[] = {schema_function_names, schema_function_digests};
    *detail = '\0';
    int st = db_exec(d, STMT_SCHEMA_CURRENT, 1, newest, &res);
    if (st != 0) {
        /* undefined_table: no schema_migrations */
        if (st != 503 && strcmp(d->sqlstate, "42P01") == 0)
            ret = SCHEMA_MISSING;
        goto out;
    }
    if (PQntuples(res) != 1)
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        snprintf(detail, cap, "newest applied: %s, newest built in: %s",
                 PQgetisnull(res, 0, 1) ? "none" : PQgetvalue(res, 0, 1), newest[0]);
        ret = SCHEMA_OLDER;
        goto out;
    }
    /* Migrated by a newer binary (a rolling deploy, a rollback): its
     * functions are newer than this binary's, not older; a newer release
     * keeps them working for the one before, as it does its tables. */
    if (!PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), newest[0]) > 0) {
        ret = SCHEMA_CURRENT;
        goto out;
    }
    PQclear(res);
    res = NULL;
    st = db_exec(d, STMT_SCHEMA_FUNCTIONS, 2, wanted, &res);
    if (st == 503)
        goto out;
    if (st != 0) {
        /* No schema_functions: migrated by a binary from before it. */
        snprintf(detail, cap, "no function is recorded as applied");
        ret = SCHEMA_OLDER;
        goto out;
    }
    if (PQntuples(res) != 1)
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        snprintf(detail, cap, "%s of the %u functions built in differ", PQgetvalue(res, 0, 0),
                 schema_functions_count);
        ret = SCHEMA_OLDER;
        goto out;
    }
    ret = SCHEMA_CURRENT;
out:
    PQclear(res);
    return ret;
}

int schema_check(const config *cfg, const char *who)
{
    db d;
    char detail[200];
    int ret = 0;
    if (migrations_count == 0)
        return 0;
    db_init(&d, cfg);
    d.appname = "mediagate-admin";
    d.lazy = true; /* only the two statements it runs */
    d.quiet = true;
    switch (schema_state(&d, detail, sizeof detail)) {
    case SCHEMA_CURRENT:
        break;
    case SCHEMA_MISSING:
        log_error("%s: the database has no mediagate schema; run `mediagate migrate` first "
                  "(this binary has %u migrations, up to %s)", who, migrations_count,
                  schema_newest());
        ret = 1;
        break;
    case SCHEMA_OLDER:
        log_error("%s: the database schema is older than this binary (%s); run `mediagate "
                  "migrate` first", who, detail);
        ret = 1;
        break;
    case SCHEMA_UNKNOWN:
        if (strncmp(d.sqlstate, "08", 2) == 0)
            log_warn("%s: cannot check the schema now (database unreachable); going on", who);
        else
            log_warn("%s: cannot check the schema: %s", who, d.error);
        break;
    }
    db_close(&d);
    return ret;
}
