/* khib image format, version 4: the one definition of the on-disk layout.
 * docs/image-format.md describes the same layout for readers of the bytes.
 *
 * All integers are little-endian and fixed-width.  The structs below are the
 * decoded, in-memory form; image_codec.c encodes and decodes them field by
 * field at the offsets given in the comments, so the C layout of these structs
 * never reaches the disk.
 *
 * Layout of an image (on a raw partition, a file, or a file's extents):
 *
 *   [0, 4096)                     superblock
 *   [4096, 8192)                  the key header, on a target set up for
 *                                 encryption (then data_offset is 8192)
 *   [4096, 4096 + map bytes)      or, an image in a file: the file's extent
 *                                 map (lib/extents.h); data_offset is the
 *                                 next page boundary
 *   [data_offset, data_end)       chunks: independent zstd frames, back to back
 *   [index_offset, +index_bytes)  index: range table, then chunk table
 *
 * Commit protocol (see docs/image-format.md for why each step is ordered so):
 *   1. superblock written with state WRITING, fdatasync: any older image on
 *      the target is invalid from here on;
 *   2. chunks, then the index, written; fdatasync;
 *   3. superblock written with state COMMITTED, fdatasync.
 * A restorer marks the image CONSUMED, fdatasync, immediately before the jump.
 * A normal boot marks a COMMITTED image ABANDONED before it mounts anything
 * read-write: the disks are about to change, so the image must never resume.
 */
#ifndef KHIB_IMAGE_FORMAT_H
#define KHIB_IMAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_MAGIC           "KHIBIMG1"      /* 8 bytes, no NUL */
#define KHIB_INDEX_MAGIC     "KHIBIDX1"
#define KHIB_VERSION         4u      /* 1: khib before the per-type file system records;
                                        2: before the excluded (free) pages and encryption;
                                        3: before images in files (the extent map) */
#define KHIB_SB_SIZE         4096u
#define KHIB_PAGE_SIZE       4096u
#define KHIB_PAGE_SHIFT      12
#define KHIB_CHUNK_PAGES_MAX 256u            /* pages per chunk, at most */
#define KHIB_BITMAP_BYTES    (KHIB_CHUNK_PAGES_MAX / 8)
#define KHIB_FS_MAX          16u
#define KHIB_RELEASE_LEN     65u             /* like utsname.release */
#define KHIB_BUILD_ID_MAX    20u
#define KHIB_FS_DEV_LEN      64u
#define KHIB_FS_MNT_LEN      64u
#define KHIB_FS_STATE_WORDS  5u
#define KHIB_ABANDON_LEN     128u
#define KHIB_HOST_LEN        64u             /* utsname.nodename, cut to 63 bytes */
#define KHIB_SEALED_KEY_LEN  80u             /* crypto_box_SEALBYTES + 32 */
#define KHIB_MAC_LEN         32u

/* Encryption (docs/encryption.md): a target set up for it holds a key
 * header (lib/keyheader.h) in its second block; every image on it then has
 * its data from KHIB_DATA_OFFSET_KEYED on.  An encrypted chunk's frame is
 * followed by its checksum and the AEAD tag, both inside stored_len
 * (KHIB_SEAL_OVERHEAD), and its index checksum is 0. */
#define KHIB_KEYHDR_OFFSET   4096u
#define KHIB_KEYHDR_SIZE     4096u
#define KHIB_DATA_OFFSET_KEYED (KHIB_KEYHDR_OFFSET + KHIB_KEYHDR_SIZE)
#define KHIB_SEAL_OVERHEAD   24u             /* 8-byte checksum + 16-byte tag */

/* At most how many bytes an image takes on the target when raw_bytes of
 * memory are stored, whatever the level (the image size limit: khib
 * hibernate --image-size, khib-save --image-size): raw_bytes if no page
 * compressed at all, plus 1/256 for the index (KHIB_CHUNK_SIZE bytes per
 * chunk of up to KHIB_CHUNK_PAGES_MAX pages), each chunk's checksum or
 * KHIB_SEAL_OVERHEAD and zstd's frame and block headers, plus 1 MiB for the
 * superblock, the key header, the range table and the alignments. */
static inline uint64_t khib_image_bytes_bound(uint64_t raw_bytes)
{
    return raw_bytes + raw_bytes / 256 + (1u << 20);
}

enum khib_cipher {
    KHIB_CIPHER_NONE = 0,
    KHIB_CIPHER_XCHACHA20POLY1305 = 1,
    KHIB_CIPHER_AES256GCM = 2,
};

enum khib_state {
    KHIB_STATE_EMPTY = 0,     /* never written, or wiped */
    KHIB_STATE_WRITING = 1,   /* a save is (or was, when it died) under way */
    KHIB_STATE_COMMITTED = 2, /* complete and synced: may be restored once */
    KHIB_STATE_CONSUMED = 3,  /* restored once: never again */
    KHIB_STATE_ABANDONED = 4, /* a normal boot went ahead instead: never restored */
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

/* How the state of a file system is read and compared: lib/fsstate.c, and
 * docs/filesystems.md for what each kind's state words hold. */
enum khib_fs_kind {
    KHIB_FS_EXT = 1,          /* ext2/3/4 */
    KHIB_FS_XFS = 2,
    KHIB_FS_BTRFS = 3,
    KHIB_FS_VFAT = 4,         /* FAT12/16/32 */
};

#define KHIB_FSREC_RDONLY 1u   /* flags: A had it mounted read-only */

/* A block file system that A had mounted, as it stood on disk when B saved.
 * R compares it with the disk before it resumes: a file system mounted and
 * written since would be corrupted by the resume.  A fills in everything but
 * state (in the note); B finds the device, checks size and uuid, and takes
 * state.  Encoded size: 208 bytes. */
struct khib_fs_record {
    char     dev[KHIB_FS_DEV_LEN];  /*   0: kernel name ("vda1": /dev/vda1), or an absolute path; NUL-padded */
    char     mnt[KHIB_FS_MNT_LEN];  /*  64: where A had it mounted (for messages), NUL-padded, may be cut */
    uint32_t kind;                  /* 128: enum khib_fs_kind */
    uint32_t major;                 /* 132: A's device number (for messages) */
    uint32_t minor;                 /* 136 */
    uint32_t flags;                 /* 140: KHIB_FSREC_* */
    uint64_t dev_bytes;             /* 144: size of the block device in A */
    uint8_t  uuid[16];              /* 152: the file system's identity, as its kind defines it */
    uint64_t state[KHIB_FS_STATE_WORDS]; /* 168: what a mount changes, as its kind defines it */
};
#define KHIB_FS_RECORD_SIZE 208u

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
    uint64_t pages_zero;            /*  184: recorded as zero, not stored (total = zero +
                                                 stored + excluded) */
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
    struct khib_fs_record fs[KHIB_FS_MAX]; /* 272: 16 * 208 = 3328 bytes */
    uint64_t mailbox_nonce;         /* 3600: the note's nonce; R checks it in the
                                              mailbox before writing there (0: none) */
    uint64_t consumed_ns;           /* 3608: CLOCK_REALTIME when R marked it CONSUMED */
    uint64_t abandoned_ns;          /* 3616: CLOCK_REALTIME when a normal boot marked it ABANDONED */
    char     abandon_reason[KHIB_ABANDON_LEN]; /* 3624: why, NUL-padded */
    uint64_t pages_excluded;        /* 3752: A's free pages, neither stored nor restored */
    /* An image in a file (docs/file-target.md): the file's extents on its
     * device, stored at extmap_offset; all offsets of this superblock are
     * offsets in the file.  All zero for an image on a partition. */
    uint64_t extmap_offset;         /* 3760: KHIB_EXTMAP_OFFSET, or 0: no map */
    uint32_t extmap_count;          /* 3768: extents in the map */
    /* 3772 .. 3775 zero */
    uint64_t extmap_checksum;       /* 3776: khib_hash64 of the encoded map */
    uint64_t file_base;             /* 3784: device offset of the file's first byte (its
                                              first extent; the restorer's --offset) */
    /* 3792 .. 3839 zero */
    /* Encryption (docs/encryption.md, lib/seal.h): */
    uint32_t cipher;                /* 3840: enum khib_cipher (0: not encrypted) */
    /* 3844 .. 3847 zero */
    uint8_t  sealed_key[KHIB_SEALED_KEY_LEN]; /* 3848: the image key, sealed to the owner's public key */
    uint8_t  mac[KHIB_MAC_LEN];     /* 3928: keyed BLAKE2b-256 of superblock and index */
    char     host_name[KHIB_HOST_LEN]; /* 3960: A's host name (uname -n), NUL-padded */
    uint64_t locked_ns;             /* 4024: CLOCK_REALTIME when R last exited 11 (an encrypted
                                       image stayed locked); 0 when not, or cleared
                                       (khib-restore --unmark-locked).  Rewritten without the
                                       key, like state: outside the MAC (docs/encryption.md) */
    /* 4032 .. 4087 zero */
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
 * and are not stored; excluded pages (free in the saved kernel: the restorer
 * neither reads nor writes them) have their bit set in excluded_bitmap,
 * never both; the others, in order, form raw_len bytes which are
 * compressed into one zstd frame of stored_len bytes at offset.  A chunk of
 * only zero or excluded pages has stored_len 0.  checksum is khib_hash64 of the raw
 * (uncompressed) bytes.  With KHIB_CHUNK_STORED the frame holds the raw
 * bytes uncompressed, as zstd raw blocks of up to 128 KiB: stored_len is
 * khib_stored_frame_len(raw_len).  Encoded size: 104 bytes. */
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
    uint8_t  excluded_bitmap[KHIB_BITMAP_BYTES]; /* 72 */
};
#define KHIB_CHUNK_SIZE 104u

/* Encoded index: 16-byte header (magic, range_count u32, chunk_count u32),
 * range_count ranges, then chunk_count chunks. */
#define KHIB_INDEX_HEADER_SIZE 16u

static inline uint64_t khib_index_size(uint32_t ranges, uint32_t chunks)
{
    return KHIB_INDEX_HEADER_SIZE + (uint64_t)ranges * KHIB_RANGE_SIZE +
           (uint64_t)chunks * KHIB_CHUNK_SIZE;
}

#endif
