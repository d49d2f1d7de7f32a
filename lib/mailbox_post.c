#define _GNU_SOURCE
#include "mailbox_post.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handoff_codec.h"

/* /dev/mem is mapped, not read: read() refuses addresses above the confined
 * kernel's high_memory (valid_phys_addr_range(), drivers/char/mem.c). */
static void *map_page(const char *memdev, uint64_t addr, int writable, char *err, size_t errlen)
{
    int fd = open(memdev, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", memdev, strerror(errno));
        return NULL;
    }
    void *p = mmap(NULL, 4096, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd,
                   (off_t)(addr & ~(uint64_t)4095));
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map physical page 0x%llx of %s: %s",
                 (unsigned long long)(addr & ~(uint64_t)4095), memdev, strerror(e));
        return NULL;
    }
    return p;
}

int khib_read_phys_page(const char *memdev, uint64_t addr, void *page, char *err, size_t errlen)
{
    void *p = map_page(memdev, addr, 0, err, errlen);
    if (!p)
        return -1;
    memcpy(page, p, 4096);
    munmap(p, 4096);
    return 0;
}

int khib_mailbox_open(struct khib_mailbox_page *mp, const char *memdev, uint64_t addr, const uint64_t *nonce,
                      char *err, size_t errlen)
{
    memset(mp, 0, sizeof *mp);
    if (addr & 4095) {
        snprintf(err, errlen, "mailbox address 0x%llx is not page-aligned", (unsigned long long)addr);
        return -1;
    }
    unsigned char *p = map_page(memdev, addr, 1, err, errlen);
    if (!p)
        return -1;
    khib_mailbox_decode(p, &mp->m);
    if (memcmp(mp->m.magic, KHIB_MAILBOX_MAGIC, 8) != 0) {
        snprintf(err, errlen, "no khib mailbox at 0x%llx: the saved system's memory is not what the image says",
                 (unsigned long long)addr);
    } else if (nonce && mp->m.nonce != *nonce) {
        snprintf(err, errlen, "the mailbox at 0x%llx belongs to another hibernation (nonce differs)",
                 (unsigned long long)addr);
    } else {
        mp->p = p;
        return 0;
    }
    munmap(p, 4096);
    return -1;
}

void khib_mailbox_store(struct khib_mailbox_page *mp, const struct khib_mailbox *update)
{
    struct khib_mailbox out = *update;
    memcpy(out.magic, mp->m.magic, 8);
    out.nonce = mp->m.nonce;
    out.msg[sizeof out.msg - 1] = 0;
    /* A shared mapping of /dev/mem writes straight to the physical page:
     * there is nothing to msync (and msync refuses such a VM_PFNMAP mapping
     * with EINVAL). */
    khib_mailbox_encode(&out, mp->p);
}

void khib_mailbox_close(struct khib_mailbox_page *mp)
{
    if (mp->p)
        munmap(mp->p, 4096);
    mp->p = NULL;
}

int khib_mailbox_post(const char *memdev, uint64_t addr, const uint64_t *nonce,
                      const struct khib_mailbox *update, char *err, size_t errlen)
{
    struct khib_mailbox_page mp;
    if (khib_mailbox_open(&mp, memdev, addr, nonce, err, errlen) != 0)
        return -1;
    khib_mailbox_store(&mp, update);
    khib_mailbox_close(&mp);
    return 0;
}
