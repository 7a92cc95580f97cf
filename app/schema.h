/* The schema this binary needs: the migrations (tables, indexes, triggers,
 * data) and the functions (one file each, applied again whenever it
 * changed), embedded at build time, and whether a database holds them. */
#ifndef MEDIAGATE_SCHEMA_H
#define MEDIAGATE_SCHEMA_H
#include <stddef.h>

struct config;
struct db;

/* One sql/NNN_*.sql migration (tools/embed_sql.py). */
struct migration {
    const char *name;
    const char *sql;
    /* Its checksum before its functions moved to sql/functions/, which a
     * database migrated then recorded; NULL when it had none. */
    const char *before;
    /* The functions its triggers run (indexes in schema_functions[]), which
     * exist before it is applied; -1 ends the list. */
    const int *needs;
};
extern const struct migration migrations[];
extern const unsigned migrations_count;

/* One sql/functions/NAME.sql: CREATE OR REPLACE FUNCTION NAME, which
 * `mediagate migrate` applies whenever its digest is not the one the
 * database recorded in schema_functions. */
struct schema_function {
    const char *name;
    const char *sql;
    const char *digest; /* SHA-256 of sql, in hex */
};
extern const struct schema_function schema_functions[];
extern const unsigned schema_functions_count;
/* Every function's name, and its digest in the same order, as text-array
 * literals ("{a,b}"): parameters of STMT_SCHEMA_FUNCTIONS. */
extern const char schema_function_names[];
extern const char schema_function_digests[];

/* The newest migration built in ("" with none). */
const char *schema_newest(void);

enum schema_state {
    SCHEMA_CURRENT,  /* every migration and function is there as built in */
    SCHEMA_OLDER,    /* a migration is missing, or a function differs */
    SCHEMA_MISSING,  /* no mediagate schema at all */
    SCHEMA_UNKNOWN,  /* the database did not answer (d->error says why) */
};

/* Asks the request path's connection d (db_init) whether the schema is
 * current. detail (cap bytes) gets what is older, for a log line. */
enum schema_state schema_state(struct db *d, char *detail, size_t cap);

/* Whether the database holds the schema built into this binary. Returns 0
 * when it does, or when the database cannot be reached (the caller goes
 * on and reconnects later; a warning is logged); 1 when the schema is
 * missing or older, after logging what is missing and that `mediagate
 * migrate` applies it. who names the command in the message. */
int schema_check(const struct config *cfg, const char *who);

#endif
