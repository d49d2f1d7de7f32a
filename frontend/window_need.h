/* What the transient kernel B (and the restore kernel R) need inside the
 * window [0, W): `khib check` compares it with window= (docs/install.md,
 * "The window").  An estimate from the files and the machine, measured
 * against B's own "Memory:" line and khib-save's "of buffers" line in
 * docs/performance.md ("The jump"). */
#ifndef KHIB_WINDOW_NEED_H
#define KHIB_WINDOW_NEED_H

#include <stddef.h>
#include <stdint.h>

/* khib-save's chunk table and index per MiB of the saved system's RAM
 * (saver/save.c save_table_mem(): about 200 bytes, docs/performance.md
 * "Memory and the window"). */
#define WINDOW_TABLE_PER_MIB 200ULL
/* The kernel's own use besides its image and the window's struct pages:
 * page tables, slab, per-CPU areas, the low memory it reserves (B at
 * 192 MiB and 2 CPUs: 26 MiB reserved, of which 15 MiB its image and
 * 3 MiB struct pages, docs/performance.md). */
#define WINDOW_KERNEL_FIXED (16ULL << 20)

struct window_need {
    uint64_t kernel;    /* the kernel's init_size (bzImage header) */
    uint64_t initrd;    /* the archive and its unpacked contents */
    uint64_t save;      /* khib-save's buffers (khib_save_buffers(), reading through a
                         * bounce buffer: the larger case) and its chunk table in B */
    uint64_t kdf;       /* khib-restore's key derivation in R (0: no encryption) */
    uint64_t overhead;  /* struct pages of the window, the kernel's own use */
    uint64_t total;
    unsigned threads;   /* khib-save's threads in B */
};

/* The bzImage's init_size: the memory the kernel occupies from its load
 * address until it frees its init sections (boot protocol 2.10 and later,
 * Documentation/arch/x86/boot.rst).  0, or -1 with err set. */
int bzimage_init_size(const char *path, uint64_t *out, char *err, size_t errlen);

/* The need for a window of `window` bytes on a machine of `ram` bytes: B
 * runs `threads` threads at `level`, R derives its key with `kdf_mem` bytes
 * (0: no encryption).  0, or -1 with err set (a file unreadable or not a
 * bzImage). */
int window_need(const char *kernel, const char *initrd, uint64_t window, uint64_t ram, unsigned threads, int level,
                uint64_t kdf_mem, struct window_need *n, char *err, size_t errlen);

#endif
