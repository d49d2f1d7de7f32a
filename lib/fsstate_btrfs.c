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

/* The state of btrfs file systems (fsstate.h, docs/filesystems.md).
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

int khib_fsk_btrfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
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

int khib_fsk_btrfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
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
