#ifndef MEDIAGATE_MIGRATE_H
#define MEDIAGATE_MIGRATE_H

struct config;

/* One sql/NNN_*.sql file, embedded at build time (tools/embed_sql.py). */
struct migration {
    const char *name;
    const char *sql;
};
extern const struct migration migrations[];
extern const unsigned migrations_count;

/* Applies every migration not yet in schema_migrations, in order, each in
 * its own transaction under an advisory lock. Returns 0 on success. */
int migrate_run(const struct config *cfg);

/* Whether the database holds every migration built into this binary
 * (the newest embedded one is recorded in schema_migrations). Returns 0
 * when it does, or when the database cannot be reached (the caller goes on
 * and reconnects later; a warning is logged); 1 when the schema is missing
 * or older, after logging which migration is missing and that
 * `mediagate migrate` applies it. who names the command in the message. */
int migrate_check(const struct config *cfg, const char *who);

#endif
