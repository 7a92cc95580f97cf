/* The mux encoder's row (placeholder until its calls land). */
#include "encoders/encoder.h"

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return false;
}

const encoder encoder_mux = {.name = "mux", .create_kind = "mux.create", .configured = configured};
