/* A file system record's device, found again in another kernel: B takes the
 * state of each file system A had mounted, R checks it before resuming.
 * Both find the device the same way (fsrecord.c), then let fsstate.c read
 * and compare the state of its kind. */
#ifndef KHIB_FSRECORD_H
#define KHIB_FSRECORD_H

#include <stddef.h>

#include "image_format.h"

/* "the file system at / (ext2/3/4 on vda)" into buf. */
void khib_fs_describe(const struct khib_fs_record *rec, char *buf, size_t len);

/* B: find rec's device (its name, or else the one block device of its size
 * holding its file system), check that it holds the file system A had
 * mounted (kind, uuid), and store the state.  rec->dev becomes the name the
 * device has here.  0, or -1 with err naming the file system and the cause. */
int khib_fs_take(struct khib_fs_record *rec, char *err, size_t errlen);

/* R: find the device the same way and compare its state with rec.  0 when
 * unchanged; -1 with err naming the file system and what changed, or why it
 * cannot be checked. */
int khib_fs_check(const struct khib_fs_record *rec, char *err, size_t errlen);

#endif
