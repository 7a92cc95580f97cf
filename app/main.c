/* mediagate: a FastCGI media-platform backend. The entry point: global
 * options, then the command table in app/cli/. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "log.h"

/* The database URL taken from the local stack's var/env, when it is. */
static char *local_url;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (local_url && (!v || !*v) && strcmp(name, "MEDIAGATE_DATABASE_URL") == 0)
        return local_url;
    return v;
}

/* For a command run by hand that lacks a database URL: the local stack's,
 * from <checkout>/var/env beside this binary's build, when that file is
 * safe to read (cli_local_stack_url). Says which file it used, or why it
 * did not. Returns true when it found one. */
static bool take_local_stack_url(void)
{
    char path[4096], why[512];
    local_url = cli_local_stack_url("/proc/self/exe", path, sizeof path, why, sizeof why);
    if (local_url)
        fprintf(stderr, "mediagate: MEDIAGATE_DATABASE_URL from %s (the local stack)\n", path);
    else if (*why)
        fprintf(stderr, "mediagate: not reading %s: %s\n", path, why);
    return local_url != NULL;
}

/* Loads and validates the configuration, printing every problem.
 * Returns 0 when it is usable. */
static int load(config *c, const char *path, bool local_stack)
{
    cfg_errors errs = {0};
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread starts */
    size_t n = config_load(c, path, env, &errs);
    bool no_db = !c->database_url || !*c->database_url;
    if (n && no_db && local_stack && take_local_stack_url()) {
        config_free(c);
        cfg_errors_free(&errs);
        memset(&errs, 0, sizeof errs);
        n = config_load(c, path, env, &errs);
        no_db = false;
    }
    if (n) {
        fprintf(stderr, "mediagate: %zu problem%s in the configuration:\n", n, n == 1 ? "" : "s");
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  - %s\n", errs.msg[i]);
        if (no_db)
            fputs("mediagate: for the local stack that scripts/up started, run '. var/env'\n"
                  "  in the project's checkout first (it sets MEDIAGATE_DATABASE_URL); else\n"
                  "  set it, or database_url in a settings file (--config FILE)\n",
                  stderr);
    }
    cfg_errors_free(&errs);
    if (!n)
        log_set_json(c->log_json);
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
    return cli_run(&cli_root, argc - i, argv + i, path, load);
}
