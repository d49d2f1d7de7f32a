#ifndef KHIB_CHECK_H
#define KHIB_CHECK_H

#include <stdint.h>

#include "image_format.h"
#include "settings.h"

/* Run every precondition of a hibernation, printing one PASS/FAIL line each
 * (with the fix under a FAIL) to stdout when verbose, only the FAILs to
 * stderr otherwise.  The mounted file systems to record go to fs (KHIB_FS_MAX
 * records) and fs_count.  Returns the number of failures. */
int run_checks(const struct settings *s, int verbose, struct khib_fs_record *fs, uint32_t *fs_count);

#endif
