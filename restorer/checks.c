#define _GNU_SOURCE
#include "checks.h"

#include <inttypes.h>
#include <stdio.h>

#include "fsrecord.h"
#include "memmap.h"

int check_window(const struct khib_image *img, char *err, size_t errlen)
{
    const struct khib_superblock *sb = &img->sb;
    uint32_t i = khib_window_overlap(img->idx.ranges, img->idx.range_count, sb->window_start, sb->window_size);
    if (i == img->idx.range_count)
        return 0;
    const struct khib_range *r = &img->idx.ranges[i];
    snprintf(err, errlen, "range %" PRIu32 " [0x%" PRIx64 ", 0x%" PRIx64 ") lies inside the window [0x%" PRIx64
             ", 0x%" PRIx64 ") where this restore kernel runs: restoring it would overwrite the restorer", i,
             r->start_pfn << KHIB_PAGE_SHIFT, (r->start_pfn + r->pages) << KHIB_PAGE_SHIFT, sb->window_start,
             sb->window_start + sb->window_size);
    return -1;
}

int check_memmap(const struct khib_image *img, const char *dir, const char *efi_dir, char *err, size_t errlen)
{
    uint64_t digest;
    char why[400];
    if (khib_memmap_digest(dir, efi_dir, &digest, why, sizeof why) != 0) {
        snprintf(err, errlen, "cannot check the memory map: %s", why);
        return -1;
    }
    if (digest != img->sb.memmap_digest) {
        snprintf(err, errlen, "the firmware memory map (%s) differs from the hibernated system's (digest %016" PRIx64
                 ", image %016" PRIx64 "): RAM was added, removed or moved, or the reserved, ACPI or EFI runtime"
                 " regions%s%s; this image cannot resume here (khib-restore --memmap shows this machine's map)",
                 dir, digest, img->sb.memmap_digest, efi_dir ? " of " : "", efi_dir ? efi_dir : "");
        return -1;
    }
    return 0;
}

int check_file_systems(const struct khib_image *img, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < img->sb.fs_count; i++)
        if (khib_fs_check(&img->sb.fs[i], err, errlen) != 0)
            return -1;
    return 0;
}

int check_in_ranges(const struct khib_image *img, uint64_t addr, const char *what, char *err, size_t errlen)
{
    uint64_t pfn = addr >> KHIB_PAGE_SHIFT;
    for (uint32_t i = 0; i < img->idx.range_count; i++) {
        const struct khib_range *r = &img->idx.ranges[i];
        if (pfn >= r->start_pfn && pfn - r->start_pfn < r->pages)
            return 0;
    }
    snprintf(err, errlen, "the %s 0x%" PRIx64 " lies outside the memory the image holds", what, addr);
    return -1;
}
