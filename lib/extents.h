/* The extent map of an image in a file (docs/file-target.md): where each
 * byte of the file lies on the block device under its file system.  khib
 * hibernate reads it with FIEMAP and hands it to the transient kernel B (the
 * note's extent fields and /khib/extents); B writes the image through the
 * device, only inside these extents, and stores the map in the image right
 * after the superblock, so that a restorer that knows only the device and
 * the offset of the file's first block can read the rest.
 *
 * Encoded (little-endian): a 16-byte header (magic "KHIBEXT1", count u32,
 * zero u32), then count extents of 24 bytes (logical u64, physical u64,
 * length u64), sorted by logical offset. */
#ifndef KHIB_EXTENTS_H
#define KHIB_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_EXTMAP_MAGIC  "KHIBEXT1"
#define KHIB_EXTMAP_HEADER 16u
#define KHIB_EXTENT_SIZE   24u
/* Most extents of a map: a 64 GiB file of 128 MiB extents (ext4's longest)
 * has 512; a badly fragmented one is refused rather than believed. */
#define KHIB_EXTMAP_MAX    65536u
/* The map lies in the image from here (right after the superblock). */
#define KHIB_EXTMAP_OFFSET 4096u

struct khib_extent {
    uint64_t logical;   /* byte offset in the file (the image) */
    uint64_t physical;  /* byte offset on the device */
    uint64_t length;    /* bytes */
};

struct khib_extmap {
    uint32_t count;
    struct khib_extent *e;   /* malloc'd; khib_extmap_free */
};

static inline uint64_t khib_extmap_bytes(uint32_t count)
{
    return KHIB_EXTMAP_HEADER + (uint64_t)count * KHIB_EXTENT_SIZE;
}

/* The image's data offset for a map of count extents: the first page
 * boundary after the superblock and the map. */
static inline uint64_t khib_extmap_data_offset(uint32_t count)
{
    return (KHIB_EXTMAP_OFFSET + khib_extmap_bytes(count) + 4095u) & ~(uint64_t)4095u;
}

void khib_extmap_free(struct khib_extmap *m);

/* Total bytes the map covers (the file's size once it checked). */
uint64_t khib_extmap_total(const struct khib_extmap *m);

/* Everything a map must be before a byte is written through it: 1 to
 * KHIB_EXTMAP_MAX extents, each non-empty, logical, physical and length
 * multiples of 4096 (the device's direct I/O and the image's pages),
 * contiguous from logical 0 (no hole), inside dev_bytes, no two sharing a
 * device byte, and the first one holding at least head bytes (the
 * superblock and the map itself, which a restorer reads before it knows
 * the rest).  0, or -1 with err. */
int khib_extmap_check(const struct khib_extmap *m, uint64_t dev_bytes, uint64_t head, char *err, size_t errlen);

/* The device offset of image byte off, and in *run how many bytes from
 * there are contiguous on the device; -1 when off is past the map. */
int khib_extmap_locate(const struct khib_extmap *m, uint64_t off, uint64_t *dev, uint64_t *run);

/* Encode into buf of khib_extmap_bytes(m->count) bytes. */
void khib_extmap_encode(const struct khib_extmap *m, void *buf);
/* Decode len bytes (allocates); header and length checked, not the
 * extents (khib_extmap_check).  0, or -1 with err. */
int khib_extmap_decode(const void *buf, size_t len, struct khib_extmap *m, char *err, size_t errlen);

/* Whether one FIEMAP extent's flags let khib write it raw: 0, or -1 with
 * err naming the flag and why.  Allowed: LAST, MERGED (a block-mapped file
 * reported as runs); UNWRITTEN only when allow_unwritten (khib requires
 * written extents: docs/file-target.md). */
int khib_fiemap_flags_check(uint32_t flags, int allow_unwritten, char *err, size_t errlen);

#endif
