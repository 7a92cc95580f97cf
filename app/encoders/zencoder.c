/* The zencoder encoder's row (placeholder until its calls land). */
#include "encoders/encoder.h"

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return false;
}

const encoder encoder_zencoder = {.name = "zencoder", .create_kind = "zencoder.create", .configured = configured};
