/* What khib_freepages_find() needs of A's VMCOREINFO, read and checked, and
 * the buddy test of A's page layout (internal to freepages.c). */
#ifndef KHIB_FREEPAGES_LAYOUT_H
#define KHIB_FREEPAGES_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "freepages.h"
#include "vmcoreinfo.h"

struct khib_fp_layout {
    /* Paging (kvtop.h) */
    uint64_t init_top_pgt, phys_base, sme_mask;
    int l5;
    /* SPARSEMEM_EXTREME (include/linux/mmzone.h) */
    uint64_t mem_section;        /* SYMBOL(mem_section): the roots array's address */
    uint64_t nr_roots;           /* LENGTH(mem_section) = NR_SECTION_ROOTS */
    uint64_t section_struct;     /* SIZE(mem_section) */
    uint64_t off_section_map;    /* OFFSET(mem_section.section_mem_map) */
    uint64_t sections_per_root;  /* PAGE_SIZE / SIZE(mem_section) */
    unsigned pfn_section_shift;  /* SECTION_SIZE_BITS - PAGE_SHIFT */
    int has_vmemmap;
    uint64_t vmemmap;            /* SYMBOL(vmemmap) */
    /* struct page */
    uint64_t page_size;          /* SIZE(page) */
    uint64_t off_flags, off_mapcount, off_private, off_compound;
    uint64_t nr_orders;          /* LENGTH(zone.free_area) = NR_PAGE_ORDERS */
    enum khib_page_layout layout;
    const char *layout_name, *compound_field;
    uint32_t buddy_value;        /* the whole _mapcount (MAPCOUNT_FLAGS) or the type << 24 */
    int has_slab_value;
    uint32_t slab_value;         /* NUMBER(PAGE_SLAB_MAPCOUNT_VALUE) */
    int pg_slab;                 /* NUMBER(PG_slab), or -1 */
    /* A's free page counters; zone_reason says why they cannot be read */
    int has_zones;
    char zone_reason[200];
    int has_node_data;
    uint64_t pgdat_table;        /* SYMBOL(node_data) (an array of pointers) or SYMBOL(contig_page_data) */
    uint64_t nr_nodes;           /* LENGTH(node_data); 1 for contig_page_data */
    uint64_t off_node_zones, off_nr_zones, zone_size, off_vm_stat;
    uint64_t nr_free_index;      /* NUMBER(NR_FREE_PAGES) */
};

/* Read and check.  0, or -1 with one line in reason. */
int khib_fp_layout_read(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len);

/* The buddy test of one struct page: 1 when it heads a free block. */
int khib_fp_page_is_buddy(const struct khib_fp_layout *lo, const uint8_t *page);

/* 1 when the struct page is a compound page's tail (bit 0 of compound_head,
 * 7.1's compound_info: include/linux/page-flags.h _compound_head()). */
int khib_fp_page_is_tail(const struct khib_fp_layout *lo, const uint8_t *page);

#endif
