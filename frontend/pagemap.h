/* Physical addresses of our own pages, from /proc/self/pagemap. */
#ifndef KHIB_PAGEMAP_H
#define KHIB_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

/* A page that is not in memory. */
#define KHIB_NOT_PRESENT UINT64_MAX

/* The physical addresses of the n pages from va (page-aligned) into pa,
 * KHIB_NOT_PRESENT for a page not in memory.  Fails for a caller without
 * CAP_SYS_ADMIN (the kernel hides the PFNs).  0, or -1 with err. */
int physical_addresses(const void *va, size_t n, uint64_t *pa, char *err, size_t errlen);

#endif
