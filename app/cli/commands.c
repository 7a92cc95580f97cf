/* The command table and its dispatcher. Adding a command means adding one
 * row here (or in its group's table) and one function. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "migrate.h"
#include "providers/oauth2.h"
#include "schema.h"
#include "serve.h"
#include "storage/storage.h"
#include "worker/worker.h"

/* A command and the groups above it: root first, the command last. */
#define CLI_DEPTH 4
typedef struct cli_path {
    const cli_command *row[CLI_DEPTH];
    int n;
} cli_path;

static const cli_command *last(const cli_path *p)
{
    return p->row[p->n - 1];
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

const cli_command *cli_lookup(const cli_command *table, const char *name)
{
    for (const cli_command *c = table; c && c->name; c++)
        if (strcmp(c->name, name) == 0 || (c->alias && strcmp(c->alias, name) == 0))
            return c;
    return NULL;
}

/* Follows argv's leading words down from root into p. Returns how many
 * words named commands; argv[that] is the first that did not. */
static int descend(const cli_command *root, int argc, char **argv, cli_path *p)
{
    int k = 0;
    p->row[0] = root;
    p->n = 1;
    while (k < argc && p->n < CLI_DEPTH && last(p)->subs) {
        const cli_command *c = cli_lookup(last(p)->subs, argv[k]);
        if (!c)
            break;
        p->row[p->n++] = c;
        k++;
    }
    return k;
}

/* Writes the words a command takes after its name: its args, or for a
 * group its subcommands' as alternatives. */
static void put_args(FILE *f, const cli_command *c)
{
    if (!c->subs) {
        if (c->args && *c->args)
            fprintf(f, " %s", c->args);
        return;
    }
    for (const cli_command *s = c->subs; s->name; s++) {
        fprintf(f, "%s%s", s == c->subs ? " " : " | ", s->name);
        if (!s->subs && s->args && *s->args)
            fprintf(f, " %s", s->args);
    }
}

/* One line of a group's list: name, arguments, and the first line of its
 * usage, on the next line when the first two are long. */
static void put_list_row(FILE *f, const cli_command *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    fputs(c->name, m);
    put_args(m, c);
    fclose(m);
    const char *nl = strchr(c->usage, '\n');
    int summary = nl ? (int)(nl - c->usage) : (int)strlen(c->usage);
    if (len <= 22)
        fprintf(f, "  %-22s %.*s\n", buf, summary, c->usage);
    else
        fprintf(f, "  %s\n  %-22s %.*s\n", buf, "", summary, c->usage);
    free(buf);
}

/* Prints the usage of the last command of p: its synopsis, its usage text
 * and, for a group, the list of its commands. */
static void print_usage(FILE *f, const cli_path *p)
{
    const cli_command *c = last(p);
    fprintf(f, "usage: %s", p->row[0]->name);
    if (c->needs_config)
        fputs(" [--config FILE]", f);
    for (int i = 1; i < p->n; i++)
        fprintf(f, " %s", p->row[i]->name);
    if (c->subs)
        fputs(c->default_sub ? " [COMMAND]" : " COMMAND", f);
    else
        put_args(f, c);
    const char *nl = strchr(c->usage, '\n');
    int summary = nl ? (int)(nl - c->usage) : (int)strlen(c->usage);
    fprintf(f, "\n\n%.*s\n", summary, c->usage);
    if (c->subs) {
        fputs("\ncommands:\n", f);
        for (const cli_command *s = c->subs; s->name; s++)
            put_list_row(f, s);
    }
    if (nl && nl[1])
        fprintf(f, "\n%s%s", nl + 1, nl[strlen(nl) - 1] == '\n' ? "" : "\n");
}

/* Says on stderr that word names no command of the last of p, then prints
 * that one's usage. */
static void print_unknown(const cli_path *p, const char *word)
{
    fprintf(stderr, "%s: unknown command '", p->row[0]->name);
    for (int i = 1; i < p->n; i++)
        fprintf(stderr, "%s ", p->row[i]->name);
    fprintf(stderr, "%s'\n\n", word);
    print_usage(stderr, p);
}

extern char **environ;

/* Logs a MEDIAGATE_* variable that is no setting (config_unknown_names). */
static void warn_unknown(const char *name, const char *near)
{
    if (near)
        log_warn("%s is not a setting (did you mean %s?); it is ignored", name, near);
    else
        log_warn("%s is not a setting; it is ignored", name);
}

/* Logs one of check-config's warnings (config_notices). */
static void warn_notice(const char *msg)
{
    log_warn("%s", msg);
}

static int cmd_serve(const config *cfg, int argc, char **argv)
{
    config_unknown_names(environ, warn_unknown);
    config_media_notice(cfg, warn_notice);
    if (schema_check(cfg, "mediagate serve"))
        return 1;
    return serve_run(cfg);
}

static int cmd_migrate(const config *cfg, int argc, char **argv)
{
    return migrate_run(cfg);
}

/* --connect: the store answers (storage.h's connect check), then "configuration OK"; one line per
 * problem on stderr. Returns 0 or 1. */
static int check_storage(const config *cfg)
{
    char msg[2048];
    store *s = store_open(cfg);
    int rc = s ? store_check(s, msg, sizeof msg) : -1;
    if (!s)
        snprintf(msg, sizeof msg, "out of memory");
    store_close(s);
    if (rc != 0) {
        for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "storage: %s\n", line);
        return 1;
    }
    printf("configuration OK\n");
    if (store_is_s3(cfg))
        printf("storage: bucket %s answers; a write and a delete under '%s' worked\n",
               cfg->storage_bucket, cfg->storage_prefix);
    else
        printf("storage: local directories writable\n");
    return 0;
}

/* The dispatcher has loaded and validated the configuration already. */
static int cmd_check_config(const config *cfg, int argc, char **argv)
{
    bool connect = argc == 1 && strcmp(argv[0], "--connect") == 0;
    if (argc > 0 && !connect)
        return CLI_EUSAGE;
    config_unknown_names(environ, warn_unknown);
    oauth2_notice(cfg);
    config_notices(cfg, warn_notice);
    if (connect) /* prints "configuration OK" only when the store answers */
        return check_storage(cfg);
    printf("configuration OK\n");
    return 0;
}

static int cmd_worker(const config *cfg, int argc, char **argv)
{
    config_unknown_names(environ, warn_unknown);
    if (schema_check(cfg, "mediagate worker"))
        return 1;
    return worker_run(cfg);
}

static int cmd_submit(const config *cfg, int argc, char **argv)
{
    if (argc < 1)
        return CLI_EUSAGE;
    return worker_submit(cfg, argv[0]);
}

static int cmd_settings(const config *cfg, int argc, char **argv)
{
    const char *how = argc > 0 ? argv[0] : "";
    cli_print_settings(stdout, strcmp(how, "--markdown") == 0        ? CLI_SETTINGS_MARKDOWN
                               : strcmp(how, "--markdown-page") == 0 ? CLI_SETTINGS_PAGE
                                                                     : CLI_SETTINGS_LIST);
    return 0;
}

static int cmd_man(const config *cfg, int argc, char **argv)
{
    cli_print_manpage(stdout);
    return 0;
}

static int cmd_version(const config *cfg, int argc, char **argv)
{
    printf("mediagate %s\n", MEDIAGATE_VERSION);
    return 0;
}

/* mediagate help [COMMAND...]: the usage of the command the words name. */
static int cmd_help(const config *cfg, int argc, char **argv)
{
    cli_path p;
    int k = descend(&cli_root, argc, argv, &p);
    if (k < argc) {
        print_unknown(&p, argv[k]);
        return 2;
    }
    print_usage(stdout, &p);
    return 0;
}

static const cli_command commands[] = {
    {.name = "serve", .needs_config = true, .service = true, .fn = cmd_serve, .args = "",
     .usage = "run the FastCGI server (MEDIAGATE_SOCKET, or fd 0)\n"
              "SIGTERM or SIGINT stops accepting, lets in-flight requests finish (up to\n"
              "MEDIAGATE_SHUTDOWN_TIMEOUT), removes the socket and exits 0.\n"},
    {.name = "migrate", .needs_config = true, .fn = cmd_migrate, .args = "",
     .usage = "apply the SQL migrations that are not applied yet\n"
              "Each runs in its own transaction and is recorded in schema_migrations;\n"
              "then each function (sql/functions/) whose file changed since it was last\n"
              "applied, recorded in schema_functions. Then work over every job a\n"
              "migration left (the library's index of jobs made before it) runs in\n"
              "batches of 1000 jobs, each its own transaction, resumed where a stopped\n"
              "run left it. Concurrent runs wait for each other, and a second run\n"
              "changes nothing.\n"},
    {.name = "check-config", .needs_config = true, .service = true, .fn = cmd_check_config,
     .args = "[--connect]",
     .usage = "validate every setting and report all problems\n"
              "Prints \"configuration OK\" and exits 0 when every setting is valid.\n"
              "--connect: also prove the storage answers: with MEDIAGATE_STORAGE=s3 a HEAD\n"
              "of the bucket, then a small object written under the prefix and deleted;\n"
              "locally, the directories are writable. Each failure is one line on stderr\n"
              "naming what failed and the settings to look at; the exit status is 1.\n"},
    {.name = "worker", .needs_config = true, .service = true, .fn = cmd_worker, .args = "",
     .usage = "run background tasks (the local encoder)\n"
              "Claims queued tasks under a lease until SIGTERM or SIGINT.\n"},
    {.name = "submit", .needs_config = true, .fn = cmd_submit, .args = "FILE",
     .usage = "create a local encoding job for FILE; prints its id\n"
              "The job and its encode task are written in one transaction; a running\n"
              "'mediagate worker' picks the task up.\n"},
    {.name = "sync", .needs_config = true, .fn = cli_sync,
     .args = "[OPTION...]",
     .usage = "mirror JW Platform's videos and channels\n"
              "Fetches every video and channel from the management API (v1 list calls,\n"
              "1000 a page, 429s waited out), replaces each type in one transaction, then\n"
              "derives the videos' jobs. A video is rewritten only when its 'updated'\n"
              "changed, a channel when its data changed; a resource gone from the\n"
              "platform gets deleted_at, and is revived if it comes back. Prints a line\n"
              "per page (a bar on a terminal) and: created, updated, deleted, revived,\n"
              "unchanged. Safe from cron: while another sync runs it exits 3, doing\n"
              "nothing.\n"
              "  --sync-all            rewrite and re-derive everything (no freshness check)\n"
              "  --skip-fetch          only derive the jobs from the cached rows\n"
              "  --skip-video-fetch    do not fetch videos\n"
              "  --skip-channel-fetch  do not fetch channels\n"
              "  --wait                wait for a running sync instead of exiting 3\n"},
    {.name = "apikey", .needs_config = true, .subs = cli_apikey_commands,
     .usage = "API keys for the stream routes\n"},
    {.name = "notifications", .needs_config = true, .subs = cli_notifications_commands,
     .default_sub = "list",
     .usage = "notifications: list failed ones, show one, replay one\n"
              "With no command: list.\n"},
    {.name = "tasks", .needs_config = true, .subs = cli_tasks_commands, .default_sub = "list",
     .usage = "background tasks: list, show, retry a dead one, cancel\n"
              "With no command: list.\n"},
    {.name = "jobs", .needs_config = true, .subs = cli_jobs_commands, .default_sub = "list",
     .usage = "encoding jobs: list, show, set an ACL, cancel\n"
              "With no command: list.\n"},
    {.name = "profiles", .needs_config = true, .subs = cli_profiles_commands,
     .default_sub = "list",
     .usage = "encode profiles: list, show, add or replace, remove\n"
              "With no command: list.\n"},
    {.name = "webhook", .needs_config = true, .subs = cli_webhook_commands,
     .usage = "webhooks to customers' apps: endpoints, deliveries\n"},
    {.name = "storage", .needs_config = true, .subs = cli_storage_commands,
     .usage = "media storage: move local outputs into the S3 bucket\n"},
    {.name = "nginx-conf", .needs_config = true, .fn = cli_nginx_conf, .args = "",
     .usage = "print the site's lines for the shipped nginx snippets\n"
              "From MEDIAGATE_SOCKET, MEDIAGATE_ALLOWED_ORIGINS (the Origins nginx's own\n"
              "answers echo) and MEDIAGATE_MEDIA_SIGNING_SECRET. Write them to a file of\n"
              "your own, included in the server { } after the snippets, so that no\n"
              "installed file is edited; write it again when those settings change.\n"},
    {.name = "settings", .fn = cmd_settings, .args = "[--markdown | --markdown-page]",
     .usage = "list every setting with its default and help\n"
              "--markdown prints the rows of the settings table in markdown;\n"
              "--markdown-page prints docs/settings.md (settings and commands).\n"},
    {.name = "man", .fn = cmd_man, .args = "",
     .usage = "print the man page mediagate(1), in roff\n"
              "Made from the command and settings tables; meson builds and installs it.\n"},
    {.name = "version", .fn = cmd_version, .args = "", .alias = "--version",
     .usage = "print the version\n"},
    {.name = "help", .fn = cmd_help, .args = "[COMMAND...]",
     .usage = "print the usage of a command, as COMMAND --help does\n"},
    {.name = NULL},
};

const cli_command cli_root = {
    .name = "mediagate",
    .needs_config = true,
    .subs = commands,
    .usage = "a FastCGI media-platform backend\n"
             "Settings come from MEDIAGATE_* environment variables, which override a\n"
             "key = value file given with --config or MEDIAGATE_CONFIG. --help or -h\n"
             "after any command prints its usage and does nothing else. A command run\n"
             "by hand (not serve, worker or check-config) that has no\n"
             "MEDIAGATE_DATABASE_URL reads the local stack's var/env of the checkout\n"
             "its binary was built in (<checkout>/build/mediagate), when only root or\n"
             "the caller could have written it, and says so.\n",
};

int cli_run(const cli_command *root, int argc, char **argv, const char *config_path,
            cli_load_fn *load)
{
    cli_path p;
    int k = descend(root, argc, argv, &p);
    for (int i = k; i < argc; i++)
        if (is_help(argv[i])) {
            print_usage(stdout, &p);
            return 0;
        }
    if (last(&p)->subs) {
        const cli_command *d = last(&p)->default_sub && k == argc
                                   ? cli_lookup(last(&p)->subs, last(&p)->default_sub)
                                   : NULL;
        if (!d) {
            if (k < argc)
                print_unknown(&p, argv[k]);
            else
                print_usage(stderr, &p);
            return 2;
        }
        p.row[p.n++] = d;
    }
    const cli_command *c = last(&p);
    int ret;
    if (!c->needs_config) {
        ret = c->fn(NULL, argc - k, argv + k);
    } else {
        /* check-config's whole answer is the list of problems. */
        config cfg;
        memset(&cfg, 0, sizeof cfg);
        ret = load(&cfg, config_path, !c->service);
        if (ret != 0 && c->fn != cmd_check_config)
            fprintf(stderr, "%s: not starting until the configuration is fixed\n", root->name);
        if (ret == 0)
            ret = c->fn(&cfg, argc - k, argv + k);
        config_free(&cfg);
    }
    if (ret == CLI_EUSAGE) {
        print_usage(stderr, &p);
        ret = 2;
    }
    return ret;
}
