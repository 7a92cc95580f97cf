/* The generic encoder kinds (placeholder until they land). */
#include "encoders/encoder.h"

void kind_encoder_create(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    task_fail(res, TASK_FAILED, 1, "not built yet");
}

void kind_encoder_poll(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}

void kind_encoder_cancel(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}
