/* Compressing one chunk (khib-save).  Kept apart from chunk_expand.c so that
 * a static khib-restore does not carry the zstd compressor. */
#define _GNU_SOURCE
#include "chunk_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getCParams, ZSTD_estimateCCtxSize_usingCParams */
#include <zstd.h>

#include "image_codec.h"
#include "le.h"
#include "xxhash64.h"

size_t khib_frame_bound(void)
{
    return ZSTD_COMPRESSBOUND(KHIB_CHUNK_RAW_MAX);
}

/* The parameters a chunk is compressed with: zstd's for the level and a
 * 1 MiB input, except at level 1 (the default): there zstd's "fast" match
 * finder (one hash table of 2^14 entries, 7-byte matches) makes 1 MiB
 * chunks 0.4-0.6 % larger than `zstd -1` makes a whole stream, and
 * "double fast" with two 2^14-entry tables and 6-byte matches makes them
 * 1.0-3.5 % smaller than that for 12-27 % more time (docs/performance.md). */
static ZSTD_compressionParameters chunk_params(int level)
{
    ZSTD_compressionParameters p = ZSTD_getCParams(level, KHIB_CHUNK_RAW_MAX, 0);
    if (level == 1) {
        p.strategy = ZSTD_dfast;
        p.hashLog = 14;
        p.chainLog = 14;
        p.minMatch = 6;
        p.targetLength = 0;
    }
    return p;
}

/* The zstd level a coder of this khib level compresses with. */
static int zstd_level(int level)
{
    return level == KHIB_LEVEL_AUTO || level == KHIB_LEVEL_STORE ? 1 : level;
}

size_t khib_coder_mem(int level)
{
    return ZSTD_estimateCCtxSize_usingCParams(chunk_params(zstd_level(level))) + KHIB_CHUNK_RAW_MAX;
}

int khib_coder_init(struct khib_coder *cd, int level, char *err, size_t errlen)
{
    memset(cd, 0, sizeof *cd);
    if (level != KHIB_LEVEL_AUTO && level != KHIB_LEVEL_STORE &&
        (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel() || level == 0)) {
        snprintf(err, errlen, "zstd level %d is out of range (1..%d, negative for the fast levels down to %d,"
                 " auto or store)", level, ZSTD_maxCLevel(), ZSTD_minCLevel());
        return -1;
    }
    cd->level = level;
    level = zstd_level(level);
    cd->cctx = ZSTD_createCCtx();
    cd->scratch = malloc(KHIB_CHUNK_RAW_MAX);
    if (!cd->cctx || !cd->scratch) {
        khib_coder_free(cd);
        snprintf(err, errlen, "out of memory for the compressor");
        return -1;
    }
    /* No checksum or dictionary id in the frame: the index has the checksum. */
    ZSTD_compressionParameters p = chunk_params(level);
    size_t r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_strategy, (int)p.strategy);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_hashLog, (int)p.hashLog);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_chainLog, (int)p.chainLog);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_minMatch, (int)p.minMatch);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_checksumFlag, 0);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(cd->cctx, ZSTD_c_contentSizeFlag, 1);
    if (ZSTD_isError(r)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
        khib_coder_free(cd);
        return -1;
    }
    return 0;
}

void khib_coder_free(struct khib_coder *cd)
{
    ZSTD_freeCCtx(cd->cctx);
    free(cd->scratch);
    memset(cd, 0, sizeof *cd);
}

/* A zstd frame (RFC 8878, section 3.1.1) holding raw bytes as they are:
 * single segment, 4-byte content size, raw blocks of at most 128 KiB.  Any
 * zstd decoder expands it with a copy.  Returns its length. */
static size_t store_frame(uint8_t *dst, const uint8_t *raw, uint32_t raw_len)
{
    khib_put32(dst, ZSTD_MAGICNUMBER);
    dst[4] = 2u << 6 | 1u << 5; /* Frame_Content_Size_flag 2 (4 bytes), Single_Segment_flag */
    khib_put32(dst + 5, raw_len);
    uint8_t *o = dst + 9;
    for (uint32_t done = 0; done < raw_len;) {
        uint32_t n = raw_len - done < KHIB_ZSTD_BLOCK_MAX ? raw_len - done : KHIB_ZSTD_BLOCK_MAX;
        /* Block header, 3 bytes: Last_Block, Block_Type 0 (raw), Block_Size. */
        uint32_t h = (uint32_t)(done + n == raw_len) | n << 3;
        o[0] = (uint8_t)h;
        o[1] = (uint8_t)(h >> 8);
        o[2] = (uint8_t)(h >> 16);
        memcpy(o + 3, raw + done, n);
        o += 3 + n;
        done += n;
    }
    return (size_t)(o - dst);
}

/* Compress (or, with store, store) the pages at in, except those marked in
 * c->excluded_bitmap, which are not even read; the nonzero ones are
 * gathered at gather (the coder's scratch, or in itself: a page only ever
 * moves to a lower index). */
static int compress_pages(struct khib_coder *cd, const uint8_t *in, uint8_t *gather, struct khib_chunk *c,
                          void *dst, size_t dst_cap, int store, char *err, size_t errlen)
{
    uint32_t skip = khib_bitmap_count(c->excluded_bitmap, c->pages), zeros = 0;
    memset(c->zero_bitmap, 0, sizeof c->zero_bitmap);
    c->flags = 0;
    for (uint32_t i = 0; i < c->pages; i++) {
        if (!khib_bitmap_test(c->excluded_bitmap, i) && khib_page_is_zero(in + (size_t)i * KHIB_PAGE_SIZE)) {
            khib_bitmap_set(c->zero_bitmap, i);
            zeros++;
        }
    }
    skip += zeros;
    const uint8_t *raw = in;
    size_t raw_len = (size_t)(c->pages - skip) * KHIB_PAGE_SIZE;
    if (skip && raw_len) {
        /* Gather the stored pages; with every page stored the input is used as is. */
        uint8_t *o = gather;
        for (uint32_t i = 0; i < c->pages; i++) {
            if (!khib_bitmap_test(c->zero_bitmap, i) && !khib_bitmap_test(c->excluded_bitmap, i)) {
                const uint8_t *page = in + (size_t)i * KHIB_PAGE_SIZE;
                if (o != page)
                    memcpy(o, page, KHIB_PAGE_SIZE);
                o += KHIB_PAGE_SIZE;
            }
        }
        raw = gather;
    }
    c->raw_len = (uint32_t)raw_len;
    c->checksum = khib_hash64(raw, raw_len, 0);
    c->stored_len = 0;
    if (raw_len == 0)
        return 0;
    if (store) {
        if (dst_cap < khib_stored_frame_len(c->raw_len)) {
            snprintf(err, errlen, "no room for a stored frame of %" PRIu32 " bytes", c->raw_len);
            return -1;
        }
        c->flags = KHIB_CHUNK_STORED;
        c->stored_len = (uint32_t)store_frame(dst, raw, c->raw_len);
        return 0;
    }
    size_t n = ZSTD_compress2(cd->cctx, dst, dst_cap, raw, raw_len);
    if (ZSTD_isError(n)) {
        snprintf(err, errlen, "zstd compression failed: %s", ZSTD_getErrorName(n));
        return -1;
    }
    c->stored_len = (uint32_t)n;
    return 0;
}

int khib_chunk_compress(struct khib_coder *cd, const void *pages, struct khib_chunk *c, void *dst, size_t dst_cap,
                        int store, char *err, size_t errlen)
{
    return compress_pages(cd, pages, cd->scratch, c, dst, dst_cap, store, err, errlen);
}

int khib_chunk_compress_in_place(struct khib_coder *cd, void *pages, struct khib_chunk *c, void *dst,
                                 size_t dst_cap, int store, char *err, size_t errlen)
{
    return compress_pages(cd, pages, pages, c, dst, dst_cap, store, err, errlen);
}
