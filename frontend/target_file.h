/* The image in a pre-allocated file (docs/file-target.md): `khib
 * setup-target --file`, and what `khib check` and `khib hibernate` read
 * of the file at every hibernation (its extents, by FIEMAP). */
#ifndef KHIB_TARGET_FILE_H
#define KHIB_TARGET_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "extents.h"
#include "settings.h"

struct file_target {
    char dev[64];            /* /dev/NAME: the device under the file's file system */
    char fstype[16];         /* "ext4", "xfs" */
    uint64_t dev_bytes;
    uint64_t file_bytes;
    struct khib_extmap map;  /* checked: khib_extmap_check() */
};

/* The settings name an image file: target-offset= is set. */
int target_is_file(const struct settings *s);

/* Where the image is opened (lib/image.h khib_image_open_at): the device
 * and the offset of the file's first block for an image file, else the
 * target and 0. */
const char *image_location(const struct settings *s, uint64_t *offset);

/* Read path's layout and decide whether khib may write it raw: a regular
 * file on ext2/3/4 or xfs (btrfs refused: docs/file-target.md), on a disk
 * or partition, no inode flags that change how its blocks are written
 * (data journalling, compression, encryption, inline data, an xfs
 * realtime file), not under data=journal; its extents from FIEMAP
 * (FIEMAP_FLAG_SYNC) every one written and plain (khib_fiemap_flags_check)
 * and the map whole (khib_extmap_check).  0 with ft filled in (the caller
 * frees ft->map), or -1 with err (what is wrong) and fix. */
int file_target_read(const char *path, struct file_target *ft, char *err, size_t errlen, char *fix, size_t fixlen);

/* The settings' image file still lies where target-device= and
 * target-offset= say (they were written by setup-target, and the
 * initramfs's hook was built from them).  0 with ft filled in, or -1 with
 * err and fix. */
int file_target_current(const struct settings *s, struct file_target *ft, char *err, size_t errlen, char *fix,
                        size_t fixlen);

/* khib hibernate: the image file read again (file_target_current), its
 * device one of the file systems to record (fs, count: mounted read-write,
 * so that B finds it by its identity), then the note's target and extent
 * fields, and in *extents (malloc'd, *len bytes) the encoded map for
 * KHIB_EXTENTS_FILE.  0, or -1 with err. */
struct khib_note;
int file_target_handoff(const struct settings *s, struct khib_note *note, void **extents, size_t *len, char *err,
                        size_t errlen);

/* khib setup-target --file PATH --size SIZE [--config FILE]. */
int setup_target_main(int argc, char **argv);

#endif
