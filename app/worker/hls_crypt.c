/* HLS AES-128 of the local encoder's outputs (app/worker/hls_crypt.h). */
#include "worker/hls_crypt.h"

int hls_crypt_wanted(task_ctx *ctx, const profile *p, bool *want, task_result *res)
{
    (void)ctx, (void)p, (void)res;
    *want = false;
    return 0;
}

int hls_crypt_outputs(task_ctx *ctx, const char *dir, int nvariants, struct json_object *extras,
                      task_result *res)
{
    (void)ctx, (void)dir, (void)nvariants, (void)extras, (void)res;
    return 0;
}

int hls_crypt_decrypt_file(const unsigned char key[16], const unsigned char iv[16],
                           const char *in, const char *out)
{
    (void)key, (void)iv, (void)in, (void)out;
    return -1;
}
