/* A's memory inside the window, read from B: the kexec swap list.
 *
 * When A jumps to B with KEXEC_PRESERVE_CONTEXT, every page of the window
 * [0, W) is a kexec destination, and relocate_kernel's swap_pages
 * (arch/x86/kernel/relocate_kernel_64.S) exchanges each destination page D
 * with its source page S: after the jump D holds B, and S holds what A had
 * in D.  S is a page kexec allocated outside every destination range
 * (kernel/kexec_core.c kimage_alloc_page()), so outside the window, in A's
 * RAM that B saves; or S is D itself when kexec's allocator handed out the
 * destination page directly (then A's content of D was a free page and is
 * gone: such a D reads as unreadable here).
 *
 * The list is kexec's indirection list (include/linux/kexec.h: entries
 * IND_DESTINATION, IND_INDIRECTION, IND_DONE, IND_SOURCE in the low bits of
 * a page address).  relocate_kernel keeps its head (image->head, an
 * IND_INDIRECTION entry) in the control page for the swap back:
 *   6.12: CP_PA_BACKUP_PAGES_MAP = DATA(0x30), byte
 *         KEXEC_CONTROL_CODE_MAX_SIZE + 0x30 = 0x830 of the control page;
 *   6.14 and later (7.2): the variable pa_backup_pages_map of the copied
 *         .data..relocate_kernel, after the copied text: its offset
 *         depends on the build.
 * The control page is the page of the jump-back entry (the return address
 * of relocate_kernel's `call *%rdx`, which kexec-tools' purgatory passes on
 * B's command line as kexec_jump_back_entry=).  Rather than trust one
 * offset, every 8-byte word of that page that looks like an IND_INDIRECTION
 * entry is tried, and a candidate counts only when its whole list parses:
 * one flag per entry, indirection pages outside the window and readable,
 * every destination inside the window and given once, every source
 * outside the window (or its own destination) and used once, an IND_DONE
 * at the end.  Exactly one distinct head must pass; anything else fails.
 */
#ifndef KHIB_KEXEC_BACKUP_H
#define KHIB_KEXEC_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "kvtop.h"

#define KHIB_BACKUP_SELF UINT64_MAX

struct khib_backup_map {
    uint64_t window_start;   /* page-aligned */
    uint64_t window_pages;
    uint64_t *src;           /* per window page: its source pfn + 1; 0 or KHIB_BACKUP_SELF:
                                no copy of A's page */
    uint64_t head;           /* the list head found */
    uint32_t head_offset;    /* its byte offset in the control page */
    uint64_t copies;         /* window pages with a copy */
    uint64_t self;           /* window pages that were their own source */
    uint64_t ind_pages;      /* indirection pages of the list */
};

/* Find and parse the list.  read reads A's memory outside the window as it
 * is (B's /dev/mem); entry is the jump-back entry.  0, or -1 with err. */
int khib_backup_map_find(khib_physread_fn read, void *ctx, uint64_t entry, uint64_t window_start,
                         uint64_t window_size, struct khib_backup_map *m, char *err, size_t errlen);

void khib_backup_map_free(struct khib_backup_map *m);

/* A's memory as it was at the jump: a read callback (kvtop.h) over the raw
 * one, with every window page read from its source page; a window page
 * without a copy fails the read. */
struct khib_backup_reader {
    const struct khib_backup_map *map;
    khib_physread_fn raw;
    void *raw_ctx;
    uint64_t redirected;     /* pages read through the map */
};

int khib_backup_read(void *reader, uint64_t paddr, void *buf, size_t len);

#endif
