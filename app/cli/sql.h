/* Every SQL statement of the operator commands (app/cli/) and of migrate,
 * through the db layer (app/db.h) like the request path's and the
 * worker's: each is prepared on its first use in a command's connection,
 * so a command needs only its own to exist in the database. */
#ifndef MEDIAGATE_CLI_SQL_H
#define MEDIAGATE_CLI_SQL_H
#include "db.h"

enum cli_stmt {
    C_JOBS_LIST,
    C_JOBS_SHOW,
    C_JOBS_ACL,
    C_JOBS_CANCEL,
    C_TASKS_LIST,
    C_TASKS_SHOW,
    C_TASKS_RETRY,
    C_TASKS_CANCEL,
    C_NOTIF_LIST,
    C_NOTIF_FETCH,
    C_NOTIF_UNPARSED,
    C_NOTIF_REPLAY,
    C_APIKEY_CREATE,
    C_APIKEY_LIST,
    C_APIKEY_REVOKE,
    C_APIKEY_SESSIONS,
    C_APIKEY_SIGNOUT,
    C_PROFILES_MISSING,
    C_PROFILES_LIST,
    C_PROFILE_SHOW,
    C_PROFILE_ADD,
    C_PROFILE_REMOVE,
    C_PROFILE_SHIP,
    C_WEBHOOK_ADD,
    C_WEBHOOK_LIST,
    C_WEBHOOK_REMOVE,
    C_WEBHOOK_DELIVERIES,
    C_WEBHOOK_REDELIVER,
    C_STORAGE_LOCK,
    C_STORAGE_LOCAL_JOBS,
    C_STORAGE_REPOINT,
    /* migrate (app/migrate.c) */
    C_BEGIN,
    C_COMMIT,
    C_ROLLBACK,
    C_QUIET,
    C_LOCK,
    C_MIGRATIONS_TABLE,
    C_FUNCTIONS_TABLE,
    C_MIGRATION_SUM,
    C_MIGRATION_DONE,
    C_MIGRATION_RESUM,
    C_JOBS_BACKFILL,
    C_FUNCTION_DIGEST,
    C_FUNCTION_DONE,
    C_NO_BODY_CHECK,
    C_JOBS_TITLE,
    C_JOB_BACKEND,
    C__COUNT
};

extern const stmt_def cli_stmts[C__COUNT];
_Static_assert(C__COUNT <= DB_MAX_STMTS, "the db layer tracks at most DB_MAX_STMTS statements");

/* A command's connection (mediagate-admin): statements prepared at first
 * use, failures reported by the command (cli_db_error), not logged. */
void cli_db_init(db *d, const struct config *cfg);

/* Runs statement s of cli_stmts on d as db_exec does. On failure prints
 * "mediagate: WHAT: " and why (cli_db_error) and returns 1 with *res NULL;
 * 0 with *res to PQclear. */
int cli_exec(db *d, const char *what, int s, int n, const char *const *vals, PGresult **res);

/* Runs statement s of cli_stmts on a connection of its own (closed before
 * it returns). Returns the result (the caller PQclears it), or NULL after
 * printing "mediagate: WHAT: " and why. */
PGresult *cli_query(const struct config *cfg, const char *what, int s, int n,
                    const char *const *vals);

/* Prints "mediagate: WHAT: " and d's last error to stderr, with a hint to
 * migrate when a table, column or function is missing. */
void cli_db_error(const db *d, const char *what);

#endif
