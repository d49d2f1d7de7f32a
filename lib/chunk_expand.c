/* Expanding and checking one chunk (khib-restore, khib-save --verify-after). */
#define _GNU_SOURCE
#include "chunk_codec.h"

#include <inttypes.h>
#include <stdio.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_estimateDCtxSize */
#include <zstd.h>

#include "xxhash64.h"

int khib_decoder_init(struct khib_decoder *dd, char *err, size_t errlen)
{
    dd->dctx = ZSTD_createDCtx();
    if (!dd->dctx) {
        snprintf(err, errlen, "out of memory for the decompressor");
        return -1;
    }
    return 0;
}

size_t khib_decoder_mem(void)
{
    return ZSTD_estimateDCtxSize();
}

void khib_decoder_free(struct khib_decoder *dd)
{
    ZSTD_freeDCtx(dd->dctx);
    dd->dctx = NULL;
}

int khib_chunk_expand(struct khib_decoder *dd, const struct khib_chunk *c, const void *frame, void *raw, char *err,
                      size_t errlen)
{
    if (c->raw_len) {
        size_t n = ZSTD_decompressDCtx(dd->dctx, raw, c->raw_len, frame, c->stored_len);
        if (ZSTD_isError(n)) {
            snprintf(err, errlen, "cannot decompress: zstd: %s", ZSTD_getErrorName(n));
            return -1;
        }
        if (n != c->raw_len) {
            snprintf(err, errlen, "decompressed to %zu bytes instead of %" PRIu32, n, c->raw_len);
            return -1;
        }
    }
    uint64_t sum = khib_hash64(raw, c->raw_len, 0);
    if (sum != c->checksum) {
        snprintf(err, errlen, "checksum mismatch (index %016" PRIx64 ", data %016" PRIx64 ")", c->checksum, sum);
        return -1;
    }
    return 0;
}

