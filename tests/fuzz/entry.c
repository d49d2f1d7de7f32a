/* The libFuzzer entry point of one harness: built once per harness with
 * -DKHIB_FUZZ_TARGET=khib_fuzz_NAME (tests/fuzz/rules.mk). */
#include "fuzz.h"

#ifndef KHIB_FUZZ_TARGET
#error "build with -DKHIB_FUZZ_TARGET=khib_fuzz_NAME"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return KHIB_FUZZ_TARGET(data, size);
}
