#ifndef MEDIAGATE_JWPLATFORM_SYNC_H
#define MEDIAGATE_JWPLATFORM_SYNC_H
#include <stdbool.h>
#include <stdio.h>

struct config;

/* mediagate sync: fetch every video and channel from the management API
 * into the mirror (cached_resource, sql/013), each type replaced in one
 * transaction, then derive the videos' job rows. */

typedef struct jw_sync_opts {
    bool sync_all;       /* rewrite and re-derive everything (no freshness check) */
    bool skip_video_fetch, skip_channel_fetch; /* both: --skip-fetch */
    bool wait;           /* wait for a running sync instead of exiting */
    FILE *progress;      /* a line per page; a bar when it is a terminal */
} jw_sync_opts;

typedef struct jw_sync_counts {
    long long created, updated, deleted, revived, unchanged;
} jw_sync_counts;

typedef struct jw_sync_report {
    jw_sync_counts videos, channels;
    bool fetched_videos, fetched_channels;
    long long derived;  /* job rows written */
    unsigned long calls; /* API calls made, retries included */
} jw_sync_report;

/* Runs one sync. Returns 0 (rep filled), 1 on a failure (said on stderr;
 * the type being fetched keeps its previous mirror), or 3 when another sync
 * runs and opts->wait is false. */
int jw_sync_run(const struct config *cfg, const jw_sync_opts *opts, jw_sync_report *rep);

#endif
