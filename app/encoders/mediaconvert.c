/* The mediaconvert encoder's row (placeholder until its calls land). */
#include "encoders/encoder.h"

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return false;
}

const encoder encoder_mediaconvert = {.name = "mediaconvert", .create_kind = "mediaconvert.create", .configured = configured};
