/* Compressing one chunk (khib-save).  Kept apart from chunk_expand.c so that
 * a static khib-restore does not carry the zstd compressor. */
#define _GNU_SOURCE
#include "chunk_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image_codec.h"
#include "xxhash64.h"

size_t khib_frame_bound(void)
{
    return ZSTD_COMPRESSBOUND(KHIB_CHUNK_RAW_MAX);
}

int khib_coder_init(struct khib_coder *cd, int level, char *err, size_t errlen)
{
    memset(cd, 0, sizeof *cd);
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel() || level == 0) {
        snprintf(err, errlen, "zstd level %d is out of range (1..%d, or negative for the fast levels down to %d)",
                 level, ZSTD_maxCLevel(), ZSTD_minCLevel());
        return -1;
    }
    cd->cctx = ZSTD_createCCtx();
    cd->scratch = malloc(KHIB_CHUNK_RAW_MAX);
    if (!cd->cctx || !cd->scratch) {
        khib_coder_free(cd);
        snprintf(err, errlen, "out of memory for the compressor");
        return -1;
    }
    /* No checksum or dictionary id in the frame: the index has the checksum. */
    size_t r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_checksumFlag, 0);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_contentSizeFlag, 1);
    if (ZSTD_isError(r)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
        khib_coder_free(cd);
        return -1;
    }
    cd->level = level;
    return 0;
}

void khib_coder_free(struct khib_coder *cd)
{
    ZSTD_freeCCtx(cd->cctx);
    free(cd->scratch);
    memset(cd, 0, sizeof *cd);
}

int khib_chunk_compress(struct khib_coder *cd, const void *pages, struct khib_chunk *c, void *dst, size_t dst_cap,
                        char *err, size_t errlen)
{
    const uint8_t *in = pages;
    uint32_t zeros = 0;
    memset(c->zero_bitmap, 0, sizeof c->zero_bitmap);
    c->flags = 0;
    for (uint32_t i = 0; i < c->pages; i++) {
        if (khib_page_is_zero(in + (size_t)i * KHIB_PAGE_SIZE)) {
            khib_bitmap_set(c->zero_bitmap, i);
            zeros++;
        }
    }
    const uint8_t *raw = in;
    size_t raw_len = (size_t)(c->pages - zeros) * KHIB_PAGE_SIZE;
    if (zeros && raw_len) {
        /* Gather the nonzero pages; without zero pages the input is used as is. */
        uint8_t *o = cd->scratch;
        for (uint32_t i = 0; i < c->pages; i++) {
            if (!khib_bitmap_test(c->zero_bitmap, i)) {
                memcpy(o, in + (size_t)i * KHIB_PAGE_SIZE, KHIB_PAGE_SIZE);
                o += KHIB_PAGE_SIZE;
            }
        }
        raw = cd->scratch;
    }
    c->raw_len = (uint32_t)raw_len;
    c->checksum = khib_hash64(raw, raw_len, 0);
    c->stored_len = 0;
    if (raw_len == 0)
        return 0;
    size_t n = ZSTD_compress2(cd->cctx, dst, dst_cap, raw, raw_len);
    if (ZSTD_isError(n)) {
        snprintf(err, errlen, "zstd compression failed: %s", ZSTD_getErrorName(n));
        return -1;
    }
    c->stored_len = (uint32_t)n;
    return 0;
}

