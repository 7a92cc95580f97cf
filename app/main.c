/* mediagate: a FastCGI media-platform backend. The entry point: global
 * options, then the command table in app/cli/. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "log.h"

static const char *env(const char *name)
{
    return getenv(name);
}

/* Loads and validates the configuration, printing every problem.
 * Returns 0 when it is usable. */
static int load(config *c, const char *path)
{
    cfg_errors errs = {0};
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread starts */
    size_t n = config_load(c, path, env, &errs);
    if (n) {
        fprintf(stderr, "mediagate: %zu problem%s in the configuration:\n", n,
                n == 1 ? "" : "s");
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  - %s\n", errs.msg[i]);
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
