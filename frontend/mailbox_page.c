#define _GNU_SOURCE
#include "mailbox_page.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "handoff.h"
#include "handoff_codec.h"

#define CANDIDATES 64

/* Physical address of a locked page of ours, from /proc/self/pagemap (PFN
 * bits 0-54, present bit 63; the PFN reads as 0 without CAP_SYS_ADMIN,
 * fs/proc/task_mmu.c pagemap_read). */
static int physical_address(const void *va, uint64_t *pa, char *err, size_t errlen)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open /proc/self/pagemap: %s", strerror(errno));
        return -1;
    }
    uint64_t entry = 0;
    off_t off = (off_t)((uintptr_t)va / 4096) * 8;
    ssize_t n = pread(fd, &entry, sizeof entry, off);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)sizeof entry) {
        snprintf(err, errlen, "cannot read /proc/self/pagemap: %s", n < 0 ? strerror(saved) : "short read");
        return -1;
    }
    uint64_t pfn = entry & ((1ULL << 55) - 1);
    if (!(entry >> 63) || pfn == 0) {
        snprintf(err, errlen, "/proc/self/pagemap hides physical addresses: run khib as root");
        return -1;
    }
    *pa = pfn * 4096;
    return 0;
}

int mailbox_page_open(struct mailbox_page *mb, uint64_t window_end, char *err, size_t errlen)
{
    /* The page must lie above the window: a page inside it is swapped out to
     * the kernel's backup copy during the jump, so B and R would write to
     * their own memory instead of A's. */
    size_t len = (size_t)CANDIDATES * 4096;
    unsigned char *area = mmap(NULL, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
    if (area == MAP_FAILED) {
        snprintf(err, errlen, "cannot allocate the mailbox: %s", strerror(errno));
        return -1;
    }
    if (mlock(area, len) != 0) {
        snprintf(err, errlen, "cannot lock the mailbox in memory: %s", strerror(errno));
        munmap(area, len);
        return -1;
    }
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        snprintf(err, errlen, "getrandom failed: %s", strerror(errno));
        munmap(area, len);
        return -1;
    }
    for (int i = 0; i < CANDIDATES; i++) {
        uint64_t pa;
        if (physical_address(area + (size_t)i * 4096, &pa, err, errlen) != 0) {
            munmap(area, len);
            return -1;
        }
        if (pa < window_end)
            continue;
        unsigned char *page = area + (size_t)i * 4096;
        /* Keep only the chosen page. */
        if (i > 0 && munmap(area, (size_t)i * 4096) != 0)
            goto unmap_fail;
        if (i + 1 < CANDIDATES && munmap(page + 4096, (size_t)(CANDIDATES - i - 1) * 4096) != 0)
            goto unmap_fail;
        struct khib_mailbox m;
        memset(&m, 0, sizeof m);
        memcpy(m.magic, KHIB_MAILBOX_MAGIC, 8);
        m.nonce = nonce;
        m.status = KHIB_MBX_WAITING;
        memset(page, 0, 4096);
        khib_mailbox_encode(&m, page);
        mb->page = page;
        mb->phys = pa;
        mb->nonce = nonce;
        return 0;
    unmap_fail:
        snprintf(err, errlen, "munmap failed: %s", strerror(errno));
        return -1;
    }
    snprintf(err, errlen, "no page above the window (0x%llx) among %d tries: memory too small for the window?",
             (unsigned long long)window_end, CANDIDATES);
    munmap(area, len);
    return -1;
}

void mailbox_page_close(struct mailbox_page *mb)
{
    if (mb->page)
        munmap(mb->page, 4096);
    mb->page = NULL;
}
