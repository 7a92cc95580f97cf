/* The command line as data: one table of commands, each row naming whether
 * it needs the configuration, the function that runs it and its usage, in
 * the spirit of pgbouncer's admin cmd_list[]. A row with subcommands is a
 * table of its own (apikey, notifications, tasks, jobs, webhook). */
#ifndef MEDIAGATE_CLI_H
#define MEDIAGATE_CLI_H
#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

struct config;

/* What a command function returns to have its own usage printed to stderr
 * and the process exit with status 2. Never a real exit status. */
#define CLI_EUSAGE (-1)

/* Runs a command. cfg is NULL unless the row needs the configuration;
 * argv holds the arguments after the command's name (argc may be 0).
 * Returns the process exit status, or CLI_EUSAGE. */
typedef int cli_fn(const struct config *cfg, int argc, char **argv);

typedef struct cli_command {
    const char *name;     /* NULL ends a table */
    bool needs_config;    /* load and validate the configuration first */
    cli_fn *fn;           /* NULL for a row that only has subcommands */
    const char *args;     /* what follows the name ("FILE", "[--dead]"); NULL
                           * for a row with subcommands: theirs are listed */
    /* One line, shown in the parent's list of commands; any further lines
     * are shown only in this command's own usage. */
    const char *usage;
    const struct cli_command *subs; /* subcommands, or NULL */
    const char *default_sub;        /* run when no subcommand is named */
    const char *alias;              /* another name for it ("--version") */
    /* A service (serve, worker) or the check of its settings: configured
     * only by the environment and the settings file, never by the local
     * stack's var/env (cli_local_stack_url). */
    bool service;
} cli_command;

/* The top of the command line: its subs are every command. */
extern const cli_command cli_root;

/* The subcommand tables, one per file in app/cli/. */
extern const cli_command cli_apikey_commands[];
extern const cli_command cli_notifications_commands[];
extern const cli_command cli_tasks_commands[];
extern const cli_command cli_jobs_commands[];
extern const cli_command cli_webhook_commands[];
extern const cli_command cli_storage_commands[];
extern const cli_command cli_profiles_commands[];

/* Writes the shipped profiles (app/cli/profiles.c) as this configuration
 * makes them; for migrate. Returns 0, or 1 having said why. */
int cli_profiles_ship(const struct config *cfg);

/* mediagate sync (app/cli/sync.c). */
cli_fn cli_sync;
/* mediagate nginx-conf (app/cli/nginxconf.c). */
cli_fn cli_nginx_conf;

/* Prints mediagate(1) in roff, from cli_root and the settings table
 * (app/cli/manpage.c). */
void cli_print_manpage(FILE *f);

/* Prints the settings table (app/cli/manpage.c): a plain list, the rows of
 * a markdown table, or the whole of docs/settings.md. */
typedef enum { CLI_SETTINGS_LIST, CLI_SETTINGS_MARKDOWN, CLI_SETTINGS_PAGE } cli_settings_format;
void cli_print_settings(FILE *f, cli_settings_format format);

/* Loads and validates the configuration into *c, printing every problem.
 * local_stack: the command may take the database of the local stack
 * (cli_local_stack_url) when nothing else gives one. Returns 0 when it is
 * usable. *c is zeroed before and is always passed to config_free() after. */
typedef int cli_load_fn(struct config *c, const char *path, bool local_stack);

/* The MEDIAGATE_DATABASE_URL that scripts/up left for commands run by hand
 * in <checkout>/var/env, where exe is <checkout>/<build dir>/mediagate;
 * malloc'd, or NULL. path gets the file's name. A file that is there but
 * that someone other than root or the caller could have written (it or a
 * directory above it), or a symlink, is not read: NULL, and why says so
 * (why is "" when there is no such file). */
char *cli_local_stack_url(const char *exe, char *path, size_t path_cap, char *why, size_t why_cap);

/* Runs the command that argv (the words after the program's own options)
 * names under root. --help or -h anywhere prints that command's usage to
 * stdout and does nothing else (no configuration, no database): returns 0.
 * An unknown or missing command prints usage to stderr: returns 2.
 * Otherwise loads the configuration with load when the row needs it (when
 * that fails, returns its status, having said that the command does not
 * start, except for check-config), and returns what the row's function
 * returns; CLI_EUSAGE prints the row's usage to stderr and returns 2. */
int cli_run(const cli_command *root, int argc, char **argv, const char *config_path,
            cli_load_fn *load);

/* The row named name (or aliased so) in table, or NULL. */
const cli_command *cli_lookup(const cli_command *table, const char *name);

/* Output helpers shared by the operator commands (app/cli/output.c). */

/* Writes s with every byte a terminal would not show as itself (C0 and C1
 * controls, DEL, bytes that are not UTF-8) as '?', a tab as a space, and
 * trailing newlines dropped; a newline is followed by indent, or with
 * indent NULL is a '?' too (one line). Then pads with spaces to width
 * characters. */
void cli_put_clean(FILE *f, const char *s, const char *indent, int width);

/* Prints every column of row 0 of res as "name: value" lines, NULL as "-",
 * json and jsonb values pretty-printed. */
void cli_show_row(FILE *f, const PGresult *res);

/* Parses the id of a what (a bigint, in decimal) into out, which then holds
 * its canonical text. Returns false, printing why, when it is not one. */
bool cli_parse_bigint(const char *what, const char *s, char out[24]);

#endif
