/* The saved kernel A's free (buddy) pages, found in A's frozen memory the
 * way makedumpfile finds them (makedumpfile.c __exclude_unnecessary_pages(),
 * page_is_buddy_v3()): x86_64, SPARSEMEM_EXTREME, with SPARSEMEM_VMEMMAP
 * (every section's mem_map decodes to vmemmap) or without it (each
 * section's decoded mem_map is its own base).
 *
 * From A's VMCOREINFO (vmcoreinfo.h) and A's memory (a read callback,
 * kvtop.h): walk mem_section's roots and sections, each section's struct
 * page array through A's page tables, and take every page the buddy
 * allocator holds as the head of a free block of 2^order pages (order in
 * page->private).  The result is a sorted list of pfn runs, each a union of
 * whole free blocks, and the number of pages in them.
 *
 * Fail safe: anything not understood (a VMCOREINFO line missing or
 * malformed, an unknown page-type layout, a table or array that cannot be
 * read, a free block that contradicts another, a count that does not match
 * A's own) makes khib_freepages_find() return -1 with one line in reason;
 * the caller then excludes nothing.  docs/freepages.md lists them all.
 *
 * The cross-check: the pages found must equal A's NR_FREE_PAGES within the
 * margin (docs/freepages.md): the sum of every zone's vm_stat[NR_FREE_PAGES]
 * read from A's memory (node_data or contig_page_data), and
 * opts->expected_free when the caller has a count (e.g. /proc/meminfo read
 * just before the jump; plus up to opts->expected_slack).
 */
#ifndef KHIB_FREEPAGES_H
#define KHIB_FREEPAGES_H

#include <stddef.h>
#include <stdint.h>

#include "kvtop.h"
#include "vmcoreinfo.h"

#define KHIB_FREEPAGES_REASON_LEN 256u
/* The default margin: 1024 pages plus 1% of the expected count. */
#define KHIB_FREEPAGES_MARGIN_PAGES    1024u
#define KHIB_FREEPAGES_MARGIN_PERMILLE 10u

enum khib_page_layout {
    KHIB_LAYOUT_UNKNOWN = 0,
    /* 2.6.39 to 6.11: page_type (= _mapcount) with one bit cleared per type,
     * PAGE_BUDDY_MAPCOUNT_VALUE the whole value; slab pages told by PG_slab
     * in flags (to 6.9) or PAGE_SLAB_MAPCOUNT_VALUE (6.10, 6.11). */
    KHIB_LAYOUT_MAPCOUNT_FLAGS,
    /* 6.12 and later: one type in the top byte of page_type
     * (include/linux/page-flags.h PAGE_TYPE_OPS: page_type >> 24 == PGTY_buddy). */
    KHIB_LAYOUT_TYPE_BYTE,
};

struct khib_freepages_opts {
    int64_t expected_free;       /* A's NR_FREE_PAGES if known, else -1: read A's zones */
    uint64_t expected_slack;     /* the pages expected_free may lack: taken from per-cpu lists
                                    that may be free by the time of the walk */
    uint64_t margin_pages;       /* 0 and 0: the defaults above */
    uint32_t margin_permille;
};

struct khib_pfn_run {
    uint64_t start;
    uint64_t count;
};

struct khib_freepages {
    char reason[KHIB_FREEPAGES_REASON_LEN];  /* on failure: why nothing is excluded */
    struct khib_pfn_run *run;                /* sorted, disjoint, not adjacent */
    uint64_t nrun;
    uint64_t free_pages;       /* pages in the runs */
    uint64_t pages_walked;     /* struct pages read */
    uint64_t pages_unmapped;   /* pfns of present sections whose struct page is not mapped */
    uint64_t sections;         /* sections with a mem_map */
    uint64_t mem_map;          /* the first one's decoded mem_map: struct page of pfn p at mem_map + p * SIZE(page) */
    uint64_t mem_map_bases;    /* without SPARSEMEM_VMEMMAP: how often the base changed from section to section */
    int64_t expected;          /* the count checked against */
    const char *expected_from; /* "caller" or "zone vm_stat" */
    int64_t zone_free;         /* A's zones' NR_FREE_PAGES, or -1 when not read */
    uint64_t margin;
    enum khib_page_layout layout;
    const char *layout_name;
    const char *compound_field;  /* "compound_head" (to 7.0) or "compound_info" (7.1) */
};

/* Find A's free pages.  0: out holds the runs, the check passed.  -1:
 * out->reason says why to save everything (out->run is then empty, the
 * counters say how far the walk came). */
int khib_freepages_find(const struct khib_vmcoreinfo *vi, khib_physread_fn read, void *ctx,
                        const struct khib_freepages_opts *opts, struct khib_freepages *out);

void khib_freepages_free(struct khib_freepages *fp);

/* 1 when pfn lies in one of the runs (binary search). */
int khib_freepages_contains(const struct khib_freepages *fp, uint64_t pfn);

#endif
