#define _GNU_SOURCE
#include "window_need.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "save_budget.h"

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int bzimage_init_size(const char *path, uint64_t *out, char *err, size_t errlen)
{
    unsigned char h[0x264];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = pread(fd, h, sizeof h, 0);
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -1;
    }
    /* The setup header: "HdrS" at 0x202, the protocol version at 0x206,
     * init_size at 0x260 from version 2.10 on. */
    if (n < (ssize_t)sizeof h || memcmp(h + 0x202, "HdrS", 4) || (h[0x206] | h[0x207] << 8) < 0x020a) {
        snprintf(err, errlen, "%s is not a bzImage of boot protocol 2.10 or later", path);
        return -1;
    }
    *out = le32(h + 0x260);
    return 0;
}

/* An initramfs: its size, plus what it unpacks to in B's tmpfs: a gzip
 * archive says (ISIZE, its last 4 bytes, RFC 1952; khib's initramfs is one
 * gzip member, mkinitramfs.sh); anything else counts four times. */
static int initrd_need(const char *path, uint64_t *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unsigned char magic[2], isize[4];
    uint64_t unpacked = 4 * (uint64_t)st.st_size;
    if (st.st_size > 18 && pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b &&
        pread(fd, isize, 4, st.st_size - 4) == 4)
        unpacked = le32(isize);
    close(fd);
    *out = (uint64_t)st.st_size + unpacked;
    return 0;
}

int window_need(const char *kernel, const char *initrd, uint64_t window, uint64_t ram, unsigned threads, int level,
                uint64_t kdf_mem, struct window_need *n, char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    if (bzimage_init_size(kernel, &n->kernel, err, errlen) != 0 || initrd_need(initrd, &n->initrd, err, errlen) != 0)
        return -1;
    n->threads = threads ? threads : 1;
    n->save = khib_save_buffers(n->threads, level, 1) + (ram >> 20) * WINDOW_TABLE_PER_MIB;
    /* khib-restore holds Argon2id's memory and its own buffers (16 MiB in
     * clear, docs/encryption.md) while it derives the key. */
    n->kdf = kdf_mem ? kdf_mem + (16ULL << 20) : 0;
    /* A struct page (64 bytes) per 4 KiB page of the window. */
    n->overhead = window / 64 + WINDOW_KERNEL_FIXED;
    n->total = n->kernel + n->initrd + (n->save > n->kdf ? n->save : n->kdf) + n->overhead;
    return 0;
}
