/* mediagate: a FastCGI media-platform backend. Entry point and subcommands. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "config.h"
#include "migrate.h"
#include "serve.h"
#include "worker/worker.h"

static const char usage[] =
    "usage: mediagate [--config FILE] COMMAND\n"
    "\n"
    "commands:\n"
    "  serve          run the FastCGI server (MEDIAGATE_SOCKET, or fd 0)\n"
    "  migrate        apply the SQL migrations that are not applied yet\n"
    "  check-config   validate every setting and report all problems\n"
    "  worker         run background tasks (the local encoder)\n"
    "  submit FILE    create a local encoding job for FILE; prints its id\n"
    "  apikey create NAME | list | revoke ID   API keys for the stream routes\n"
    "  notifications list [--all] | show ID | replay ID\n"
    "                 failed (or all) notifications; one's raw body; apply one again\n"
    "  settings [--markdown]  list every setting with its default and help\n"
    "  version        print the version\n"
    "\n"
    "Settings come from MEDIAGATE_* environment variables, which override a\n"
    "key = value file given with --config or MEDIAGATE_CONFIG.\n";

static const char *env(const char *name)
{
    return getenv(name);
}

/* Prints the settings table; markdown gives the README's table rows. */
static void list_settings(bool markdown)
{
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        const char *type = s->type == CFG_INT ? "integer" : s->type == CFG_BOOL ? "on/off" : "string";
        if (markdown) {
            char range[64] = "";
            if (s->type == CFG_INT)
                snprintf(range, sizeof range, " (%ld–%ld)", s->min, s->max);
            printf("| `%s` | %s%s | %s | %s |\n", s->name, type, range,
                   s->required ? "required" : (s->def && *s->def ? s->def : "(empty)"), s->help);
            continue;
        }
        printf("%-28s %-8s default=%s%s\n    %s\n", s->name,
               type,
               s->def ? (*s->def ? s->def : "(empty)") : "(none)",
               s->required ? " required" : "", s->help);
    }
}

/* Loads and validates the configuration, printing every problem.
 * Returns 0 when it is usable. */
static int load(config *c, const char *path)
{
    cfg_errors errs = {0};
    size_t n = config_load(c, path, env, &errs);
    if (n) {
        fprintf(stderr, "mediagate: %zu problem%s in the configuration:\n", n,
                n == 1 ? "" : "s");
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  - %s\n", errs.msg[i]);
    }
    cfg_errors_free(&errs);
    return n ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *path = getenv("MEDIAGATE_CONFIG");
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
        path = argv[i + 1];
        i += 2;
    }
    if (path && !*path)
        path = NULL;
    if (i >= argc || strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0) {
        fputs(usage, i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mediagate %s\n", MEDIAGATE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "settings") == 0) {
        list_settings(i + 1 < argc && strcmp(argv[i + 1], "--markdown") == 0);
        return 0;
    }

    config c;
    int ret;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread starts */
    if (strcmp(cmd, "check-config") == 0) {
        ret = load(&c, path);
        if (ret == 0)
            printf("configuration OK\n");
    } else if (strcmp(cmd, "migrate") == 0) {
        ret = load(&c, path);
        if (ret == 0)
            ret = migrate_run(&c);
    } else if (strcmp(cmd, "worker") == 0) {
        ret = load(&c, path);
        if (ret == 0)
            ret = worker_run(&c);
    } else if (strcmp(cmd, "submit") == 0) {
        ret = load(&c, path);
        if (ret == 0 && i + 1 >= argc) {
            fprintf(stderr, "usage: mediagate submit FILE\n");
            ret = 2;
        } else if (ret == 0) {
            ret = worker_submit(&c, argv[i + 1]);
        }
    } else if (strcmp(cmd, "apikey") == 0) {
        ret = load(&c, path);
        if (ret == 0)
            ret = admin_apikey(&c, argc - i - 1, argv + i + 1);
    } else if (strcmp(cmd, "notifications") == 0) {
        ret = load(&c, path);
        if (ret == 0)
            ret = admin_notifications(&c, argc - i - 1, argv + i + 1);
    } else if (strcmp(cmd, "serve") == 0) {
        ret = load(&c, path);
        if (ret != 0)
            fprintf(stderr, "mediagate: not starting until the configuration is fixed\n");
        else
            ret = serve_run(&c);
    } else {
        fprintf(stderr, "mediagate: unknown command '%s'\n\n%s", cmd, usage);
        return 2;
    }
    config_free(&c);
    return ret;
}
