/* The on-disk state of ext2/3/4, xfs, btrfs and vfat file systems: what
 * identifies each and what a mount, an fsck or a journal replay changes.
 * docs/filesystems.md describes the state words of each kind; the comments
 * here cite the kernel code that makes each word change. */
#define _GNU_SOURCE
#include "fsstate.h"

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

#define WHAT "the device" /* khib_pread_all() names it; the caller names the device itself */

/* ---- common ------------------------------------------------------------ */

static uint16_t get_be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get_be64(const uint8_t *b)
{
    return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static int is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* Bytes on fd: a regular file's size, or a block device's (BLKGETSIZE64). */
static int dev_size(int fd, uint64_t *size, char *err, size_t errlen)
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

static void *alloc_or_err(size_t n, char *err, size_t errlen)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        snprintf(err, errlen, "cannot allocate %zu bytes to read it", n);
    return p;
}

/* Read len bytes at off and hash them into *h (seeded with the hash so far,
 * so a sequence of regions hashes as one). */
static int hash_region(int fd, uint64_t off, size_t len, uint64_t *h, char *err, size_t errlen)
{
    uint8_t *buf = alloc_or_err(len, err, errlen);
    if (!buf)
        return -1;
    int rc = khib_pread_all(fd, buf, len, off, WHAT, err, errlen);
    if (rc == 0)
        *h = khib_hash64(buf, len, *h);
    free(buf);
    return rc;
}

static void fmt_time(uint64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%" PRIu64, t);
}

/* ---- ext2/3/4 ------------------------------------------------------------
 * struct ext4_super_block, fs/ext4/ext4.h.  Words:
 *   0  s_mnt_count | s_state << 16 | s_feature_incompat << 32
 *   1  s_mtime (with s_mtime_hi: 40 bits)
 *   2  s_wtime (with s_wtime_hi)
 *   3  s_kbytes_written
 *   4  hash of the whole 1024-byte superblock (e2fsck, tune2fs, anything else)
 * A read-write mount increments s_mnt_count, sets s_mtime and sets
 * INCOMPAT_RECOVER (ext4_setup_super()); every superblock commit sets s_wtime
 * and s_kbytes_written (ext4_update_super()); a journal replay, even by a
 * read-only mount, clears INCOMPAT_RECOVER (ext4_mark_recovery_complete()),
 * as e2fsck's replay does. */
#define EXT_SB_OFFSET     1024u
#define EXT_SB_SIZE       1024u
#define EXT_MAGIC         0xEF53
#define EXT_OFF_MTIME     0x2C
#define EXT_OFF_WTIME     0x30
#define EXT_OFF_MNT_COUNT 0x34
#define EXT_OFF_MAGIC     0x38
#define EXT_OFF_STATE     0x3A
#define EXT_OFF_INCOMPAT  0x60
#define EXT_OFF_UUID      0x68
#define EXT_OFF_KBYTES    0x178
#define EXT_OFF_WTIME_HI  0x274
#define EXT_OFF_MTIME_HI  0x275
#define EXT_INCOMPAT_RECOVER 0x0004u

static int ext_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t sb[EXT_SB_SIZE];
    if (size < EXT_SB_OFFSET + EXT_SB_SIZE)
        goto not_ext;
    if (khib_pread_all(fd, sb, sizeof sb, EXT_SB_OFFSET, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    if (khib_get16(sb + EXT_OFF_MAGIC) != EXT_MAGIC)
        goto not_ext;
    memcpy(uuid, sb + EXT_OFF_UUID, 16);
    st[0] = khib_get16(sb + EXT_OFF_MNT_COUNT) | (uint64_t)khib_get16(sb + EXT_OFF_STATE) << 16 |
            (uint64_t)khib_get32(sb + EXT_OFF_INCOMPAT) << 32;
    st[1] = khib_get32(sb + EXT_OFF_MTIME) | (uint64_t)sb[EXT_OFF_MTIME_HI] << 32;
    st[2] = khib_get32(sb + EXT_OFF_WTIME) | (uint64_t)sb[EXT_OFF_WTIME_HI] << 32;
    st[3] = khib_get64(sb + EXT_OFF_KBYTES);
    st[4] = khib_hash64(sb, sizeof sb, 0);
    return KHIB_FS_OK;
not_ext:
    snprintf(err, errlen, "holds no ext2/3/4 file system (no magic 0xEF53 at byte 0x%x)",
             EXT_SB_OFFSET + EXT_OFF_MAGIC);
    return KHIB_FS_NOT_KIND;
}

static int ext_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
{
    uint32_t inc_was = (uint32_t)(was[0] >> 32), inc_now = (uint32_t)(now[0] >> 32);
    unsigned mnt_was = (unsigned)(was[0] & 0xffff), mnt_now = (unsigned)(now[0] & 0xffff);
    unsigned state_was = (unsigned)(was[0] >> 16 & 0xffff), state_now = (unsigned)(now[0] >> 16 & 0xffff);
    char a[40], b[40];
    if ((inc_was & EXT_INCOMPAT_RECOVER) && !(inc_now & EXT_INCOMPAT_RECOVER))
        snprintf(err, errlen, "was mounted since the hibernation (its journal was replayed)");
    else if (mnt_was != mnt_now)
        snprintf(err, errlen, "was mounted since the hibernation (mount count %u → %u)", mnt_was, mnt_now);
    else if (was[1] != now[1]) {
        fmt_time(was[1], a, sizeof a);
        fmt_time(now[1], b, sizeof b);
        snprintf(err, errlen, "was mounted since the hibernation (last mount %s → %s)", a, b);
    } else if (was[2] != now[2] || was[3] != now[3]) {
        fmt_time(was[2], a, sizeof a);
        fmt_time(now[2], b, sizeof b);
        snprintf(err, errlen, "was written since the hibernation (last write %s → %s, %" PRIu64 " → %" PRIu64
                 " KiB written)", a, b, was[3], now[3]);
    } else if (inc_was != inc_now)
        snprintf(err, errlen, "was written since the hibernation (incompatible features 0x%" PRIx32
                 " → 0x%" PRIx32 ")", inc_was, inc_now);
    else if (state_was != state_now)
        snprintf(err, errlen, "was written since the hibernation (state 0x%x → 0x%x)", state_was, state_now);
    else
        snprintf(err, errlen, "was written since the hibernation (its superblock changed)");
    return -1;
}

/* ---- xfs -----------------------------------------------------------------
 * struct xfs_dsb, fs/xfs/libxfs/xfs_format.h (big-endian).  Words:
 *   0  the log's current cycle (that of the block before its head)
 *   1  the log's head, in 512-byte basic blocks from its start
 *   2  hash of the XFS_LOG_TAIL_BBS basic blocks before the head
 *   3  hash of the superblock sector
 *   4  0
 * The superblock is not written on every mount, but the log is: every
 * transaction, the unmount record (xlog_unmount_write()) and the clean-up
 * after a log recovery, even on a read-only mount, append at the head
 * (fs/xfs/xfs_log.c).  The head is found as xlog_find_head() does
 * (fs/xfs/xfs_log_recover.c), in outline: each basic block starts with the
 * cycle in which it was written (xlog_get_cycle()), so a binary search finds
 * where the cycle drops, then a scan back over the blocks that may be in
 * flight (XLOG_TOTAL_REC_SHIFT) finds an earlier hole.  The record-level
 * validation (xlog_find_verify_log_record()) is left out: the words need to
 * be deterministic and move with the log, not to name the exact record. */
#define XFS_MAGIC          0x58465342u /* "XFSB", XFS_SB_MAGIC */
#define XFS_OFF_BLOCKSIZE  4
#define XFS_OFF_UUID       32
#define XFS_OFF_LOGSTART   48
#define XFS_OFF_AGBLOCKS   84
#define XFS_OFF_LOGBLOCKS  96
#define XFS_OFF_SECTSIZE   102
#define XFS_OFF_BLOCKLOG   120
#define XFS_OFF_AGBLKLOG   124
#define XFS_OFF_INPROGRESS 126
#define XFS_BBSHIFT        9            /* BBSHIFT: basic blocks of 512 bytes */
#define XFS_BBSIZE         512u
#define XFS_HEADER_MAGIC   0xFEEDBABEu  /* XLOG_HEADER_MAGIC_NUM */
#define XFS_SCAN_BBS       4096u        /* XLOG_TOTAL_REC_SHIFT: 8 iclogs of 256 KiB */
#define XFS_LOG_TAIL_BBS   64u          /* 32 KiB hashed before the head */

struct xlog {
    int fd;
    uint64_t start;  /* byte offset of the log */
    uint64_t bbs;    /* its length in basic blocks */
};

/* xlog_get_cycle(): a record header's block holds the magic, then h_cycle. */
static uint32_t xlog_cycle(const uint8_t *bb)
{
    uint32_t w = get_be32(bb);
    return w == XFS_HEADER_MAGIC ? get_be32(bb + 4) : w;
}

static int xlog_read(const struct xlog *log, uint64_t blk, uint64_t n, uint8_t *buf, char *err, size_t errlen)
{
    return khib_pread_all(log->fd, buf, (size_t)(n * XFS_BBSIZE), log->start + blk * XFS_BBSIZE, WHAT, err,
                          errlen);
}

static int xlog_cycle_at(const struct xlog *log, uint64_t blk, uint32_t *cycle, char *err, size_t errlen)
{
    uint8_t bb[XFS_BBSIZE];
    if (xlog_read(log, blk, 1, bb, err, errlen) != 0)
        return -1;
    *cycle = xlog_cycle(bb);
    return 0;
}

/* xlog_find_cycle_start(): the first block in (first, *last] with cycle,
 * given that first has another cycle and *last has that one. */
static int xlog_bsearch(const struct xlog *log, uint64_t first, uint64_t *last, uint32_t cycle, char *err,
                        size_t errlen)
{
    uint64_t end = *last;
    while (end - first > 1) {
        uint64_t mid = first + (end - first) / 2;
        uint32_t c;
        if (xlog_cycle_at(log, mid, &c, err, errlen) != 0)
            return -1;
        if (c == cycle)
            end = mid;
        else
            first = mid;
    }
    *last = end;
    return 0;
}

/* xlog_find_verify_cycle(): the first block in [start, start + n) whose
 * cycle is stop, or UINT64_MAX. */
static int xlog_scan(const struct xlog *log, uint64_t start, uint64_t n, uint32_t stop, uint64_t *found,
                     char *err, size_t errlen)
{
    *found = UINT64_MAX;
    if (n == 0)
        return 0;
    uint8_t *buf = alloc_or_err((size_t)(n * XFS_BBSIZE), err, errlen);
    if (!buf)
        return -1;
    int rc = xlog_read(log, start, n, buf, err, errlen);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        if (xlog_cycle(buf + i * XFS_BBSIZE) == stop) {
            *found = start + i;
            break;
        }
    }
    free(buf);
    return rc;
}

/* The head (first block to be written next) and the current cycle. */
static int xlog_head(const struct xlog *log, uint64_t *head, uint32_t *cycle, char *err, size_t errlen)
{
    uint32_t first, last;
    uint64_t n = log->bbs, h = n - 1, found;
    if (xlog_cycle_at(log, 0, &first, err, errlen) != 0 || xlog_cycle_at(log, n - 1, &last, err, errlen) != 0)
        return -1;
    uint64_t scan = n < XFS_SCAN_BBS ? n : XFS_SCAN_BBS;
    uint32_t stop;
    if (last == 0) {
        /* xlog_find_zeroed(): never written to its end; the head is the
         * first zeroed block. */
        if (first == 0) {
            *head = 0;
            *cycle = 0;
            return 0;
        }
        if (xlog_bsearch(log, 0, &h, 0, err, errlen) != 0)
            return -1;
        uint64_t from = h > scan ? h - scan : 0;
        if (xlog_scan(log, from, h - from, 0, &found, err, errlen) != 0)
            return -1;
        if (found != UINT64_MAX)
            h = found;
    } else {
        if (first == last) {
            h = n;   /* the whole log in one cycle: the head wraps to 0 */
            stop = last - 1;
        } else {
            stop = last;
            if (xlog_bsearch(log, 0, &h, last, err, errlen) != 0)
                return -1;
        }
        if (h >= scan) {
            if (xlog_scan(log, h - scan, scan, stop, &found, err, errlen) != 0)
                return -1;
            if (found != UINT64_MAX)
                h = found;
        } else {
            /* the window wraps: the end of the log holds stop - 1 where
             * the last pass did not reach; the start must not hold stop */
            if (xlog_scan(log, n - (scan - h), scan - h, stop - 1, &found, err, errlen) != 0)
                return -1;
            if (found != UINT64_MAX) {
                h = found;
            } else {
                if (xlog_scan(log, 0, h, stop, &found, err, errlen) != 0)
                    return -1;
                if (found != UINT64_MAX)
                    h = found;
            }
        }
        if (h == n)
            h = 0;
    }
    *head = h;
    return xlog_cycle_at(log, h == 0 ? n - 1 : h - 1, cycle, err, errlen);
}

/* Hash of the tail blocks before head, wrapping round the end of the log. */
static int xlog_hash_tail(const struct xlog *log, uint64_t head, uint64_t *hash, char *err, size_t errlen)
{
    uint64_t want = log->bbs < XFS_LOG_TAIL_BBS ? log->bbs : XFS_LOG_TAIL_BBS;
    uint64_t before = head < want ? head : want;   /* blocks [head - before, head) */
    uint64_t wrapped = want - before;              /* blocks [bbs - wrapped, bbs) */
    *hash = 0;
    if (wrapped && hash_region(log->fd, log->start + (log->bbs - wrapped) * XFS_BBSIZE,
                               (size_t)(wrapped * XFS_BBSIZE), hash, err, errlen) != 0)
        return -1;
    if (before && hash_region(log->fd, log->start + (head - before) * XFS_BBSIZE, (size_t)(before * XFS_BBSIZE),
                              hash, err, errlen) != 0)
        return -1;
    return 0;
}

/* Where the internal log lies: XFS_FSB_TO_DADDR() of sb_logstart, and
 * XFS_FSB_TO_BB() of sb_logblocks (xfs_log_mount(), fs/xfs/xfs_log.c).
 * UNSUPPORTED with err when the superblock does not make sense. */
static int xfs_locate_log(const uint8_t *sb, uint64_t size, struct xlog *log, char *err, size_t errlen)
{
    uint32_t blocksize = get_be32(sb + XFS_OFF_BLOCKSIZE), agblocks = get_be32(sb + XFS_OFF_AGBLOCKS);
    uint64_t logstart = get_be64(sb + XFS_OFF_LOGSTART), logblocks = get_be32(sb + XFS_OFF_LOGBLOCKS);
    unsigned blocklog = sb[XFS_OFF_BLOCKLOG], agblklog = sb[XFS_OFF_AGBLKLOG];
    if (blocklog < XFS_BBSHIFT || blocklog > 16 || blocksize != 1u << blocklog || agblklog > 31 || agblocks == 0 ||
        logblocks == 0) {
        snprintf(err, errlen, "its superblock is inconsistent (block size %" PRIu32 ", log of %" PRIu64
                 " blocks)", blocksize, logblocks);
        return KHIB_FS_UNSUPPORTED;
    }
    uint64_t agno = logstart >> agblklog, agbno = logstart & ((1ull << agblklog) - 1);
    uint64_t dev_blocks = size >> blocklog, blk = 0;
    int fits = agbno < agblocks && agno <= dev_blocks / agblocks;
    if (fits) {
        blk = agno * agblocks + agbno;
        fits = blk <= dev_blocks && logblocks <= dev_blocks - blk;
    }
    if (!fits) {
        snprintf(err, errlen, "its superblock puts the log (block %" PRIu64 ", %" PRIu64
                 " blocks) beyond the end of the device", logstart, logblocks);
        return KHIB_FS_UNSUPPORTED;
    }
    log->start = blk << blocklog;
    log->bbs = logblocks << (blocklog - XFS_BBSHIFT);
    return KHIB_FS_OK;
}

static int xfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t sb[XFS_BBSIZE];
    if (size < sizeof sb)
        goto not_xfs;
    if (khib_pread_all(fd, sb, sizeof sb, 0, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    if (get_be32(sb) != XFS_MAGIC)
        goto not_xfs;
    memcpy(uuid, sb + XFS_OFF_UUID, 16);
    uint16_t sectsize = get_be16(sb + XFS_OFF_SECTSIZE);
    if (sb[XFS_OFF_INPROGRESS]) {
        snprintf(err, errlen, "its mkfs did not finish (sb_inprogress is set)");
        return KHIB_FS_UNSUPPORTED;
    }
    if (get_be64(sb + XFS_OFF_LOGSTART) == 0) {
        snprintf(err, errlen, "its log is on an external device (sb_logstart is 0), which khib does not check");
        return KHIB_FS_UNSUPPORTED;
    }
    if (!is_pow2(sectsize) || sectsize < XFS_BBSIZE || sectsize > 32768 || sectsize > size) {
        snprintf(err, errlen, "its superblock is inconsistent (sector size %u)", sectsize);
        return KHIB_FS_UNSUPPORTED;
    }
    struct xlog log = {.fd = fd};
    int rc = xfs_locate_log(sb, size, &log, err, errlen);
    if (rc != KHIB_FS_OK)
        return rc;
    uint64_t head;
    uint32_t cycle;
    if (xlog_head(&log, &head, &cycle, err, errlen) != 0 || xlog_hash_tail(&log, head, &st[2], err, errlen) != 0)
        return KHIB_FS_ERROR;
    st[0] = cycle;
    st[1] = head;
    st[3] = 0;
    if (hash_region(fd, 0, sectsize, &st[3], err, errlen) != 0)
        return KHIB_FS_ERROR;
    return KHIB_FS_OK;
not_xfs:
    snprintf(err, errlen, "holds no xfs file system (no XFSB magic at byte 0)");
    return KHIB_FS_NOT_KIND;
}

static int xfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
{
    if (was[0] != now[0] || was[1] != now[1])
        snprintf(err, errlen, "was mounted since the hibernation (its log moved from cycle %" PRIu64 " block %"
                 PRIu64 " to cycle %" PRIu64 " block %" PRIu64 ")", was[0], was[1], now[0], now[1]);
    else if (was[2] != now[2])
        snprintf(err, errlen, "was written since the hibernation (its log changed before cycle %" PRIu64
                 " block %" PRIu64 ")", now[0], now[1]);
    else
        snprintf(err, errlen, "was written since the hibernation (its superblock changed)");
    return -1;
}

/* ---- btrfs ---------------------------------------------------------------
 * struct btrfs_super_block, include/uapi/linux/btrfs_tree.h, the primary
 * copy at BTRFS_SUPER_INFO_OFFSET (fs/btrfs/fs.h).  Words:
 *   0  generation: every transaction commit writes the superblock with the
 *      new transid (btrfs_commit_transaction(), fs/btrfs/transaction.c)
 *   1  log_root: an fsync writes a tree log and a superblock pointing at it
 *      without a commit (btrfs_sync_log(), fs/btrfs/tree-log.c); a commit or
 *      a log replay at mount clears it
 *   2  hash of the whole superblock (BTRFS_SUPER_INFO_SIZE)
 *   3, 4  0 */
#define BTRFS_SB_OFFSET      65536u
#define BTRFS_SB_SIZE        4096u
#define BTRFS_OFF_FSID       0x20
#define BTRFS_OFF_MAGIC      0x40
#define BTRFS_OFF_GENERATION 0x48
#define BTRFS_OFF_LOG_ROOT   0x60
#define BTRFS_OFF_NUM_DEVS   0x88

static int btrfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t sb[BTRFS_SB_SIZE];
    if (size < BTRFS_SB_OFFSET + BTRFS_SB_SIZE)
        goto not_btrfs;
    if (khib_pread_all(fd, sb, sizeof sb, BTRFS_SB_OFFSET, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    if (memcmp(sb + BTRFS_OFF_MAGIC, "_BHRfS_M", 8) != 0)
        goto not_btrfs;
    memcpy(uuid, sb + BTRFS_OFF_FSID, 16);
    uint64_t devs = khib_get64(sb + BTRFS_OFF_NUM_DEVS);
    if (devs != 1) {
        snprintf(err, errlen, "it spans %" PRIu64 " devices, which khib does not check", devs);
        return KHIB_FS_UNSUPPORTED;
    }
    st[0] = khib_get64(sb + BTRFS_OFF_GENERATION);
    st[1] = khib_get64(sb + BTRFS_OFF_LOG_ROOT);
    st[2] = khib_hash64(sb, sizeof sb, 0);
    return KHIB_FS_OK;
not_btrfs:
    snprintf(err, errlen, "holds no btrfs file system (no _BHRfS_M magic at byte 0x%x)",
             BTRFS_SB_OFFSET + BTRFS_OFF_MAGIC);
    return KHIB_FS_NOT_KIND;
}

static int btrfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
{
    if (was[0] != now[0])
        snprintf(err, errlen, "was written since the hibernation (generation %" PRIu64 " → %" PRIu64 ")", was[0],
                 now[0]);
    else if (was[1] != now[1])
        snprintf(err, errlen, "was written since the hibernation (its tree log moved from byte %" PRIu64
                 " to byte %" PRIu64 ")", was[1], now[1]);
    else
        snprintf(err, errlen, "was written since the hibernation (its superblock changed)");
    return -1;
}

/* ---- vfat ----------------------------------------------------------------
 * struct fat_boot_sector, include/uapi/linux/msdos_fs.h; the geometry as
 * fat_fill_super() (fs/fat/inode.c) derives it.  Words:
 *   0  hash of the boot sector, and of the FSInfo sector on FAT32
 *   1  hash of the first FAT
 *   2  hash of every directory cluster reachable from the root directory
 *   3  bytes of directory hashed
 *   4  0
 * FAT keeps no mount count.  A read-write mount sets FAT_STATE_DIRTY in the
 * boot sector and the unmount clears it, unless it was set already
 * (fat_set_state()); allocation updates the FAT and the FSInfo counters
 * (fat_alloc_clusters(), fs/fat/fatent.c); creating, deleting, renaming,
 * resizing or writing a file changes its directory entry (name, first
 * cluster, size, mtime: fat_write_inode(), fs/fat/inode.c). */
#define FAT_OFF_SECTOR_SIZE 11
#define FAT_OFF_SEC_PER_CLUS 13
#define FAT_OFF_RESERVED    14
#define FAT_OFF_FATS        16
#define FAT_OFF_DIR_ENTRIES 17
#define FAT_OFF_SECTORS     19
#define FAT_OFF_MEDIA       21
#define FAT_OFF_FAT_LENGTH  22
#define FAT_OFF_TOTAL_SECT  32
#define FAT16_OFF_VOL_ID    39
#define FAT32_OFF_LENGTH    36
#define FAT32_OFF_ROOT      44
#define FAT32_OFF_INFO      48
#define FAT32_OFF_VOL_ID    67
#define FAT_MAX12           0xFF4u       /* MAX_FAT12 */
#define FAT_MAX16           0xFFF4u
#define FAT_MAX32           0x0FFFFFF6u
#define FAT_START_ENT       2u
#define FAT_DIRENT          32u
#define FAT_ATTR_VOLUME     0x08
#define FAT_ATTR_DIR        0x10
#define FAT_DELETED         0xE5
#define FAT_MAX_FAT_BYTES   (64u << 20)  /* a FAT32 of 16 M clusters */
#define FAT_MAX_DIR_BYTES   (32u << 20)  /* a million directory entries */

struct fat {
    int fd;
    unsigned bits;            /* 12, 16, 32 */
    uint32_t sector;          /* bytes per sector */
    uint32_t cluster;         /* bytes per cluster */
    uint64_t fat_start;       /* byte offset of the first FAT */
    uint64_t fat_bytes;
    uint64_t root_start;      /* FAT12/16: byte offset of the fixed root directory */
    uint64_t root_bytes;
    uint64_t data_start;      /* byte offset of cluster 2 */
    uint32_t root_cluster;    /* FAT32 */
    uint32_t info_sector;     /* FAT32 */
    uint32_t max_cluster;     /* clusters are [2, max_cluster) */
    uint8_t *table;           /* the first FAT */
};

/* fat_read_bpb(): what the kernel accepts as a BIOS parameter block;
 * NOT_KIND otherwise. */
static int fat_bpb(const uint8_t *b, uint64_t size, struct fat *f, char *err, size_t errlen)
{
    uint32_t ss = khib_get16(b + FAT_OFF_SECTOR_SIZE), spc = b[FAT_OFF_SEC_PER_CLUS];
    uint32_t reserved = khib_get16(b + FAT_OFF_RESERVED), fats = b[FAT_OFF_FATS];
    uint8_t media = b[FAT_OFF_MEDIA];
    uint64_t fat_len = khib_get16(b + FAT_OFF_FAT_LENGTH), fat32_len = khib_get32(b + FAT32_OFF_LENGTH);
    if (!reserved || !fats || !(media >= 0xF8 || media == 0xF0) || !is_pow2(ss) || ss < 512 || ss > 4096 ||
        !is_pow2(spc) || (fat_len == 0 && fat32_len == 0)) {
        snprintf(err, errlen, "holds no vfat file system (no FAT BIOS parameter block at byte 0)");
        return KHIB_FS_NOT_KIND;
    }
    f->sector = ss;
    f->cluster = ss * spc;
    f->bits = fat_len == 0 ? 32 : 0;
    if (f->bits == 32) {
        fat_len = fat32_len;
        f->root_cluster = khib_get32(b + FAT32_OFF_ROOT);
        f->info_sector = khib_get16(b + FAT32_OFF_INFO) ? khib_get16(b + FAT32_OFF_INFO) : 1;
    }
    uint64_t dir_entries = khib_get16(b + FAT_OFF_DIR_ENTRIES);
    uint64_t dir_start = reserved + fats * fat_len, dir_secs = dir_entries * FAT_DIRENT / ss;
    uint64_t data_start = dir_start + dir_secs, total = khib_get16(b + FAT_OFF_SECTORS);
    if (total == 0)
        total = khib_get32(b + FAT_OFF_TOTAL_SECT);
    if (total <= data_start || total * ss > size || (dir_entries * FAT_DIRENT) % ss) {
        snprintf(err, errlen, "its boot sector is inconsistent (%" PRIu64 " sectors, data from sector %" PRIu64
                 ", %" PRIu64 " root entries)", total, data_start, dir_entries);
        return KHIB_FS_UNSUPPORTED;
    }
    uint64_t clusters = (total - data_start) / spc;
    if (f->bits == 0)
        f->bits = clusters > FAT_MAX12 ? 16 : 12;
    uint64_t fat_clusters = fat_len * ss * 8 / f->bits;   /* calc_fat_clusters() */
    if (fat_clusters < FAT_START_ENT)
        fat_clusters = FAT_START_ENT;
    if (clusters > fat_clusters - FAT_START_ENT)
        clusters = fat_clusters - FAT_START_ENT;
    uint64_t max = f->bits == 32 ? FAT_MAX32 : f->bits == 16 ? FAT_MAX16 : FAT_MAX12;
    if (clusters > max) {
        snprintf(err, errlen, "its boot sector is inconsistent (%" PRIu64 " clusters)", clusters);
        return KHIB_FS_UNSUPPORTED;
    }
    f->max_cluster = (uint32_t)(clusters + FAT_START_ENT);
    f->fat_start = (uint64_t)reserved * ss;
    f->fat_bytes = fat_len * ss;
    f->root_start = dir_start * ss;
    f->root_bytes = dir_secs * ss;
    f->data_start = data_start * ss;
    if (f->fat_bytes > FAT_MAX_FAT_BYTES) {
        snprintf(err, errlen, "its FAT is %" PRIu64 " MiB, more than the %u MiB khib reads", f->fat_bytes >> 20,
                 FAT_MAX_FAT_BYTES >> 20);
        return KHIB_FS_UNSUPPORTED;
    }
    return KHIB_FS_OK;
}

/* The FAT entry of cluster c (fat_ent_operations, fs/fat/fatent.c). */
static uint32_t fat_next(const struct fat *f, uint32_t c)
{
    if (f->bits == 12) {
        uint16_t v = khib_get16(f->table + c + c / 2);
        return c & 1 ? v >> 4 : v & 0xFFFu;
    }
    if (f->bits == 16)
        return khib_get16(f->table + 2 * (uint64_t)c);
    return khib_get32(f->table + 4 * (uint64_t)c) & 0x0FFFFFFFu;
}

struct fat_walk {
    uint8_t *seen;            /* a bit per cluster */
    uint32_t *todo;           /* first clusters of directories still to hash */
    size_t ntodo, captodo;
    uint64_t hash, bytes;
};

static int fat_push(struct fat_walk *w, uint32_t c, char *err, size_t errlen)
{
    if (w->ntodo == w->captodo) {
        size_t cap = w->captodo ? 2 * w->captodo : 64;
        uint32_t *p = realloc(w->todo, cap * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "cannot allocate memory for its directory tree");
            return -1;
        }
        w->todo = p;
        w->captodo = cap;
    }
    w->todo[w->ntodo++] = c;
    return 0;
}

/* Queue the subdirectories named in a block of directory entries, as
 * fat_get_short_entry() (fs/fat/dir.c) sees entries: free ones (IS_FREE)
 * and volume labels (and so long-name slots) skipped. */
static int fat_scan_dir(const struct fat *f, struct fat_walk *w, const uint8_t *buf, size_t len, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i + FAT_DIRENT <= len; i += FAT_DIRENT) {
        const uint8_t *de = buf + i;
        if (de[0] == 0 || de[0] == FAT_DELETED || (de[11] & FAT_ATTR_VOLUME) || !(de[11] & FAT_ATTR_DIR))
            continue;
        if (!memcmp(de, ".          ", 11) || !memcmp(de, "..         ", 11))
            continue;
        uint32_t c = khib_get16(de + 26);   /* fat_get_start(), fs/fat/fat.h */
        if (f->bits == 32)
            c |= (uint32_t)khib_get16(de + 20) << 16;
        if (fat_push(w, c, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Hash (and scan) one directory's cluster chain; a cluster seen before ends
 * it, so cross-links and loops end. */
static int fat_walk_chain(const struct fat *f, struct fat_walk *w, uint32_t c, uint8_t *buf, char *err,
                          size_t errlen)
{
    while (c >= FAT_START_ENT && c < f->max_cluster && !(w->seen[c / 8] & (1u << (c % 8)))) {
        w->seen[c / 8] |= (uint8_t)(1u << (c % 8));
        w->bytes += f->cluster;
        if (w->bytes > FAT_MAX_DIR_BYTES) {
            snprintf(err, errlen, "its directories hold more than %u MiB, more than khib reads",
                     FAT_MAX_DIR_BYTES >> 20);
            return KHIB_FS_UNSUPPORTED;
        }
        uint64_t off = f->data_start + (uint64_t)(c - FAT_START_ENT) * f->cluster;
        if (khib_pread_all(f->fd, buf, f->cluster, off, WHAT, err, errlen) != 0)
            return KHIB_FS_ERROR;
        w->hash = khib_hash64(buf, f->cluster, w->hash);
        if (fat_scan_dir(f, w, buf, f->cluster, err, errlen) != 0)
            return KHIB_FS_ERROR;
        c = fat_next(f, c);
    }
    return KHIB_FS_OK;
}

static int fat_hash_dirs(const struct fat *f, struct fat_walk *w, char *err, size_t errlen)
{
    uint8_t *buf = alloc_or_err(f->cluster > f->root_bytes ? f->cluster : (size_t)f->root_bytes, err, errlen);
    if (!buf)
        return KHIB_FS_ERROR;
    int rc = KHIB_FS_OK;
    if (f->bits == 32) {
        rc = fat_push(w, f->root_cluster, err, errlen) == 0 ? KHIB_FS_OK : KHIB_FS_ERROR;
    } else if (khib_pread_all(f->fd, buf, (size_t)f->root_bytes, f->root_start, WHAT, err, errlen) != 0) {
        rc = KHIB_FS_ERROR;
    } else {
        w->hash = khib_hash64(buf, (size_t)f->root_bytes, w->hash);
        w->bytes = f->root_bytes;
        rc = fat_scan_dir(f, w, buf, (size_t)f->root_bytes, err, errlen) == 0 ? KHIB_FS_OK : KHIB_FS_ERROR;
    }
    for (size_t i = 0; rc == KHIB_FS_OK && i < w->ntodo; i++)
        rc = fat_walk_chain(f, w, w->todo[i], buf, err, errlen);
    free(buf);
    return rc;
}

static int vfat_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t boot[512];
    if (size < sizeof boot) {
        snprintf(err, errlen, "holds no vfat file system (no FAT BIOS parameter block at byte 0)");
        return KHIB_FS_NOT_KIND;
    }
    if (khib_pread_all(fd, boot, sizeof boot, 0, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    struct fat f = {.fd = fd};
    int rc = fat_bpb(boot, size, &f, err, errlen);
    if (rc != KHIB_FS_OK)
        return rc;
    memcpy(uuid, boot + (f.bits == 32 ? FAT32_OFF_VOL_ID : FAT16_OFF_VOL_ID), 4);
    st[0] = 0;
    if (hash_region(fd, 0, f.sector, &st[0], err, errlen) != 0 ||
        (f.bits == 32 && hash_region(fd, (uint64_t)f.info_sector * f.sector, f.sector, &st[0], err, errlen) != 0))
        return KHIB_FS_ERROR;
    f.table = alloc_or_err((size_t)f.fat_bytes, err, errlen);
    struct fat_walk w = {0};
    w.seen = alloc_or_err(f.max_cluster / 8 + 1, err, errlen);
    rc = KHIB_FS_ERROR;
    if (f.table && w.seen && khib_pread_all(fd, f.table, (size_t)f.fat_bytes, f.fat_start, WHAT, err, errlen) == 0)
        rc = fat_hash_dirs(&f, &w, err, errlen);
    if (rc == KHIB_FS_OK) {
        st[1] = khib_hash64(f.table, (size_t)f.fat_bytes, 0);
        st[2] = w.hash;
        st[3] = w.bytes;
    }
    free(f.table);
    free(w.seen);
    free(w.todo);
    return rc;
}

static int vfat_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
{
    if (was[1] != now[1] || was[2] != now[2] || was[3] != now[3])
        snprintf(err, errlen, "was written since the hibernation (its FAT or a directory changed)");
    else
        snprintf(err, errlen, "was written since the hibernation (its boot sector or FSInfo sector changed)");
    return -1;
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
    if (dev_size(fd, &size, err, errlen) != 0)
        return KHIB_FS_ERROR;
    int rc;
    switch (kind) {
    case KHIB_FS_EXT:
        rc = ext_probe(fd, size, uuid, state, err, errlen);
        break;
    case KHIB_FS_XFS:
        rc = xfs_probe(fd, size, uuid, state, err, errlen);
        break;
    case KHIB_FS_BTRFS:
        rc = btrfs_probe(fd, size, uuid, state, err, errlen);
        break;
    default:
        rc = vfat_probe(fd, size, uuid, state, err, errlen);
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
        return ext_diff(was, now, err, errlen);
    case KHIB_FS_XFS:
        return xfs_diff(was, now, err, errlen);
    case KHIB_FS_BTRFS:
        return btrfs_diff(was, now, err, errlen);
    case KHIB_FS_VFAT:
        return vfat_diff(was, now, err, errlen);
    default:
        snprintf(err, errlen, "was written since the hibernation (its state changed; unknown file system kind %"
                 PRIu32 ")", kind);
        return -1;
    }
}
