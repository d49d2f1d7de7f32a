/* What khib-restore checks before it touches memory, beyond the image's own
 * consistency: that the image fits this machine and its disks. */
#ifndef KHIB_RESTORE_CHECKS_H
#define KHIB_RESTORE_CHECKS_H

#include <stddef.h>

#include "image.h"

/* No range inside the window [window_start, +window_size), where the
 * restore kernel itself runs. */
int check_window(const struct khib_image *img, char *err, size_t errlen);

/* The firmware memory map under dir has the digest the image recorded. */
int check_memmap(const struct khib_image *img, const char *dir, const char *efi_dir, char *err, size_t errlen);

/* Every recorded file system is unchanged on its device. */
int check_file_systems(const struct khib_image *img, char *err, size_t errlen);

/* The physical address lies in one of the image's ranges (what for: names
 * it in the message). */
int check_in_ranges(const struct khib_image *img, uint64_t addr, const char *what, char *err, size_t errlen);

#endif
