/* The on-disk state of a file system, per kind: what identifies it and what
 * a mount changes.  B takes it for each file system A had mounted; R takes
 * it again and compares before resuming, because a file system mounted and
 * written since the hibernation would be corrupted by A's stale in-memory
 * view of it.  docs/filesystems.md says what each kind's words hold. */
#ifndef KHIB_FSSTATE_H
#define KHIB_FSSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"

/* khib_fs_probe() results. */
#define KHIB_FS_OK          0
#define KHIB_FS_NOT_KIND    1     /* readable, but no file system of that kind there */
#define KHIB_FS_UNSUPPORTED 2     /* that kind, in a form khib cannot check (err says which) */
#define KHIB_FS_ERROR       (-1)  /* cannot read (err says why) */

/* The kind of a /proc/mounts file system type ("ext4", "xfs", "btrfs",
 * "vfat", ...), or 0 when khib has no check for it. */
uint32_t khib_fs_kind_of(const char *type);
/* "ext2/3/4", "xfs", "btrfs", "vfat"; "unknown" otherwise. */
const char *khib_fs_kind_name(uint32_t kind);

/* Read the file system of kind on fd (a block device or an image file; the
 * file system starts at byte 0): its identity and its state.  err does not
 * name the device: the caller does. */
int khib_fs_probe(int fd, uint32_t kind, uint8_t uuid[16], uint64_t state[KHIB_FS_STATE_WORDS], char *err,
                  size_t errlen);

/* 0 when now equals was; else -1 with err saying in words what changed,
 * beginning with "was mounted since the hibernation" or "was written since
 * the hibernation" and naming the fields and values, e.g. "was mounted since
 * the hibernation (mount count 5 → 6)". */
int khib_fs_state_diff(uint32_t kind, const uint64_t was[KHIB_FS_STATE_WORDS],
                       const uint64_t now[KHIB_FS_STATE_WORDS], char *err, size_t errlen);

#endif
