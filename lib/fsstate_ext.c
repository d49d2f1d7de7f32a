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

/* The state of ext2/3/4 file systems (fsstate.h, docs/filesystems.md).
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

int khib_fsk_ext_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
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

int khib_fsk_ext_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
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
        khib_fsk_fmt_time(was[1], a, sizeof a);
        khib_fsk_fmt_time(now[1], b, sizeof b);
        snprintf(err, errlen, "was mounted since the hibernation (last mount %s → %s)", a, b);
    } else if (was[2] != now[2] || was[3] != now[3]) {
        khib_fsk_fmt_time(was[2], a, sizeof a);
        khib_fsk_fmt_time(now[2], b, sizeof b);
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
