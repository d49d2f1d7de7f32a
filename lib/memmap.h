/* The firmware memory map as the kernel exports it in /sys/firmware/memmap
 * (one directory per entry with files start, end (inclusive) and type).  It
 * is the original map from the firmware (e820_table_firmware on x86), so a
 * restore kernel confined by memmap=exactmap sees the same map as A did. */
#ifndef KHIB_MEMMAP_H
#define KHIB_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "ranges.h"

#define KHIB_MEMMAP_DIR "/sys/firmware/memmap"
#define KHIB_EFI_RUNTIME_MAP_DIR "/sys/firmware/efi/runtime-map"
#define KHIB_MEMMAP_TYPE_LEN 48u

struct khib_memmap_entry {
    uint64_t start;
    uint64_t end; /* inclusive, as in sysfs */
    char type[KHIB_MEMMAP_TYPE_LEN];
};

/* All entries of dir, sorted by start (then end, type); *entries is
 * malloc'd.  Returns 0 or -1 with err. */
int khib_memmap_read(const char *dir, struct khib_memmap_entry **entries, size_t *count, char *err,
                     size_t errlen);

/* The canonical text of the map that the digest covers: one line per range
 * "0x<start>-0x<end> <class>\n" (lower-case hex, no leading zeros, end
 * inclusive), the entries sorted and those of one class that touch or
 * overlap merged, "Unknown E820 type" in the class "Reserved", a System RAM
 * entry from at most 0x400 from 0; then, when efi_dir is given and exists,
 * one line per EFI runtime region (not of a type the E820 part counts as
 * RAM: loader, boot services, conventional) sorted by address:
 * "efi-runtime 0x<phys> pages 0x<n> type 0x<t> attribute 0x<a> virt 0x<va>\n".
 * *text is malloc'd (not NUL-terminated past len).  Returns 0 or -1 with err. */
int khib_memmap_text(const char *dir, const char *efi_dir, char **text, size_t *len, char *err, size_t errlen);

/* khib_hash64 (seed 0) of khib_memmap_text().  Returns 0 or -1 with err. */
int khib_memmap_digest(const char *dir, const char *efi_dir, uint64_t *digest, char *err, size_t errlen);

/* The "System RAM" entries in whole pages, merged where adjacent, without
 * [0, window_end).  Returns 0, or -1 with err (also when there are more
 * than KHIB_RANGE_LIST_MAX ranges or none). */
int khib_memmap_ram(const char *dir, uint64_t window_end, struct khib_range_list *out, char *err,
                    size_t errlen);

#endif
