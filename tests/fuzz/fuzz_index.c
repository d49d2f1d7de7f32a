/* (b) The index: khib_index_decode, then khib_index_check against a decoded
 * superblock, as khib_image_load_index does after the layout check.
 *
 * Input: a superblock (4096 bytes; its checksum is fixed here, so mutations
 * reach the index) followed by the encoded index (everything after it). */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "chunk_codec.h"
#include "image.h"
#include "image_codec.h"
#include "le.h"
#include "reader.h"
#include "xxhash64.h"

/* What a checked index promises the chunk walker and the restorer, given a
 * superblock whose layout is right. */
static void check_checked(const struct khib_superblock *sb, const struct khib_index *idx)
{
    khib_fuzz_assert(idx->range_count == sb->range_count && idx->chunk_count == sb->chunk_count);
    uint64_t pages = 0, zeros = 0, excluded = 0, data_end = sb->data_offset + sb->data_bytes;
    for (uint32_t i = 0; i < idx->range_count; i++) {
        const struct khib_range *r = &idx->ranges[i];
        khib_fuzz_assert(r->pages > 0 && r->start_pfn < (1ull << 52) && r->pages <= (1ull << 52) - r->start_pfn);
        if (i > 0)
            khib_fuzz_assert(r->start_pfn >= idx->ranges[i - 1].start_pfn + idx->ranges[i - 1].pages);
        pages += r->pages;
    }
    khib_fuzz_assert(pages == sb->pages_total);
    uint32_t r = 0;
    uint64_t covered = 0;   /* pages of range r the chunks before covered */
    for (uint32_t i = 0; i < idx->chunk_count; i++) {
        const struct khib_chunk *c = &idx->chunks[i];
        khib_fuzz_assert(r < idx->range_count);
        khib_fuzz_assert(c->pages >= 1 && c->pages <= sb->chunk_pages && (c->flags & ~KHIB_CHUNK_STORED) == 0);
        khib_fuzz_assert(!(c->flags & KHIB_CHUNK_STORED) || c->stored_len == khib_stored_frame_len(c->raw_len));
        khib_fuzz_assert(c->first_pfn == idx->ranges[r].start_pfn + covered);
        khib_fuzz_assert(c->pages <= idx->ranges[r].pages - covered);
        uint32_t z = khib_bitmap_count(c->zero_bitmap, c->pages), x = khib_bitmap_count(c->excluded_bitmap, c->pages);
        khib_fuzz_assert(khib_bitmap_count(c->zero_bitmap, KHIB_CHUNK_PAGES_MAX) == z);
        khib_fuzz_assert(khib_bitmap_count(c->excluded_bitmap, KHIB_CHUNK_PAGES_MAX) == x);
        for (uint32_t b = 0; b < KHIB_BITMAP_BYTES; b++)
            khib_fuzz_assert(!(c->zero_bitmap[b] & c->excluded_bitmap[b]));
        khib_fuzz_assert(c->raw_len == (uint64_t)(c->pages - z - x) * KHIB_PAGE_SIZE);
        khib_fuzz_assert(c->raw_len <= KHIB_CHUNK_RAW_MAX);
        khib_fuzz_assert((c->stored_len == 0) == (c->raw_len == 0));
        khib_fuzz_assert(c->stored_len <= READER_BLOCK - 2 * KHIB_DIRECT_ALIGN);   /* one read holds it */
        khib_fuzz_assert(c->offset >= sb->data_offset && c->offset <= data_end &&
                         c->stored_len <= data_end - c->offset);
        zeros += z;
        excluded += x;
        covered += c->pages;
        if (covered == idx->ranges[r].pages) {
            r++;
            covered = 0;
        }
    }
    khib_fuzz_assert(r == idx->range_count && zeros == sb->pages_zero && excluded == sb->pages_excluded);
}

int khib_fuzz_index(const uint8_t *data, size_t size)
{
    if (size < KHIB_SB_SIZE)
        return 0;
    uint8_t sbbuf[KHIB_SB_SIZE];
    memcpy(sbbuf, data, sizeof sbbuf);
    khib_put64(sbbuf + KHIB_SB_SIZE - 8, khib_hash64(sbbuf, KHIB_SB_SIZE - 8, 0));
    struct khib_superblock sb;
    char err[512];
    if (khib_superblock_decode(sbbuf, &sb, err, sizeof err) != KHIB_SB_OK)
        return 0;

    const uint8_t *ib = data + KHIB_SB_SIZE;
    size_t ilen = size - KHIB_SB_SIZE;
    struct khib_index idx;
    err[0] = 0;
    if (khib_index_decode(ib, ilen, &idx, err, sizeof err) != 0) {
        khib_fuzz_assert(err[0] != 0);
        khib_fuzz_assert(idx.ranges == NULL && idx.chunks == NULL && idx.range_count == 0 && idx.chunk_count == 0);
        return 0;
    }
    khib_fuzz_assert(khib_index_size(idx.range_count, idx.chunk_count) == ilen);
    /* Every byte of an index is a field: encoding gives the input back. */
    uint8_t *enc = malloc(ilen);
    if (enc) {
        khib_index_encode(&idx, enc);
        khib_fuzz_assert(memcmp(enc, ib, ilen) == 0);
        free(enc);
    }
    int layout_ok = khib_superblock_check_layout(&sb, UINT64_MAX, err, sizeof err) == 0;
    err[0] = 0;
    if (khib_index_check(&sb, &idx, err, sizeof err) == 0) {
        if (layout_ok)
            check_checked(&sb, &idx);
    } else {
        khib_fuzz_assert(err[0] != 0);
    }
    khib_index_free(&idx);
    return 0;
}
