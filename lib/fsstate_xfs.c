#define _GNU_SOURCE
#include "fsstate_kind.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "target.h"
#include "xxhash64.h"

/* The state of xfs file systems (fsstate.h, docs/filesystems.md).
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
    uint32_t w = khib_fsk_get_be32(bb);
    return w == XFS_HEADER_MAGIC ? khib_fsk_get_be32(bb + 4) : w;
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
    uint8_t *buf = khib_fsk_alloc_or_err((size_t)(n * XFS_BBSIZE), err, errlen);
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
    if (wrapped && khib_fsk_hash_region(log->fd, log->start + (log->bbs - wrapped) * XFS_BBSIZE,
                               (size_t)(wrapped * XFS_BBSIZE), hash, err, errlen) != 0)
        return -1;
    if (before && khib_fsk_hash_region(log->fd, log->start + (head - before) * XFS_BBSIZE, (size_t)(before * XFS_BBSIZE),
                              hash, err, errlen) != 0)
        return -1;
    return 0;
}

/* Where the internal log lies: XFS_FSB_TO_DADDR() of sb_logstart, and
 * XFS_FSB_TO_BB() of sb_logblocks (xfs_log_mount(), fs/xfs/xfs_log.c).
 * UNSUPPORTED with err when the superblock does not make sense. */
static int xfs_locate_log(const uint8_t *sb, uint64_t size, struct xlog *log, char *err, size_t errlen)
{
    uint32_t blocksize = khib_fsk_get_be32(sb + XFS_OFF_BLOCKSIZE), agblocks = khib_fsk_get_be32(sb + XFS_OFF_AGBLOCKS);
    uint64_t logstart = khib_fsk_get_be64(sb + XFS_OFF_LOGSTART), logblocks = khib_fsk_get_be32(sb + XFS_OFF_LOGBLOCKS);
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

int khib_fsk_xfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t sb[XFS_BBSIZE];
    if (size < sizeof sb)
        goto not_xfs;
    if (khib_pread_all(fd, sb, sizeof sb, 0, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    if (khib_fsk_get_be32(sb) != XFS_MAGIC)
        goto not_xfs;
    memcpy(uuid, sb + XFS_OFF_UUID, 16);
    uint16_t sectsize = khib_fsk_get_be16(sb + XFS_OFF_SECTSIZE);
    if (sb[XFS_OFF_INPROGRESS]) {
        snprintf(err, errlen, "its mkfs did not finish (sb_inprogress is set)");
        return KHIB_FS_UNSUPPORTED;
    }
    if (khib_fsk_get_be64(sb + XFS_OFF_LOGSTART) == 0) {
        snprintf(err, errlen, "its log is on an external device (sb_logstart is 0), which khib does not check");
        return KHIB_FS_UNSUPPORTED;
    }
    if (!khib_fsk_is_pow2(sectsize) || sectsize < XFS_BBSIZE || sectsize > 32768 || sectsize > size) {
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
    if (khib_fsk_hash_region(fd, 0, sectsize, &st[3], err, errlen) != 0)
        return KHIB_FS_ERROR;
    return KHIB_FS_OK;
not_xfs:
    snprintf(err, errlen, "holds no xfs file system (no XFSB magic at byte 0)");
    return KHIB_FS_NOT_KIND;
}

int khib_fsk_xfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
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
