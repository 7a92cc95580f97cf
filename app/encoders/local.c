/* The local encoder's row (placeholder until its calls land). */
#include "encoders/encoder.h"

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return false;
}

const encoder encoder_local = {.name = "local", .create_kind = "local.encode", .configured = configured};
