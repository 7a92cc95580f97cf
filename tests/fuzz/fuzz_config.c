/* libFuzzer harness: the input as a config file, with no environment. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config c;
    cfg_errors e = {0};
    size_t n = config_load_buf(&c, (const char *)data, size, "fuzz.conf", no_env, &e);
    FUZZ_ASSERT(n == e.n);
    for (size_t i = 0; i < e.n; i++)
        FUZZ_ASSERT(e.msg[i] && *e.msg[i]);
    if (n == 0) {
        /* Every value made it through validation. */
        FUZZ_ASSERT(c.database_url && *c.database_url);
        FUZZ_ASSERT(c.threads >= 1 && c.threads <= 1024);
        FUZZ_ASSERT(c.max_body >= 0 && c.max_body <= 16777216);
        FUZZ_ASSERT(c.prefix && (!*c.prefix || c.prefix[0] == '/'));
    }
    config_free(&c);
    cfg_errors_free(&e);
    return 0;
}
