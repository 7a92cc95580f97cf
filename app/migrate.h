#ifndef MEDIAGATE_MIGRATE_H
#define MEDIAGATE_MIGRATE_H

struct config;

/* mediagate migrate: applies every migration built in (app/schema.h) not
 * yet in schema_migrations, in order, each in its own transaction under an
 * advisory lock, the functions its triggers run first; then every function
 * whose digest is not the one schema_functions records, each in its own
 * transaction. Returns 0 on success. */
int migrate_run(const struct config *cfg);

#endif
