/* khib image format, version 1: the one definition of the on-disk layout.
 * docs/image-format.md describes the same layout for readers of the bytes.
 *
 * All integers are little-endian and fixed-width.  The structs below are the
 * decoded, in-memory form; image_format.c encodes and decodes them field by
 * field at the offsets given in the comments, so the C layout of these structs
 * never reaches the disk.
 *
 * Layout of an image (on a raw partition, a file, or a file's extents):
 *
 *   [0, 4096)                     superblock
 *   [4096, data_end)              chunks: independent zstd frames, back to back
 *   [index_offset, +index_bytes)  index: range table, then chunk table
 *
 * Commit protocol (see docs/image-format.md for why each step is ordered so):
 *   1. superblock written with state WRITING, fdatasync: any older image on
 *      the target is invalid from here on;
 *   2. chunks, then the index, written; fdatasync;
 *   3. superblock written with state COMMITTED, fdatasync.
 * A restorer marks the image CONSUMED, fdatasync, immediately before the jump.
 */
#ifndef KHIB_IMAGE_FORMAT_H
#define KHIB_IMAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_MAGIC           "KHIBIMG1"      /* 8 bytes, no NUL */
#define KHIB_INDEX_MAGIC     "KHIBIDX1"
#define KHIB_VERSION         1u
#define KHIB_SB_SIZE         4096u
#define KHIB_PAGE_SIZE       4096u
#define KHIB_PAGE_SHIFT      12
#define KHIB_CHUNK_PAGES_MAX 256u            /* pages per chunk, at most */
#define KHIB_BITMAP_BYTES    (KHIB_CHUNK_PAGES_MAX / 8)
#define KHIB_FS_MAX          16u
#define KHIB_RELEASE_LEN     65u             /* like utsname.release */
#define KHIB_BUILD_ID_MAX    20u
#define KHIB_DEV_LEN         32u

enum khib_state {
    KHIB_STATE_EMPTY = 0,     /* never written, or wiped */
    KHIB_STATE_WRITING = 1,   /* a save is (or was, when it died) under way */
    KHIB_STATE_COMMITTED = 2, /* complete and synced: may be restored once */
    KHIB_STATE_CONSUMED = 3,  /* restored once: never again */
};

enum khib_compression {
    KHIB_COMP_ZSTD = 1,
};

/* The superblock's level when the saver chose per chunk between zstd level 1
 * and storing the pages as they are (khib-save --level auto), or stored every
 * chunk (--level store); otherwise it is the zstd level of every chunk.
 * Outside zstd's levels (at most 22). */
#define KHIB_LEVEL_AUTO  1000
#define KHIB_LEVEL_STORE 1001

enum khib_fs_kind {
    KHIB_FS_EXT = 1,          /* ext2/3/4 superblock at byte 1024 */
};

/* A block file system that A had mounted, as its on-disk superblock stood
 * when B saved.  R compares these with the disk before it resumes: a file
 * system mounted and written since would be corrupted by the resume.
 * Encoded size: 80 bytes. */
struct khib_fs_record {
    char     dev[KHIB_DEV_LEN];     /*  0: device path in A, NUL-padded */
    uint8_t  uuid[16];              /* 32: s_uuid */
    uint32_t kind;                  /* 48: enum khib_fs_kind */
    uint32_t mnt_count;             /* 52: s_mnt_count */
    uint32_t mtime;                 /* 56: s_mtime (last mount) */
    uint32_t wtime;                 /* 60: s_wtime (last superblock write) */
    uint64_t kbytes_written;        /* 64: s_kbytes_written */
    uint64_t reserved;              /* 72: zero */
};
#define KHIB_FS_RECORD_SIZE 80u

/* Encoded size: KHIB_SB_SIZE; the last 8 bytes are the checksum. */
struct khib_superblock {
    /* offset */
    char     magic[8];              /*    0 */
    uint32_t version;               /*    8 */
    uint32_t sb_size;               /*   12: KHIB_SB_SIZE */
    uint32_t state;                 /*   16: enum khib_state */
    uint32_t page_size;             /*   20: KHIB_PAGE_SIZE */
    uint8_t  uuid[16];              /*   24: this image */
    uint64_t created_ns;            /*   40: CLOCK_REALTIME when the save began */
    char     kernel_release[KHIB_RELEASE_LEN]; /* 48: A's uname -r, NUL-padded (65 bytes) */
    uint8_t  build_id_len;          /*  113 */
    uint8_t  build_id[KHIB_BUILD_ID_MAX]; /* 114 */
    /* 134..135 zero */
    uint64_t memmap_digest;         /*  136: khib_memmap_digest() of A's firmware map */
    uint64_t jump_back_entry;       /*  144: physical address R jumps to */
    uint64_t mailbox_addr;          /*  152: physical address of A's mailbox page */
    uint64_t window_start;          /*  160: [start, start+size) is not in the image */
    uint64_t window_size;           /*  168 */
    uint64_t pages_total;           /*  176: pages described by the range table */
    uint64_t pages_zero;            /*  184: recorded as zero, not stored */
    uint64_t pages_stored;          /*  192: stored in chunks */
    uint64_t data_offset;           /*  200: first chunk byte (KHIB_SB_SIZE) */
    uint64_t data_bytes;            /*  208: compressed bytes of all chunks */
    uint64_t index_offset;          /*  216: page-aligned */
    uint64_t index_bytes;           /*  224 */
    uint64_t index_checksum;        /*  232: khib_hash64 of the encoded index */
    uint32_t range_count;           /*  240 */
    uint32_t chunk_count;           /*  244 */
    uint32_t chunk_pages;           /*  248: at most KHIB_CHUNK_PAGES_MAX */
    uint32_t compression;           /*  252: enum khib_compression */
    int32_t  level;                 /*  256: compression level used */
    uint32_t fs_count;              /*  260: at most KHIB_FS_MAX */
    uint64_t saved_ns;              /*  264: CLOCK_REALTIME when committed */
    struct khib_fs_record fs[KHIB_FS_MAX]; /* 272: 16 * 80 = 1280 bytes */
    uint64_t mailbox_nonce;         /* 1552: the note's nonce; R checks it in the
                                              mailbox before writing there (0: none) */
    uint64_t consumed_ns;           /* 1560: CLOCK_REALTIME when R marked it CONSUMED */
    /* 1568 .. 4087 zero */
    uint64_t checksum;              /* 4088: khib_hash64 of bytes [0, 4088) */
};

/* A run of saved physical pages: [start_pfn, start_pfn + pages). */
struct khib_range {
    uint64_t start_pfn;
    uint64_t pages;
};
#define KHIB_RANGE_SIZE 16u

/* One chunk: up to chunk_pages consecutive pages of one range.  Zero pages
 * have their bit set in zero_bitmap (bit i = page first_pfn + i, LSB first)
 * and are not stored; the others, in order, form raw_len bytes which are
 * compressed into one zstd frame of stored_len bytes at offset.  A chunk of
 * only zero pages has stored_len 0.  checksum is khib_hash64 of the raw
 * (uncompressed) bytes.  With KHIB_CHUNK_STORED the frame holds the raw
 * bytes uncompressed, as zstd raw blocks of up to 128 KiB: stored_len is
 * khib_stored_frame_len(raw_len).  Encoded size: 72 bytes. */
#define KHIB_CHUNK_STORED 1u        /* flags: the frame is made of raw blocks */
#define KHIB_ZSTD_BLOCK_MAX (128u << 10)

static inline uint32_t khib_stored_frame_len(uint32_t raw_len)
{
    /* magic, frame header descriptor, 4-byte content size; a 3-byte header per block */
    return 9u + 3u * ((raw_len + KHIB_ZSTD_BLOCK_MAX - 1) / KHIB_ZSTD_BLOCK_MAX) + raw_len;
}

struct khib_chunk {
    uint64_t first_pfn;             /*  0 */
    uint32_t pages;                 /*  8 */
    uint32_t flags;                 /* 12: KHIB_CHUNK_STORED or zero */
    uint64_t offset;                /* 16: from the start of the image */
    uint32_t stored_len;            /* 24 */
    uint32_t raw_len;               /* 28: (pages - zero pages) * page size */
    uint64_t checksum;              /* 32 */
    uint8_t  zero_bitmap[KHIB_BITMAP_BYTES]; /* 40 */
};
#define KHIB_CHUNK_SIZE 72u

/* Encoded index: 16-byte header (magic, range_count u32, chunk_count u32),
 * range_count ranges, then chunk_count chunks. */
#define KHIB_INDEX_HEADER_SIZE 16u

static inline uint64_t khib_index_size(uint32_t ranges, uint32_t chunks)
{
    return KHIB_INDEX_HEADER_SIZE + (uint64_t)ranges * KHIB_RANGE_SIZE +
           (uint64_t)chunks * KHIB_CHUNK_SIZE;
}

#endif
