/* What the saved kernel A hands to the transient kernel B (the khib note in
 * the ELF core header) and the mailbox through which B and R report back.
 *
 * The ELF core header that A writes describes A's RAM outside the window as
 * PT_LOAD segments (p_paddr = physical address, p_offset unused = 0 when the
 * header comes without data) and carries one PT_NOTE segment holding an ELF
 * note named "KHIB" of type KHIB_NOTE_TYPE whose descriptor is the encoded
 * struct khib_note below (little-endian, offsets as commented).
 */
#ifndef KHIB_HANDOFF_H
#define KHIB_HANDOFF_H

#include <stdint.h>
#include "image_format.h"

#define KHIB_NOTE_NAME    "KHIB"
#define KHIB_NOTE_TYPE    0x4b484231u     /* "KHB1" */
#define KHIB_NOTE_VERSION 4u      /* 2: before VMCOREINFO (free-page exclusion);
                                     3: before images in files (the extent fields) */
#define KHIB_TARGET_LEN   128u

enum khib_note_flags {
    KHIB_NOTE_TEST = 1u << 0,  /* save, verify, report and jump back to A
                                  instead of powering off */
    KHIB_NOTE_KEEP_FREE = 1u << 1,  /* save A's free pages too (exclude-free=no) */
    KHIB_NOTE_HYBRID = 1u << 2,  /* suspend-to-both (docs/hybrid.md): after the commit B
                                    sleeps in S3 instead of powering off; on wake it
                                    retires the image and jumps back to A */
};
#define KHIB_NOTE_FLAGS (KHIB_NOTE_TEST | KHIB_NOTE_KEEP_FREE | KHIB_NOTE_HYBRID)

/* Encoded size: KHIB_NOTE_SIZE. */
struct khib_note {
    uint32_t version;                         /*   0 */
    uint32_t flags;                           /*   4: enum khib_note_flags */
    uint64_t mailbox_addr;                    /*   8 */
    uint64_t window_start;                    /*  16 */
    uint64_t window_size;                     /*  24 */
    uint64_t memmap_digest;                   /*  32 */
    uint64_t nonce;                           /*  40: also in the mailbox */
    char     kernel_release[KHIB_RELEASE_LEN];/*  48 (65 bytes) */
    uint8_t  build_id_len;                    /* 113 */
    uint8_t  build_id[KHIB_BUILD_ID_MAX];     /* 114 */
    /* 134..135 zero */
    int32_t  level;                           /* 136: zstd level, KHIB_LEVEL_AUTO or _STORE; 0: the saver's default */
    uint32_t fs_count;                        /* 140 */
    char     target[KHIB_TARGET_LEN];         /* 144: image target path, NUL-padded */
    struct khib_fs_record fs[KHIB_FS_MAX];    /* 272: the file systems A had mounted, without
                                                 their state, which B takes (fs_count used) */
    char     host_name[KHIB_HOST_LEN];        /* 3600: A's uname -n, NUL-padded (the rescue stick's list) */
    uint64_t vmcoreinfo_addr;                 /* 3664: A's VMCOREINFO note (/sys/kernel/vmcoreinfo), */
    uint32_t vmcoreinfo_size;                 /* 3672:   0 and 0 when A has none: nothing is excluded */
    /* 3676..3679 zero */
    /* An image in a file (docs/file-target.md): target is the device under
     * its file system, and the file's extents come beside the core header
     * as /khib/extents (lib/extents.h encoding), bound to the note by their
     * count and checksum.  All 0 for a partition. */
    uint64_t file_base;                       /* 3680: device byte of the file's first block */
    uint32_t extent_count;                    /* 3688 */
    /* 3692..3695 zero */
    uint64_t extmap_checksum;                 /* 3696: khib_hash64 of /khib/extents */
};
#define KHIB_NOTE_SIZE (272u + KHIB_FS_MAX * KHIB_FS_RECORD_SIZE + KHIB_HOST_LEN + 40u)   /* 3704 */
#define KHIB_EXTENTS_FILE "/khib/extents"
/* Most bytes of a VMCOREINFO note B reads (the kernel's is one page,
 * VMCOREINFO_NOTE_SIZE in include/linux/vmcore_info.h). */
#define KHIB_VMCOREINFO_NOTE_MAX (64u << 10)

/* The mailbox: one page of A's memory, outside the window, locked by A before
 * the jump.  B (after a test save or any failure) and R (after a restore)
 * write the outcome here; A reads it when reboot(LINUX_REBOOT_CMD_KEXEC)
 * returns.  Encoded little-endian at the page's start. */
#define KHIB_MAILBOX_MAGIC "KHIBMBX1"
#define KHIB_MAILBOX_MSG_LEN 512u

enum khib_mailbox_status {
    KHIB_MBX_WAITING = 0,      /* A wrote it; nobody answered (B died?) */
    KHIB_MBX_SAVED = 1,        /* test mode: image saved and verified */
    KHIB_MBX_SAVE_FAILED = 2,  /* B could not save; msg says why */
    KHIB_MBX_RESTORED = 3,     /* R restored the image; msg names it */
    KHIB_MBX_WOKE = 4,         /* suspend-to-both: B saved, slept, woke, retired the image;
                                  restored_ns is when it woke */
};

struct khib_mailbox {
    char     magic[8];            /*  0 */
    uint64_t nonce;               /*  8: A's random value, checked by B and R */
    uint32_t status;              /* 16: enum khib_mailbox_status */
    uint32_t a_free_pages;        /* 20: A's MemFree in pages, written just before the jump for
                                            B's cross-check of the free pages (0: not given;
                                            UINT32_MAX: more than fits) */
    uint8_t  image_uuid[16];      /* 24 */
    uint64_t saved_ns;            /* 40: when B committed the image */
    uint64_t restored_ns;         /* 48: when R finished writing memory */
    uint64_t save_ms;             /* 56: B's time to save */
    uint64_t restore_ms;          /* 64: R's time to restore */
    uint64_t image_bytes;         /* 72 */
    char     msg[KHIB_MAILBOX_MSG_LEN]; /* 80: NUL-terminated text */
    uint32_t a_pcp_pages;         /* 592: with a_free_pages: the pages then on the per-cpu free
                                            lists, which may be free at the jump, or not */
};
#define KHIB_MAILBOX_SIZE (80u + KHIB_MAILBOX_MSG_LEN + 4u)

#endif
