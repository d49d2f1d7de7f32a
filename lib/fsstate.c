/* The on-disk state of ext2/3/4, xfs, btrfs and vfat file systems: what
 * identifies each and what a mount, an fsck or a journal replay changes.
 * docs/filesystems.md describes the state words of each kind; the comments
 * here cite the kernel code that makes each word change. */
#define _GNU_SOURCE
#include "fsstate_kind.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "le.h"
#include "target.h"
#include "xxhash64.h"

/* ---- shared by the kinds (fsstate_kind.h) ------------------------------ */
uint16_t khib_fsk_get_be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

uint32_t khib_fsk_get_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t khib_fsk_get_be64(const uint8_t *b)
{
    return (uint64_t)khib_fsk_get_be32(b) << 32 | khib_fsk_get_be32(b + 4);
}

int khib_fsk_is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* Bytes on fd: a regular file's size, or a block device's (BLKGETSIZE64). */
int khib_fsk_dev_size(int fd, uint64_t *size, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat the device: %s", strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISBLK(st.st_mode)) {
        snprintf(err, errlen, "it is neither a block device nor a regular file");
        return -1;
    }
    if (ioctl(fd, BLKGETSIZE64, size) != 0) {
        snprintf(err, errlen, "cannot get the size of the device: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void *khib_fsk_alloc_or_err(size_t n, char *err, size_t errlen)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        snprintf(err, errlen, "cannot allocate %zu bytes to read it", n);
    return p;
}

/* Read len bytes at off and hash them into *h (seeded with the hash so far,
 * so a sequence of regions hashes as one). */
int khib_fsk_hash_region(int fd, uint64_t off, size_t len, uint64_t *h, char *err, size_t errlen)
{
    uint8_t *buf = khib_fsk_alloc_or_err(len, err, errlen);
    if (!buf)
        return -1;
    int rc = khib_pread_all(fd, buf, len, off, WHAT, err, errlen);
    if (rc == 0)
        *h = khib_hash64(buf, len, *h);
    free(buf);
    return rc;
}

void khib_fsk_fmt_time(uint64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%" PRIu64, t);
}

/* ---- the interface --------------------------------------------------------- */
uint32_t khib_fs_kind_of(const char *type)
{
    static const struct {
        const char *type;
        uint32_t kind;
    } kinds[] = {{"ext2", KHIB_FS_EXT},    {"ext3", KHIB_FS_EXT},   {"ext4", KHIB_FS_EXT}, {"xfs", KHIB_FS_XFS},
                 {"btrfs", KHIB_FS_BTRFS}, {"vfat", KHIB_FS_VFAT}, {"msdos", KHIB_FS_VFAT}};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(type, kinds[i].type) == 0)
            return kinds[i].kind;
    return 0;
}

const char *khib_fs_kind_name(uint32_t kind)
{
    switch (kind) {
    case KHIB_FS_EXT:
        return "ext2/3/4";
    case KHIB_FS_XFS:
        return "xfs";
    case KHIB_FS_BTRFS:
        return "btrfs";
    case KHIB_FS_VFAT:
        return "vfat";
    default:
        return "unknown";
    }
}

int khib_fs_probe(int fd, uint32_t kind, uint8_t uuid[16], uint64_t state[KHIB_FS_STATE_WORDS], char *err,
                  size_t errlen)
{
    memset(uuid, 0, 16);
    memset(state, 0, KHIB_FS_STATE_WORDS * sizeof *state);
    uint64_t size;
    if (kind < KHIB_FS_EXT || kind > KHIB_FS_VFAT) {
        snprintf(err, errlen, "khib has no check for file system kind %" PRIu32, kind);
        return KHIB_FS_UNSUPPORTED;
    }
    if (khib_fsk_dev_size(fd, &size, err, errlen) != 0)
        return KHIB_FS_ERROR;
    int rc;
    switch (kind) {
    case KHIB_FS_EXT:
        rc = khib_fsk_ext_probe(fd, size, uuid, state, err, errlen);
        break;
    case KHIB_FS_XFS:
        rc = khib_fsk_xfs_probe(fd, size, uuid, state, err, errlen);
        break;
    case KHIB_FS_BTRFS:
        rc = khib_fsk_btrfs_probe(fd, size, uuid, state, err, errlen);
        break;
    default:
        rc = khib_fsk_vfat_probe(fd, size, uuid, state, err, errlen);
        break;
    }
    if (rc != KHIB_FS_OK)
        memset(state, 0, KHIB_FS_STATE_WORDS * sizeof *state);
    return rc;
}

int khib_fs_state_diff(uint32_t kind, const uint64_t was[KHIB_FS_STATE_WORDS],
                       const uint64_t now[KHIB_FS_STATE_WORDS], char *err, size_t errlen)
{
    if (memcmp(was, now, KHIB_FS_STATE_WORDS * sizeof *was) == 0)
        return 0;
    switch (kind) {
    case KHIB_FS_EXT:
        return khib_fsk_ext_diff(was, now, err, errlen);
    case KHIB_FS_XFS:
        return khib_fsk_xfs_diff(was, now, err, errlen);
    case KHIB_FS_BTRFS:
        return khib_fsk_btrfs_diff(was, now, err, errlen);
    case KHIB_FS_VFAT:
        return khib_fsk_vfat_diff(was, now, err, errlen);
    default:
        snprintf(err, errlen, "was written since the hibernation (its state changed; unknown file system kind %"
                 PRIu32 ")", kind);
        return -1;
    }
}
