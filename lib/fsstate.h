/* The state of an ext2/3/4 file system as its on-disk superblock records it.
 * B records it for each file system A had mounted; R compares it with the
 * disk before resuming, because a file system mounted and written since the
 * hibernation would be corrupted by A's stale in-memory view of it. */
#ifndef KHIB_FSSTATE_H
#define KHIB_FSSTATE_H

#include <stddef.h>

#include "image_format.h"

/* khib_fs_read() results. */
#define KHIB_FS_OK      0
#define KHIB_FS_NOT_EXT 1     /* readable, but no ext2/3/4 magic */
#define KHIB_FS_ERROR   (-1)  /* cannot open or read (err says why) */

/* Read the superblock at byte 1024 of dev into rec (dev copied into rec->dev,
 * kind KHIB_FS_EXT).  Returns KHIB_FS_OK, KHIB_FS_NOT_EXT or KHIB_FS_ERROR. */
int khib_fs_read(const char *dev, struct khib_fs_record *rec, char *err, size_t errlen);

/* Compare rec with its device now.  Returns 0 when unchanged, or -1 with err
 * naming the device and what changed (or why it cannot be checked). */
int khib_fs_compare(const struct khib_fs_record *rec, char *err, size_t errlen);

#endif
