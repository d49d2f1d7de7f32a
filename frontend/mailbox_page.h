/* The mailbox page in the saved kernel A: allocated, locked and located by
 * `khib hibernate` before the jump, read when the jump returns. */
#ifndef KHIB_MAILBOX_PAGE_H
#define KHIB_MAILBOX_PAGE_H

#include <stddef.h>
#include <stdint.h>

struct mailbox_page {
    unsigned char *page;   /* 4 KiB, mlocked */
    uint64_t phys;         /* its physical address, at or above the window */
    uint64_t nonce;
};

/* Allocate, fill (magic, nonce, status WAITING) and locate a page whose
 * physical address is at or above window_end.  Return 0, or -1 with err. */
int mailbox_page_open(struct mailbox_page *mb, uint64_t window_end, char *err, size_t errlen);
/* mlock() keeps the page resident, but compaction may still migrate it
 * (vm.compact_unevictable_allowed, mm/compaction.c): check, right before
 * the jump, that it is where B and R will look.  0, or -1 with err. */
int mailbox_page_moved(const struct mailbox_page *mb, char *err, size_t errlen);
void mailbox_page_close(struct mailbox_page *mb);

#endif
