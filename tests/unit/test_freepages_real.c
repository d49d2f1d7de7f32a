/* The VMCOREINFO of the two test kernels as their guests wrote it
 * (tests/qemu/freepages.sh, KHIB_FREEPAGES_KEEP; the lines the finder reads,
 * verbatim), read into the finder's layout: the page-type layout, the tail
 * field, vmemmap or not, the page table root, the zone counters. */
#include "t.h"

#include <inttypes.h>
#include <stdint.h>

#include "freepages_layout.h"
#include "le.h"

/* The lines both kernels wrote alike. */
#define COMMON \
    "PAGESIZE=4096\n" \
    "LENGTH(mem_section)=2048\n" \
    "SIZE(mem_section)=16\n" \
    "OFFSET(mem_section.section_mem_map)=0\n" \
    "NUMBER(SECTION_SIZE_BITS)=27\n" \
    "NUMBER(MAX_PHYSMEM_BITS)=46\n" \
    "SIZE(page)=64\n" \
    "SIZE(zone)=1216\n" \
    "OFFSET(page.flags)=0\n" \
    "OFFSET(page._mapcount)=48\n" \
    "OFFSET(page.private)=40\n" \
    "OFFSET(pglist_data.node_zones)=0\n" \
    "OFFSET(pglist_data.nr_zones)=4944\n" \
    "OFFSET(zone.vm_stat)=1088\n" \
    "LENGTH(zone.free_area)=11\n" \
    "NUMBER(NR_FREE_PAGES)=0\n" \
    "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376\n" \
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\n" \
    "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592\n" \
    "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-251658240\n" \
    "NUMBER(pgtable_l5_enabled)=0\n" \
    "NUMBER(sme_mask)=0\n"

/* 6.12.117, built from allnoconfig + khib.config: no SPARSEMEM_VMEMMAP, no
 * NUMA, KASLR (phys_base negative). */
static const char real612[] =
    "OSRELEASE=6.12.117-khib\n"
    "SYMBOL(contig_page_data)=ffffffffadcb8140\n"
    "SYMBOL(mem_section)=ffff88801f4ad000\n"
    "SIZE(pglist_data)=5760\n"
    "OFFSET(page.compound_head)=8\n"
    "NUMBER(phys_base)=-692060160\n"
    "SYMBOL(init_top_pgt)=ffffffffadc16000\n"
    "KERNELOFFSET=2c000000\n"
    COMMON;

/* 7.2.13: SPARSEMEM_VMEMMAP, compound_info. */
static const char real72[] =
    "OSRELEASE=7.2.13-khib\n"
    "SYMBOL(contig_page_data)=ffffffff822b6bc0\n"
    "SYMBOL(vmemmap)=ffffea0000000000\n"
    "SYMBOL(mem_section)=ffff88801f452900\n"
    "SIZE(pglist_data)=5888\n"
    "OFFSET(page.compound_info)=8\n"
    "NUMBER(phys_base)=314572800\n"
    "SYMBOL(init_top_pgt)=ffffffff82216000\n"
    "KERNELOFFSET=600000\n"
    COMMON;

struct want {
    const char *name;
    const char *text;
    const char *compound_field;
    int has_vmemmap;
    uint64_t pgd_paddr;      /* init_top_pgt - __START_KERNEL_map + phys_base */
    uint64_t pgdat;          /* SYMBOL(contig_page_data) */
};

static void real(const struct want *w)
{
    struct khib_vmcoreinfo vi;
    char err[256] = "";
    CHECK(khib_vmcoreinfo_parse(w->text, strlen(w->text), &vi, err, sizeof err) == 0, "%s: %s", w->name, err);
    struct khib_fp_layout lo;
    CHECK(khib_fp_layout_read(&vi, &lo, err, sizeof err) == 0, "%s: %s", w->name, err);
    CHECK(lo.layout == KHIB_LAYOUT_TYPE_BYTE && lo.buddy_value == 0xf0000000u, "%s: layout %d, buddy 0x%x", w->name,
          (int)lo.layout, lo.buddy_value);
    CHECK(strcmp(lo.compound_field, w->compound_field) == 0 && lo.off_compound == 8, "%s: %s at %" PRIu64, w->name,
          lo.compound_field, lo.off_compound);
    CHECK(lo.has_vmemmap == w->has_vmemmap, "%s: vmemmap %d", w->name, lo.has_vmemmap);
    CHECK(lo.page_size == 64 && lo.off_flags == 0 && lo.off_mapcount == 48 && lo.off_private == 40 &&
              lo.nr_orders == 11,
          "%s: struct page", w->name);
    CHECK(lo.sections_per_root == 256 && lo.pfn_section_shift == 15 && lo.nr_roots == 2048, "%s: sparsemem",
          w->name);
    CHECK(lo.has_zones && !lo.has_node_data && lo.pgdat_table == w->pgdat && lo.nr_nodes == 1 &&
              lo.off_nr_zones == 4944 && lo.zone_size == 1216 && lo.off_vm_stat == 1088 && lo.nr_free_index == 0,
          "%s: zones (%s)", w->name, lo.zone_reason);
    CHECK(lo.l5 == 0 && lo.sme_mask == 0, "%s: 4 levels, no SME", w->name);
    struct khib_kvtop kv;
    khib_kvtop_init(&kv, NULL, NULL, lo.init_top_pgt, lo.phys_base, lo.l5, lo.sme_mask);
    CHECK(kv.pgd_paddr == w->pgd_paddr, "%s: init_top_pgt at 0x%" PRIx64, w->name, kv.pgd_paddr);
    /* The buddy test on struct pages as these kernels write them. */
    uint8_t page[64] = {0};
    khib_put32(page + 48, 0xf0000000u);   /* __SetPageBuddy() */
    CHECK(khib_fp_page_is_buddy(&lo, page) && !khib_fp_page_is_tail(&lo, page), "%s: a buddy page", w->name);
    khib_put32(page + 48, 0xf5000000u);   /* PGTY_slab */
    CHECK(!khib_fp_page_is_buddy(&lo, page), "%s: a slab page", w->name);
    khib_put32(page + 48, 0xffffffffu);   /* no type, not mapped */
    CHECK(!khib_fp_page_is_buddy(&lo, page), "%s: a page in use", w->name);
    khib_put64(page + 8, 0xffffea0000001001ull);
    CHECK(khib_fp_page_is_tail(&lo, page), "%s: a tail", w->name);
    khib_vmcoreinfo_free(&vi);
}

int main(void)
{
    static const struct want w[] = {
        {"6.12", real612, "compound_head", 0, 0x4816000, 0xffffffffadcb8140ull},
        {"7.2", real72, "compound_info", 1, 0x14e16000, 0xffffffff822b6bc0ull},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        real(&w[i]);
    return t_done();
}
