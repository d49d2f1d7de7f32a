#define _GNU_SOURCE
#include "pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The physical addresses of n pages of ours from /proc/self/pagemap (PFN
 * bits 0-54, present bit 63; the PFN reads as 0 without CAP_SYS_ADMIN,
 * fs/proc/task_mmu.c pagemap_read). */
int physical_addresses(const void *va, size_t n, uint64_t *pa, char *err, size_t errlen)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open /proc/self/pagemap: %s", strerror(errno));
        return -1;
    }
    off_t off = (off_t)((uintptr_t)va / 4096) * 8;
    ssize_t got = pread(fd, pa, n * 8, off);
    int saved = errno;
    close(fd);
    if (got != (ssize_t)(n * 8)) {
        snprintf(err, errlen, "cannot read /proc/self/pagemap: %s", got < 0 ? strerror(saved) : "short read");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t pfn = pa[i] & ((1ULL << 55) - 1);
        if (!(pa[i] >> 63)) {
            pa[i] = KHIB_NOT_PRESENT;
            continue;
        }
        if (pfn == 0) {
            snprintf(err, errlen, "/proc/self/pagemap hides physical addresses: run khib as root");
            return -1;
        }
        pa[i] = pfn * 4096;
    }
    return 0;
}
