/* Every file system this system has mounted from a block device, each
 * either recorded for the transient kernel (which takes its state) or
 * refused with its fix: a hibernation is safe only when a resume can tell
 * that none of them changed in between (docs/filesystems.md). */
#ifndef KHIB_MOUNTS_H
#define KHIB_MOUNTS_H

#include <stdint.h>

#include "image_format.h"
#include "settings.h"

/* Called once per block file system: ok, the fix when not ok, and what. */
typedef void (*mounts_report_fn)(void *ctx, int ok, const char *fix, const char *what);

/* Walk mountinfo (normally /proc/self/mountinfo), fill recs (at most
 * KHIB_FS_MAX) with the file systems to record, report each, and return the
 * number of failures (-1 when mountinfo cannot be read, reported too). */
int mounts_collect(const struct settings *s, const char *mountinfo, struct khib_fs_record *recs, uint32_t *count,
                   mounts_report_fn report, void *ctx);

#endif
