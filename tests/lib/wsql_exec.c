/* wsql_exec NAME [PARAM...]: runs the worker's prepared statement NAME
 * (its name in app/worker/wsql.c, e.g. w_claim) once, through the db layer,
 * against MEDIAGATE_DATABASE_URL, and prints its rows: one a line, columns
 * separated by tabs, NULL as \N. A PARAM of \N is NULL. The queue tests
 * (tests/pytest/test_queue.py) call the statements the worker calls, not
 * copies of them. Exits 0, 2 on bad usage or configuration, 1 when the
 * statement failed (with the db layer's status). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "worker/wsql.h"

static const char *env(const char *name)
{
    return getenv(name);
}

int main(int argc, char **argv)
{
    config cfg;
    cfg_errors errs = {0};
    db d;
    bool connected = false;
    PGresult *r = NULL;
    const char **vals = NULL;
    int s = 0, ret = 2;
    if (argc < 2) {
        fputs("usage: wsql_exec NAME [PARAM...]\n", stderr);
        return 2;
    }
    while (s < W__COUNT && strcmp(worker_stmts[s].name, argv[1]) != 0)
        s++;
    if (s == W__COUNT || worker_stmts[s].nparams != argc - 2) {
        fprintf(stderr, "wsql_exec: %s: no worker statement of %d parameters\n", argv[1], argc - 2);
        return 2;
    }
    if (config_load(&cfg, NULL, env, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "wsql_exec: %s\n", errs.msg[i]);
        goto out;
    }
    vals = calloc((size_t)argc, sizeof *vals);
    if (!vals)
        goto out;
    for (int i = 2; i < argc; i++)
        vals[i - 2] = strcmp(argv[i], "\\N") == 0 ? NULL : argv[i];
    wsql_init(&d, &cfg);
    connected = true;
    int st = db_exec(&d, s, argc - 2, vals, &r);
    if (st != 0) {
        fprintf(stderr, "wsql_exec: %s failed: %d\n", argv[1], st);
        ret = 1;
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++)
        for (int col = 0; col < PQnfields(r); col++)
            printf("%s%c", PQgetisnull(r, row, col) ? "\\N" : PQgetvalue(r, row, col),
                   col + 1 < PQnfields(r) ? '\t' : '\n');
    ret = 0;
out:
    PQclear(r);
    if (connected)
        db_close(&d);
    free(vals);
    config_free(&cfg);
    cfg_errors_free(&errs);
    return ret;
}
