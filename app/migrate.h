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

#endif
