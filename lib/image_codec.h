/* Encoding, decoding and checking of the on-disk structures of
 * image_format.h: the superblock and the index (range and chunk tables).
 * Every decoder checks what it can and explains a failure in err. */
#ifndef KHIB_IMAGE_CODEC_H
#define KHIB_IMAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"

/* khib_superblock_decode() results. */
#define KHIB_SB_OK   0
#define KHIB_SB_NONE 1    /* no khib magic: never written, wiped, or not an image */
#define KHIB_SB_BAD  (-1) /* a khib superblock, but damaged or unsupported */

/* Write sb into buf (KHIB_SB_SIZE bytes) with its checksum. */
void khib_superblock_encode(const struct khib_superblock *sb, void *buf);

/* Decode and check magic, checksum, version, sizes and field ranges.
 * Returns KHIB_SB_OK, KHIB_SB_NONE or KHIB_SB_BAD (err says why). */
int khib_superblock_decode(const void *buf, struct khib_superblock *sb, char *err, size_t errlen);

/* The layout of a complete (COMMITTED or CONSUMED) image: data at
 * KHIB_SB_SIZE, the index after the data, page-aligned, of the size its
 * counts imply, and all of it inside image_size bytes. */
int khib_superblock_check_layout(const struct khib_superblock *sb, uint64_t image_size, char *err,
                                 size_t errlen);

const char *khib_state_name(uint32_t state);

/* One file system record: KHIB_FS_RECORD_SIZE bytes, as in the superblock
 * and the note (strings always NUL-terminated). */
void khib_fs_record_encode(const struct khib_fs_record *r, void *buf);
void khib_fs_record_decode(const void *buf, struct khib_fs_record *r);
/* What the superblock and the note both require of count records: names and
 * mount points NUL-terminated and non-empty, a device that is a kernel name
 * (opened as /dev/NAME) or an absolute path, a known kind and flags. */
int khib_fs_records_check(const struct khib_fs_record *fs, uint32_t count, char *err, size_t errlen);

/* What A's khib note hands on to the superblock, checked alike in both
 * decoders (what: "khib note" or "superblock", for the message): the
 * counts, the window page-aligned and not wrapping, the mailbox
 * page-aligned, the kernel release terminated, the file system records. */
struct khib_handoff_fields {
    uint64_t window_start, window_size, mailbox_addr;
    uint32_t fs_count;
    uint8_t build_id_len;
    const char *kernel_release;
    const struct khib_fs_record *fs;
};
int khib_handoff_check(const char *what, const struct khib_handoff_fields *f, char *err, size_t errlen);

/* The first of the n ranges with a page inside the window [start, start +
 * size) (its end rounded up to a page), or n: B checks the core header
 * with it, R the image. */
uint32_t khib_window_overlap(const struct khib_range *r, uint32_t n, uint64_t start, uint64_t size);

/* The decoded index. */
struct khib_index {
    uint32_t range_count;
    uint32_t chunk_count;
    struct khib_range *ranges;
    struct khib_chunk *chunks;
};

/* Encode into buf of exactly khib_index_size(range_count, chunk_count) bytes. */
void khib_index_encode(const struct khib_index *idx, void *buf);

/* Decode len bytes (allocates the tables; khib_index_free releases them).
 * Checks the header and that len matches its counts.  Returns 0 or -1. */
int khib_index_decode(const void *buf, size_t len, struct khib_index *idx, char *err, size_t errlen);
void khib_index_free(struct khib_index *idx);

/* Everything the index must agree on with itself and the superblock: counts,
 * sorted non-overlapping ranges, chunks tiling the ranges in order without
 * crossing a range, bitmaps, lengths, offsets back to back, totals.
 * Returns 0 or -1 with err. */
int khib_index_check(const struct khib_superblock *sb, const struct khib_index *idx, char *err,
                     size_t errlen);

/* Pages in a zero bitmap (only bits below pages count). */
uint32_t khib_bitmap_count(const uint8_t *bitmap, uint32_t pages);

static inline int khib_bitmap_test(const uint8_t *bitmap, uint32_t i)
{
    return (bitmap[i >> 3] >> (i & 7)) & 1;
}

static inline void khib_bitmap_set(uint8_t *bitmap, uint32_t i)
{
    bitmap[i >> 3] |= (uint8_t)(1u << (i & 7));
}

#endif
