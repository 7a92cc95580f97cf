/* mediagate sync: the JW Platform mirror's command (app/jwplatform/sync.c
 * does the work). Progress goes to stderr, the summary to stdout. */
#include "cli/cli.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "jwplatform/sync.h"
#include "schema.h"

static void put_counts(const char *what, const jw_sync_counts *n)
{
    printf("%s: %lld created, %lld updated, %lld deleted, %lld revived, %lld unchanged\n", what,
           n->created, n->updated, n->deleted, n->revived, n->unchanged);
}

int cli_sync(const config *cfg, int argc, char **argv)
{
    jw_sync_opts o = {.progress = stderr};
    jw_sync_report rep;
    static const struct {
        const char *flag;
        size_t at;
    } flags[] = {
        {"--sync-all", offsetof(jw_sync_opts, sync_all)},
        {"--skip-video-fetch", offsetof(jw_sync_opts, skip_video_fetch)},
        {"--skip-channel-fetch", offsetof(jw_sync_opts, skip_channel_fetch)},
        {"--wait", offsetof(jw_sync_opts, wait)},
    };
    for (int i = 0; i < argc; i++) {
        size_t k = 0;
        if (strcmp(argv[i], "--skip-fetch") == 0) {
            o.skip_video_fetch = o.skip_channel_fetch = true;
            continue;
        }
        while (k < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[k].flag) != 0)
            k++;
        if (k == sizeof flags / sizeof flags[0]) {
            fprintf(stderr, "mediagate sync: unknown option '%s'\n", argv[i]);
            return CLI_EUSAGE;
        }
        *(bool *)((char *)&o + flags[k].at) = true;
    }
    if (schema_check(cfg, "mediagate sync"))
        return 1;
    int ret = jw_sync_run(cfg, &o, &rep);
    if (ret != 0)
        return ret;
    if (rep.fetched_videos)
        put_counts("videos", &rep.videos);
    if (rep.fetched_channels)
        put_counts("channels", &rep.channels);
    printf("jobs derived: %lld (API calls: %lu)\n", rep.derived, rep.calls);
    return 0;
}
