/* The tencent encoder's row (placeholder until its calls land). */
#include "encoders/encoder.h"

static bool configured(const struct config *cfg)
{
    (void)cfg;
    return false;
}

const encoder encoder_tencent = {.name = "tencent", .create_kind = "tencent.process_media", .configured = configured};
