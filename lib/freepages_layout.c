/* A's VMCOREINFO read into what the free page walk needs (freepages_layout.h). */
#include "freepages_layout.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "le.h"

#define X86_PAGE_SIZE 4096u

/* Each getter: "missing" or "malformed" in reason, -1. */
static int need_u64(int rc, const char *what, char *reason, size_t len)
{
    if (rc == 0)
        return 0;
    snprintf(reason, len, "VMCOREINFO %s %s", rc == -1 ? "has no" : "has a malformed", what);
    return -1;
}

#define NEED(call, what)                                 \
    do {                                                 \
        if (need_u64((call), (what), reason, len) != 0) \
            return -1;                                   \
    } while (0)

static int read_paging(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len)
{
    int64_t n;
    NEED(khib_vmci_symbol(vi, "init_top_pgt", &lo->init_top_pgt), "SYMBOL(init_top_pgt)");
    NEED(khib_vmci_number(vi, "phys_base", &n), "NUMBER(phys_base)");
    lo->phys_base = (uint64_t)n;
    /* NUMBER(pgtable_l5_enabled) came with 4.14; before it, four levels. */
    int rc = khib_vmci_number(vi, "pgtable_l5_enabled", &n);
    if (rc == -2)
        NEED(rc, "NUMBER(pgtable_l5_enabled)");
    lo->l5 = rc == 0 && n != 0;
    rc = khib_vmci_number(vi, "sme_mask", &n);
    if (rc == -2)
        NEED(rc, "NUMBER(sme_mask)");
    lo->sme_mask = rc == 0 ? (uint64_t)n : 0;
    if (lo->init_top_pgt < KHIB_START_KERNEL_MAP) {
        snprintf(reason, len, "SYMBOL(init_top_pgt)=%" PRIx64 " is not in the kernel text mapping",
                 lo->init_top_pgt);
        return -1;
    }
    return 0;
}

static int read_sparsemem(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len)
{
    uint64_t ps;
    int64_t ssb, mpb;
    NEED(khib_vmci_plain(vi, "PAGESIZE", 10, &ps), "PAGESIZE");
    if (ps != X86_PAGE_SIZE) {
        snprintf(reason, len, "PAGESIZE=%" PRIu64 ", not x86_64's 4096", ps);
        return -1;
    }
    NEED(khib_vmci_symbol(vi, "mem_section", &lo->mem_section), "SYMBOL(mem_section) (not SPARSEMEM)");
    NEED(khib_vmci_length(vi, "mem_section", &lo->nr_roots), "LENGTH(mem_section)");
    NEED(khib_vmci_size(vi, "mem_section", &lo->section_struct), "SIZE(mem_section)");
    NEED(khib_vmci_offset(vi, "mem_section.section_mem_map", &lo->off_section_map),
         "OFFSET(mem_section.section_mem_map)");
    NEED(khib_vmci_number(vi, "SECTION_SIZE_BITS", &ssb), "NUMBER(SECTION_SIZE_BITS)");
    NEED(khib_vmci_number(vi, "MAX_PHYSMEM_BITS", &mpb), "NUMBER(MAX_PHYSMEM_BITS)");
    /* arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS 27, MAX_PHYSMEM_BITS
     * 46 or 52 (5-level); a range around them, which also bounds the roots
     * to walk (2^25 sections at most). */
    if (ssb < 21 || ssb > 31 || mpb > 52 || mpb - ssb > 25 || ssb > mpb) {
        snprintf(reason, len, "SECTION_SIZE_BITS=%" PRId64 ", MAX_PHYSMEM_BITS=%" PRId64 ": not x86_64's", ssb, mpb);
        return -1;
    }
    if (lo->section_struct < 8 || lo->section_struct > X86_PAGE_SIZE ||
        lo->off_section_map + 8 > lo->section_struct) {
        snprintf(reason, len, "SIZE(mem_section)=%" PRIu64 " with section_mem_map at %" PRIu64 " is not understood",
                 lo->section_struct, lo->off_section_map);
        return -1;
    }
    /* include/linux/mmzone.h: SECTIONS_PER_ROOT (PAGE_SIZE / sizeof (struct
     * mem_section)), NR_SECTION_ROOTS DIV_ROUND_UP(NR_MEM_SECTIONS,
     * SECTIONS_PER_ROOT) with SPARSEMEM_EXTREME; otherwise LENGTH() is
     * NR_MEM_SECTIONS (makedumpfile.c is_sparsemem_extreme()). */
    lo->sections_per_root = X86_PAGE_SIZE / lo->section_struct;
    uint64_t nr_sections = 1ull << (mpb - ssb);
    uint64_t want = (nr_sections + lo->sections_per_root - 1) / lo->sections_per_root;
    if (lo->nr_roots != want) {
        snprintf(reason, len,
                 "LENGTH(mem_section)=%" PRIu64 ", not SPARSEMEM_EXTREME's %" PRIu64 " roots (static SPARSEMEM "
                 "is not supported)",
                 lo->nr_roots, want);
        return -1;
    }
    lo->pfn_section_shift = (unsigned)(ssb - 12);
    int rc = khib_vmci_symbol(vi, "vmemmap", &lo->vmemmap);
    if (rc == -2)
        NEED(rc, "SYMBOL(vmemmap)");
    lo->has_vmemmap = rc == 0;
    return 0;
}

/* Which page-type layout PAGE_BUDDY_MAPCOUNT_VALUE shows.  Its 32 bits are
 * what _mapcount holds.  kernel/vmcore_info.c (6.12, 7.2) defines it as
 * (PGTY_buddy << 24): an int expression, 0xf0 << 24, which the kernel prints
 * with %ld as -268435456 (= 0xf0000000; 4026531840 is accepted too, in case
 * a kernel makes it unsigned).  Before 6.12 it was ~PG_buddy: -129
 * (0xffffff7f), and -128 in older kernels (makedumpfile.h
 * PAGE_BUDDY_MAPCOUNT_VALUE_v2_6_39_to_latest_version). */
static int read_buddy(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len)
{
    int64_t v;
    NEED(khib_vmci_number(vi, "PAGE_BUDDY_MAPCOUNT_VALUE", &v), "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)");
    uint32_t u = (uint32_t)v;
    int fits = v >= INT32_MIN && v <= (int64_t)UINT32_MAX;
    if (fits && (u & 0xffffff) == 0 && u >> 24 >= 0xf0 && u >> 24 <= 0xfe) {
        lo->layout = KHIB_LAYOUT_TYPE_BYTE;
        lo->layout_name = "page type in the top byte of page_type (6.12 and later)";
        lo->buddy_value = u;
        return 0;
    }
    /* ~(one bit below 24), or -128 */
    uint32_t bit = ~u;
    if (fits && (u == 0xffffff80u || (bit != 0 && bit < (1u << 24) && (bit & (bit - 1)) == 0))) {
        lo->layout = KHIB_LAYOUT_MAPCOUNT_FLAGS;
        lo->layout_name = "page type as a cleared bit of _mapcount (2.6.39 to 6.11)";
        lo->buddy_value = (uint32_t)(int32_t)v;
        /* makedumpfile.c isSlab(): a slab page's _mapcount may hold anything
         * before 6.10, so PG_slab must be known to skip slab pages. */
        int64_t n = 0;
        int rc = khib_vmci_number(vi, "PAGE_SLAB_MAPCOUNT_VALUE", &n);
        if (rc == -2)
            NEED(rc, "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)");
        lo->has_slab_value = rc == 0;
        lo->slab_value = (uint32_t)n;
        lo->pg_slab = -1;
        rc = khib_vmci_number(vi, "PG_slab", &n);
        if (rc == -2)
            NEED(rc, "NUMBER(PG_slab)");
        if (rc == 0) {
            if (n < 0 || n > 63) {
                snprintf(reason, len, "NUMBER(PG_slab)=%" PRId64 " is not a bit of page->flags", n);
                return -1;
            }
            lo->pg_slab = (int)n;
        }
        if (!lo->has_slab_value && lo->pg_slab < 0) {
            snprintf(reason, len, "VMCOREINFO has neither NUMBER(PG_slab) nor NUMBER(PAGE_SLAB_MAPCOUNT_VALUE): "
                                  "slab pages cannot be told from free ones");
            return -1;
        }
        return 0;
    }
    snprintf(reason, len, "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=%" PRId64 ": a page-type layout khib does not know", v);
    return -1;
}

static int read_page(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len)
{
    NEED(khib_vmci_size(vi, "page", &lo->page_size), "SIZE(page)");
    NEED(khib_vmci_offset(vi, "page.flags", &lo->off_flags), "OFFSET(page.flags)");
    NEED(khib_vmci_offset(vi, "page._mapcount", &lo->off_mapcount), "OFFSET(page._mapcount)");
    NEED(khib_vmci_offset(vi, "page.private", &lo->off_private), "OFFSET(page.private)");
    /* 7.1 renamed page.compound_head to compound_info (makedumpfile.c
     * get_structure_info(), read_vmcoreinfo()); bit 0 still marks a tail. */
    int rc = khib_vmci_offset(vi, "page.compound_head", &lo->off_compound);
    lo->compound_field = "compound_head";
    if (rc == -1) {
        rc = khib_vmci_offset(vi, "page.compound_info", &lo->off_compound);
        lo->compound_field = "compound_info";
    }
    NEED(rc, "OFFSET(page.compound_head) or OFFSET(page.compound_info)");
    NEED(khib_vmci_length(vi, "zone.free_area", &lo->nr_orders), "LENGTH(zone.free_area)");
    if (lo->page_size < 32 || lo->page_size > 512 || lo->off_flags + 8 > lo->page_size ||
        lo->off_mapcount + 4 > lo->page_size || lo->off_private + 8 > lo->page_size ||
        lo->off_compound + 8 > lo->page_size) {
        snprintf(reason, len, "SIZE(page)=%" PRIu64 " and its OFFSET()s do not fit", lo->page_size);
        return -1;
    }
    if (lo->nr_orders < 1 || lo->nr_orders > 20) {
        snprintf(reason, len, "LENGTH(zone.free_area)=%" PRIu64 " is not a number of buddy orders", lo->nr_orders);
        return -1;
    }
    return 0;
}

/* Optional: without them the caller must pass the count. */
static void read_zones(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo)
{
    int64_t n;
    const char *why = NULL;
    if (khib_vmci_symbol(vi, "node_data", &lo->pgdat_table) == 0) {
        lo->has_node_data = 1;
        if (khib_vmci_length(vi, "node_data", &lo->nr_nodes) != 0 || lo->nr_nodes == 0 || lo->nr_nodes > 65536)
            why = "LENGTH(node_data) missing or not understood";
    } else if (khib_vmci_symbol(vi, "contig_page_data", &lo->pgdat_table) == 0) {
        lo->nr_nodes = 1;
    } else {
        why = "neither SYMBOL(node_data) nor SYMBOL(contig_page_data)";
    }
    if (!why && (khib_vmci_offset(vi, "pglist_data.node_zones", &lo->off_node_zones) != 0 ||
                 khib_vmci_offset(vi, "pglist_data.nr_zones", &lo->off_nr_zones) != 0 ||
                 khib_vmci_size(vi, "zone", &lo->zone_size) != 0 ||
                 khib_vmci_offset(vi, "zone.vm_stat", &lo->off_vm_stat) != 0))
        why = "no OFFSET(pglist_data.node_zones), OFFSET(pglist_data.nr_zones), SIZE(zone) or OFFSET(zone.vm_stat)";
    if (!why && (khib_vmci_number(vi, "NR_FREE_PAGES", &n) != 0 || n < 0 || n > 64))
        why = "no NUMBER(NR_FREE_PAGES)";
    if (why) {
        snprintf(lo->zone_reason, sizeof lo->zone_reason, "A's free page count cannot be read: VMCOREINFO has %s",
                 why);
        return;
    }
    lo->nr_free_index = (uint64_t)n;
    lo->has_zones = 1;
}

int khib_fp_layout_read(const struct khib_vmcoreinfo *vi, struct khib_fp_layout *lo, char *reason, size_t len)
{
    memset(lo, 0, sizeof *lo);
    lo->pg_slab = -1;
    if (read_paging(vi, lo, reason, len) != 0 || read_sparsemem(vi, lo, reason, len) != 0 ||
        read_buddy(vi, lo, reason, len) != 0 || read_page(vi, lo, reason, len) != 0)
        return -1;
    read_zones(vi, lo);
    return 0;
}

int khib_fp_page_is_tail(const struct khib_fp_layout *lo, const uint8_t *page)
{
    return (khib_get64(page + lo->off_compound) & 1) != 0;
}

int khib_fp_page_is_buddy(const struct khib_fp_layout *lo, const uint8_t *page)
{
    uint32_t mapcount = khib_get32(page + lo->off_mapcount);
    if (lo->layout == KHIB_LAYOUT_TYPE_BYTE)
        /* include/linux/page-flags.h PAGE_TYPE_OPS(Buddy): page_type >> 24 == PGTY_buddy. */
        return mapcount >> 24 == lo->buddy_value >> 24;
    /* makedumpfile.c page_is_buddy_v3(): not a slab page, and _mapcount is
     * exactly PAGE_BUDDY_MAPCOUNT_VALUE. */
    if (lo->has_slab_value && mapcount == lo->slab_value)
        return 0;
    if (lo->pg_slab >= 0 && (khib_get64(page + lo->off_flags) >> lo->pg_slab & 1))
        return 0;
    return mapcount == lo->buddy_value;
}
