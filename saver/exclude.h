/* In B: the saved kernel A's free pages, left out of the image
 * (docs/freepages.md).
 *
 * A's VMCOREINFO note (its physical address and size in the khib note) is
 * read from A's memory as it was at the jump: window pages through the
 * kexec swap list (lib/kexec_backup.h), the rest as it is.  The finder
 * (lib/freepages.h) walks A's struct pages through the same reads and
 * cross-checks the free pages found with A's own count.  Each free run is
 * marked in the excluded bitmaps of the chunks it covers.
 *
 * Fail safe: anything that does not work out — no VMCOREINFO in the note,
 * no jump-back entry, no swap list, a finder fallback, a count that does
 * not match — excludes nothing, and the one line in why says so. */
#ifndef KHIB_SAVER_EXCLUDE_H
#define KHIB_SAVER_EXCLUDE_H

#include <stddef.h>
#include <stdint.h>

#include "elfcore.h"
#include "freepages.h"
#include "handoff.h"
#include "image_format.h"

struct exclude_input {
    int fd;                          /* A's memory (/dev/mem or a core file) */
    const char *name;
    const struct khib_segment *seg;  /* its segments: A's RAM outside the window */
    uint32_t nseg;
    const struct khib_note *note;
    uint64_t entry;                  /* the jump-back entry (0: none) */
    uint32_t a_free_pages;           /* A's MemFree from the mailbox (0: not given) */
    uint32_t a_pcp_pages;            /* and the pages then on its per-cpu lists */
};

struct exclude_result {
    uint64_t pages;                  /* pages marked excluded in the chunks */
    uint64_t found;                  /* free pages the finder found (also inside the window) */
    double seconds;
    char line[600];                  /* what happened: the count, or why nothing is excluded */
};

/* Mark A's free pages in the excluded bitmaps of chunks[0..n) (planned,
 * bitmaps zero).  0: r->pages excluded; -1: none (r->line says why).
 * Never a failure of the save. */
int exclude_free_pages(const struct exclude_input *in, struct khib_chunk *chunks, uint32_t n,
                       struct exclude_result *r);

/* Set the excluded bits of chunks[0..n) (sorted by pfn) for the free runs
 * (sorted, disjoint): the parts of runs outside every chunk (the window,
 * holes) are ignored.  Returns the pages marked. */
uint64_t exclude_mark_runs(const struct khib_pfn_run *run, uint64_t nrun, struct khib_chunk *chunks, uint32_t n);

#endif
