/* khib-restore --scan: the khib images on this machine's block devices, for
 * the rescue stick, which does not know where the image is
 * (docs/rescue-stick.md). */
#ifndef KHIB_RESTORE_SCAN_H
#define KHIB_RESTORE_SCAN_H

#include <stdio.h>

#define KHIB_SYS_BLOCK "/sys/class/block"

/* One line on out for each of paths (or, with npaths 0, each block device
 * listed in sys_block, as /dev/NAME) whose first 4 KiB hold a khib
 * superblock, tab-separated:
 *   DEVICE STATE HOST RELEASE SAVED UUID
 * STATE is the superblock's (COMMITTED, CONSUMED, ...) or DAMAGED (the cause
 * on stderr), "-" stands for an empty field.  Devices of size 0 (an empty
 * drive) and RAM disks are skipped.  Returns the number of COMMITTED images,
 * or -1 when sys_block cannot be listed. */
int scan_images(FILE *out, char *const *paths, int npaths, const char *sys_block);

#endif
