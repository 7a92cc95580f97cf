/* libFuzzer harness: a playlist read back from an encode's outputs
 * (untrusted bytes: a full disk or another writer may leave anything)
 * through hls_check_media and hls_check_master, with their contracts
 * checked. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "worker/ffmpeg.h"

/* The segment check: counts the names it is shown and checks they are plain. */
static int seg(void *arg, const char *name)
{
    FUZZ_ASSERT(name[0] && name[0] != '.' && !strchr(name, '/'));
    (*(int *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[200] = "";
    double total = -1;
    int segs = -1, calls = 0;
    int rc = hls_check_media((const char *)data, size, seg, &calls, &total, &segs, msg, sizeof msg);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc == 0)
        FUZZ_ASSERT(segs > 0 && segs == calls && total > 0 && total <= 3600.0 * segs);
    else
        FUZZ_ASSERT(msg[0] && !strchr(msg, '/'));
    msg[0] = '\0';
    rc = hls_check_master((const char *)data, size, size ? data[size - 1] % 9 : 1,
                          size && data[0] % 2, msg, sizeof msg);
    FUZZ_ASSERT(rc == 0 || (rc == -1 && msg[0]));
    return 0;
}
