/* The local encoder's row: ffmpeg on the workers (app/worker/encode.c), a
 * job's encode task being the create itself. */
#include "encoders/encoder.h"

#include <stdio.h>
#include <string.h>

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return true;
}

/* libx264 into HLS: h264 only; MP4 copies of the HLS renditions beside
 * it (packaging ["hls", "mp4"]), never MP4 alone. */
static int check(const struct config *cfg, const profile *p, char *err, size_t errcap)
{
    (void)cfg;
    for (int i = 0; i < p->nrend; i++)
        if (strcmp(p->rend[i].codec, "h264") != 0) {
            snprintf(err, errcap, "renditions[%d]: the local encoder makes h264 only, not %s", i,
                     p->rend[i].codec);
            return -1;
        }
    if (!p->hls) {
        snprintf(err, errcap, "packaging: the local encoder packages HLS, and MP4 only beside it "
                              "([\"hls\", \"mp4\"])");
        return -1;
    }
    return 0;
}

const encoder encoder_local = {
    .name = "local", .create_kind = "local.encode", .configured = configured, .check = check};
