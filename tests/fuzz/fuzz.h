/* Shared by the libFuzzer harnesses: a property check that aborts, so
 * libFuzzer keeps the input. */
#ifndef MEDIAGATE_FUZZ_H
#define MEDIAGATE_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(e)                                                               \
    do {                                                                             \
        if (!(e)) {                                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #e); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
