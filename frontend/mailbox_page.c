#define _GNU_SOURCE
#include "mailbox_page.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handoff.h"
#include "pagemap.h"
#include "uuid.h"
#include "handoff_codec.h"

/* Pages are tried in batches of BATCH; batches whose pages all lie inside
 * the window stay allocated while the next is tried, so that the allocator
 * must hand out other pages.  The window holds at most window_end / 4096
 * free pages, so a page above it turns up within that many tries unless
 * memory runs out first. */
#define BATCH 1024
#define MAX_BATCHES 4096

/* Map, populate and lock one batch; NULL with err on failure. */
static unsigned char *map_batch(char *err, size_t errlen)
{
    size_t len = (size_t)BATCH * 4096;
    unsigned char *area = mmap(NULL, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
    if (area == MAP_FAILED) {
        snprintf(err, errlen, "cannot allocate the mailbox: %s", strerror(errno));
        return NULL;
    }
    if (mlock(area, len) != 0) {
        snprintf(err, errlen, "cannot lock the mailbox in memory: %s", strerror(errno));
        munmap(area, len);
        return NULL;
    }
    return area;
}

/* The index of the first page at or above window_end in batch area (its
 * address in *found), or -1 (-2 with err on failure). */
static int find_page(unsigned char *area, uint64_t window_end, uint64_t *found, char *err, size_t errlen)
{
    uint64_t pa[BATCH];
    if (physical_addresses(area, BATCH, pa, err, errlen) != 0)
        return -2;
    for (int i = 0; i < BATCH; i++)
        if (pa[i] >= window_end && pa[i] != KHIB_NOT_PRESENT) {
            *found = pa[i];
            return i;
        }
    return -1;
}

static void keep_page(struct mailbox_page *mb, unsigned char *page, uint64_t pa, uint64_t nonce)
{
    struct khib_mailbox m;
    memset(&m, 0, sizeof m);
    memcpy(m.magic, KHIB_MAILBOX_MAGIC, 8);
    m.nonce = nonce;
    m.status = KHIB_MBX_WAITING;
    memset(page, 0, 4096);
    khib_mailbox_encode(&m, page);
    /* Not into children (the trim forks one): fork would write-protect the
     * page for copy-on-write, and a later write could then move it. */
    (void)madvise(page, 4096, MADV_DONTFORK);
    mb->page = page;
    mb->phys = pa;
    mb->nonce = nonce;
}

int mailbox_page_open(struct mailbox_page *mb, uint64_t window_end, char *err, size_t errlen)
{
    /* The page must lie above the window: a page inside it is swapped out to
     * the kernel's backup copy during the jump, so B and R would write to
     * their own memory instead of A's. */
    uint64_t nonce;
    if (khib_random(&nonce, sizeof nonce, err, errlen) != 0)
        return -1;
    const size_t len = (size_t)BATCH * 4096;
    size_t max = window_end / len + 2;
    if (max > MAX_BATCHES)
        max = MAX_BATCHES;
    unsigned char *held[MAX_BATCHES];
    size_t nheld = 0;
    int rc = -1;
    while (nheld < max) {
        unsigned char *area = map_batch(err, errlen);
        if (!area)
            break;
        held[nheld++] = area;
        uint64_t pa;
        int i = find_page(area, window_end, &pa, err, errlen);
        if (i == -2)
            break;
        if (i < 0)
            continue;
        unsigned char *page = area + (size_t)i * 4096;
        /* Keep only the chosen page. */
        if ((i > 0 && munmap(area, (size_t)i * 4096) != 0) ||
            (i + 1 < BATCH && munmap(page + 4096, (size_t)(BATCH - i - 1) * 4096) != 0)) {
            snprintf(err, errlen, "munmap failed: %s", strerror(errno));
            break;
        }
        nheld--;
        keep_page(mb, page, pa, nonce);
        rc = 0;
        break;
    }
    if (rc != 0 && nheld == max)
        snprintf(err, errlen, "no free page above the window (0x%llx) among %zu MiB of allocations: memory too"
                 " small for the window?", (unsigned long long)window_end, (max * len) >> 20);
    while (nheld > 0)
        munmap(held[--nheld], len);
    return rc;
}

int mailbox_page_moved(const struct mailbox_page *mb, char *err, size_t errlen)
{
    uint64_t pa;
    if (physical_addresses(mb->page, 1, &pa, err, errlen) != 0)
        return -1;
    if (pa != mb->phys) {
        snprintf(err, errlen, "the mailbox page moved from 0x%llx to 0x%llx (memory compaction) before the jump;"
                 " nothing was saved: run khib hibernate again", (unsigned long long)mb->phys,
                 (unsigned long long)pa);
        return -1;
    }
    return 0;
}

void mailbox_page_close(struct mailbox_page *mb)
{
    if (mb->page)
        munmap(mb->page, 4096);
    mb->page = NULL;
}
