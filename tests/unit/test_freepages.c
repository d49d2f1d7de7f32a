/* The free page finder on a synthetic kernel: hand-built x86_64 page tables
 * (4 and 5 levels; 4 KiB, 2 MiB and 1 GiB leaves), mem_section roots, struct
 * page arrays of each page-type layout (2.6.39-6.9 with PG_slab, 6.10-6.11
 * with PAGE_SLAB_MAPCOUNT_VALUE, 6.12, 7.1+ with compound_info), zone
 * counters; then every fallback. */
#include "t.h"

#include <inttypes.h>
#include <stdint.h>

#include "freepages.h"
#include "le.h"

#define MIB (1ull << 20)
#define PHYS_SIZE (32 * MIB)
#define KSTART UINT64_C(0xffffffff80000000)
#define DIRECT UINT64_C(0xffff888000000000)       /* page_offset_base without KASLR */
#define PHYS_BASE 0x200000ull               /* the kernel text starts at 2 MiB */
#define SPAGE 64u                           /* SIZE(page) */
#define PFNS_PER_SECTION 32768u             /* SECTION_SIZE_BITS 27 */
#define SECTIONS_PER_ROOT 256u              /* 4096 / SIZE(mem_section) 16 */
#define NR_ROOTS 2048u                      /* MAX_PHYSMEM_BITS 46 */

/* struct page offsets of x86_64 6.12 (include/linux/mm_types.h). */
#define OFF_FLAGS 0
#define OFF_COMPOUND 8
#define OFF_PRIVATE 40
#define OFF_MAPCOUNT 48

enum kernel { K_66, K_610, K_612, K_72 };

struct fake {
    uint8_t *mem;
    uint64_t next;          /* bump allocator, physical */
    uint64_t pgd;           /* physical */
    int l5;
    uint64_t vmemmap;
    uint64_t fail_from, fail_to;  /* reads touching [from, to) fail */
    enum kernel k;
    uint64_t roots_pa, pgdat_pa;
    uint64_t section_pa[3]; /* the section structs of sections 0, 1, 300 */
};

static int fake_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
    struct fake *f = ctx;
    if (paddr >= PHYS_SIZE || len > PHYS_SIZE - paddr)
        return -1;
    if (paddr < f->fail_to && paddr + len > f->fail_from)
        return -1;
    memcpy(buf, f->mem + paddr, len);
    return 0;
}

static uint64_t alloc(struct fake *f, uint64_t bytes, uint64_t align)
{
    f->next = (f->next + align - 1) & ~(align - 1);
    uint64_t pa = f->next;
    f->next += bytes;
    if (f->next > PHYS_SIZE) {
        fprintf(stderr, "fake physical memory exhausted\n");
        exit(2);
    }
    return pa;
}

/* Map [va, va + size) to pa with one leaf of size 4 KiB, 2 MiB or 1 GiB. */
static void map(struct fake *f, uint64_t va, uint64_t pa, uint64_t size)
{
    int leaf = size == (1ull << 30) ? 3 : size == (2ull << 20) ? 2 : 1;
    uint64_t table = f->pgd;
    for (int level = f->l5 ? 5 : 4; level > leaf; level--) {
        uint64_t at = table + ((va >> (12 + 9 * (level - 1))) & 511) * 8;
        uint64_t e = khib_get64(f->mem + at);
        if (!(e & 1)) {
            e = alloc(f, 4096, 4096) | 0x63;   /* present, rw, accessed, dirty */
            khib_put64(f->mem + at, e);
        }
        table = e & 0x000ffffffffff000ull;
    }
    uint64_t flags = 0x8000000000000063ull | (leaf > 1 ? 0x80 : 0);   /* NX, PSE */
    khib_put64(f->mem + table + ((va >> (12 + 9 * (leaf - 1))) & 511) * 8, pa | flags);
}

static uint8_t *page_at(struct fake *f, uint64_t pfn)
{
    /* vmemmap is backed linearly for the pfns the tests use (see build()). */
    uint64_t pa = 0;
    if (pfn < 2 * PFNS_PER_SECTION)
        pa = 8 * MIB + pfn * SPAGE;
    else
        pa = 12 * MIB + (pfn - 300ull * PFNS_PER_SECTION) * SPAGE;
    return f->mem + pa;
}

static uint32_t buddy_value(enum kernel k)
{
    return k >= K_612 ? 0xf0000000u : 0xffffff7fu;   /* PGTY_buddy << 24; ~PG_buddy 0x80 */
}

static void set_free(struct fake *f, uint64_t pfn, unsigned order)
{
    uint8_t *p = page_at(f, pfn);
    khib_put32(p + OFF_MAPCOUNT, buddy_value(f->k));
    khib_put64(p + OFF_PRIVATE, order);
}

/* The synthetic kernel: sections 0 and 1 (root 0; section 1's second 2 MiB
 * subsection without struct pages) and 300 (root 1); section 2 present in
 * the array but without a mem_map. */
static void build(struct fake *f, enum kernel k, int l5, uint64_t vmemmap)
{
    memset(f->mem, 0, PHYS_SIZE);
    f->k = k;
    f->l5 = l5;
    f->vmemmap = vmemmap;
    f->fail_from = f->fail_to = 0;
    f->next = PHYS_BASE + 0x1000;
    f->pgd = f->next;              /* init_top_pgt = KSTART + 0x1000 */
    f->next += 4096;
    f->next = 16 * MIB;            /* tables and structures above the struct pages */
    /* Kernel text: 2 MiB leaves from phys_base; the direct map: one 1 GiB leaf. */
    for (uint64_t off = 0; off < 4 * MIB; off += 2 * MIB)
        map(f, KSTART + off, PHYS_BASE + off, 2 * MIB);
    map(f, DIRECT, 0, 1ull << 30);
    /* vmemmap: section 0 one 2 MiB leaf at 8 MiB; section 1's first 32 KiB
     * (512 pfns) 4 KiB leaves at 10 MiB, then a hole of 512 pfns, then the
     * rest; section 300 4 KiB leaves at 12 MiB. */
    map(f, vmemmap, 8 * MIB, 2 * MIB);
    uint64_t s1 = vmemmap + (uint64_t)PFNS_PER_SECTION * SPAGE;
    for (uint64_t off = 0; off < 2 * MIB; off += 4096)
        if (off < 32768 || off >= 65536)
            map(f, s1 + off, 10 * MIB + off, 4096);
    uint64_t s300 = vmemmap + 300ull * PFNS_PER_SECTION * SPAGE;
    for (uint64_t off = 0; off < 2 * MIB; off += 4096)
        map(f, s300 + off, 12 * MIB + off, 4096);
    /* Every struct page: in use (page_type -1). */
    for (uint64_t pfn = 0; pfn < 2 * PFNS_PER_SECTION; pfn++)
        khib_put32(page_at(f, pfn) + OFF_MAPCOUNT, 0xffffffffu);
    for (uint64_t pfn = 300ull * PFNS_PER_SECTION; pfn < 301ull * PFNS_PER_SECTION; pfn++)
        khib_put32(page_at(f, pfn) + OFF_MAPCOUNT, 0xffffffffu);
    /* mem_section: the roots array, root 0 and root 1. */
    f->roots_pa = alloc(f, NR_ROOTS * 8, 4096);
    uint64_t root0 = alloc(f, 4096, 4096), root1 = alloc(f, 4096, 4096);
    khib_put64(f->mem + f->roots_pa, DIRECT + root0);
    khib_put64(f->mem + f->roots_pa + 8, DIRECT + root1);
    f->section_pa[0] = root0;
    f->section_pa[1] = root0 + 16;
    f->section_pa[2] = root1 + (300 - SECTIONS_PER_ROOT) * 16;
    /* SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE | SECTION_IS_EARLY */
    for (int i = 0; i < 3; i++)
        khib_put64(f->mem + f->section_pa[i], vmemmap | 0xf);
    khib_put64(f->mem + root0 + 2 * 16, 0x1);    /* section 2: present, no mem_map */
    /* node_data[] in the kernel's data (text mapping), one pglist_data. */
    f->pgdat_pa = alloc(f, 8192, 64);
    khib_put64(f->mem + PHYS_BASE + 0x3000, DIRECT + f->pgdat_pa);
    khib_put32(f->mem + f->pgdat_pa + 8, 2);     /* nr_zones */
}

/* zone z's vm_stat[NR_FREE_PAGES]: node_zones at 64, SIZE(zone) 1024, vm_stat at 512, index 0. */
static void set_zone_free(struct fake *f, int z, int64_t v)
{
    khib_put64(f->mem + f->pgdat_pa + 64 + (uint64_t)z * 1024 + 512, (uint64_t)v);
}

static char *vmcoreinfo_text(const struct fake *f, const char *drop, const char *extra)
{
    char *t = malloc(8192);
    size_t n = 0;
    const char *compound = f->k == K_72 ? "OFFSET(page.compound_info)=8" : "OFFSET(page.compound_head)=8";
    /* As the kernels print them: (PGTY_buddy << 24) is an int. */
    const char *buddy = f->k >= K_612 ? "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456"
                                      : "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129";
    const char *slab = f->k == K_66 ? "NUMBER(PG_slab)=7"
                       : f->k == K_610 ? "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-4097"
                                       : "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376";
    char sym[5][64];
    snprintf(sym[0], sizeof sym[0], "SYMBOL(init_top_pgt)=%" PRIx64, KSTART + 0x1000);
    snprintf(sym[1], sizeof sym[1], "SYMBOL(mem_section)=%" PRIx64, DIRECT + f->roots_pa);
    snprintf(sym[2], sizeof sym[2], "SYMBOL(vmemmap)=%" PRIx64, f->vmemmap);
    snprintf(sym[3], sizeof sym[3], "SYMBOL(node_data)=%" PRIx64, KSTART + 0x3000);
    snprintf(sym[4], sizeof sym[4], "NUMBER(pgtable_l5_enabled)=%d", f->l5);
    const char *lines[] = {
        "OSRELEASE=test", "PAGESIZE=4096", sym[1], "LENGTH(mem_section)=2048", "SIZE(mem_section)=16",
        "OFFSET(mem_section.section_mem_map)=0", "NUMBER(SECTION_SIZE_BITS)=27", "NUMBER(MAX_PHYSMEM_BITS)=46",
        sym[2], "SIZE(page)=64", "OFFSET(page.flags)=0", "OFFSET(page._refcount)=52", "OFFSET(page.mapping)=24",
        "OFFSET(page._mapcount)=48", "OFFSET(page.private)=40", compound, "SIZE(pglist_data)=8192",
        "SIZE(zone)=1024", "OFFSET(pglist_data.node_zones)=64", "OFFSET(pglist_data.nr_zones)=8",
        "OFFSET(zone.vm_stat)=512", "LENGTH(zone.free_area)=11", "NUMBER(NR_FREE_PAGES)=0", slab, buddy,
        "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592", "NUMBER(phys_base)=2097152", sym[0], sym[4], sym[3],
        "LENGTH(node_data)=64", "KERNELOFFSET=0", "NUMBER(sme_mask)=0", extra};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i] || (lines[i] != extra && drop && strncmp(lines[i], drop, strlen(drop)) == 0))
            continue;
        n += (size_t)snprintf(t + n, 8192 - n, "%s\n", lines[i]);
    }
    return t;
}

static int find(struct fake *f, const char *drop, const char *extra, const struct khib_freepages_opts *opts,
                struct khib_freepages *out)
{
    char *t = vmcoreinfo_text(f, drop, extra);
    struct khib_vmcoreinfo vi;
    char err[200];
    if (khib_vmcoreinfo_parse(t, strlen(t), &vi, err, sizeof err) != 0) {
        fprintf(stderr, "test VMCOREINFO: %s\n", err);
        exit(2);
    }
    free(t);
    int rc = khib_freepages_find(&vi, fake_read, f, opts, out);
    khib_vmcoreinfo_free(&vi);
    return rc;
}

/* Free blocks every layout shares; returns the pages. */
static uint64_t common_pattern(struct fake *f)
{
    set_free(f, 5, 0);                          /* one page */
    set_free(f, 8, 3);                          /* 8..15 and 16..31: one run 8..31 */
    set_free(f, 16, 4);
    set_free(f, 1024, 10);                      /* 1024..2047 */
    set_free(f, 32768, 9);                      /* section 1, before its hole */
    set_free(f, 32768 + 1024, 10);              /* after the hole */
    set_free(f, 300ull * PFNS_PER_SECTION + 2, 1);  /* root 1 */
    /* A compound tail whose _mapcount looks free: not free (tail first). */
    uint8_t *p = page_at(f, 3000);
    khib_put32(p + OFF_MAPCOUNT, buddy_value(f->k));
    khib_put64(p + OFF_COMPOUND, 0xffffea0000000000ull | 1);
    /* The tail pages of a free block hold anything but a buddy head. */
    khib_put64(page_at(f, 1030) + OFF_PRIVATE, 7);
    return 1 + 8 + 16 + 1024 + 512 + 1024 + 2;
}

static void expect_runs(const struct khib_freepages *fp, const char *what)
{
    static const struct khib_pfn_run want[] = {{5, 1}, {8, 24}, {1024, 1024}, {32768, 512}, {33792, 1024},
                                               {300ull * 32768 + 2, 2}};
    CHECK(fp->nrun == 6, "%s: 6 runs, got %" PRIu64, what, fp->nrun);
    for (uint64_t i = 0; i < fp->nrun && i < 6; i++)
        CHECK(fp->run[i].start == want[i].start && fp->run[i].count == want[i].count,
              "%s: run %" PRIu64 " is %" PRIu64 "+%" PRIu64, what, i, fp->run[i].start, fp->run[i].count);
    CHECK(khib_freepages_contains(fp, 31) && !khib_freepages_contains(fp, 32) && !khib_freepages_contains(fp, 4) &&
              khib_freepages_contains(fp, 2047) && !khib_freepages_contains(fp, 3000) &&
              khib_freepages_contains(fp, 300ull * 32768 + 3),
          "%s: contains()", what);
}

static void layouts(struct fake *f)
{
    static const struct { enum kernel k; const char *name, *field; enum khib_page_layout layout; } ks[] = {
        {K_66, "6.6 (PG_slab)", "compound_head", KHIB_LAYOUT_MAPCOUNT_FLAGS},
        {K_610, "6.10 (PAGE_SLAB_MAPCOUNT_VALUE)", "compound_head", KHIB_LAYOUT_MAPCOUNT_FLAGS},
        {K_612, "6.12", "compound_head", KHIB_LAYOUT_TYPE_BYTE},
        {K_72, "7.2 (compound_info)", "compound_info", KHIB_LAYOUT_TYPE_BYTE},
    };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        build(f, ks[i].k, 0, 0xffffea0000000000ull);
        uint64_t pages = common_pattern(f);
        /* Layout-specific pages that are not free. */
        if (ks[i].k == K_66) {
            uint8_t *p = page_at(f, 4000);   /* slab: PG_slab set, _mapcount aliased to -129 */
            khib_put64(p + OFF_FLAGS, 1u << 7);
            khib_put32(p + OFF_MAPCOUNT, 0xffffff7fu);
        } else if (ks[i].k == K_610) {
            khib_put32(page_at(f, 4000) + OFF_MAPCOUNT, 0xffffef7fu);   /* two bits cleared: not the value */
        } else {
            khib_put32(page_at(f, 4000) + OFF_MAPCOUNT, 0xf5000000u);   /* PGTY_slab */
            khib_put32(page_at(f, 4001) + OFF_MAPCOUNT, 0xf4000000u);   /* PGTY_hugetlb */
        }
        set_zone_free(f, 0, 100);
        set_zone_free(f, 1, (int64_t)pages - 100);
        struct khib_freepages fp;
        int rc = find(f, NULL, NULL, NULL, &fp);
        CHECK(rc == 0, "%s: %s", ks[i].name, fp.reason);
        CHECK(fp.free_pages == pages, "%s: %" PRIu64 " free pages, want %" PRIu64, ks[i].name, fp.free_pages, pages);
        CHECK(fp.layout == ks[i].layout && strcmp(fp.compound_field, ks[i].field) == 0, "%s: layout %s, %s",
              ks[i].name, fp.layout_name, fp.compound_field);
        CHECK(fp.sections == 3 && fp.pages_unmapped == 512 && fp.pages_walked == 3 * 32768 - 512,
              "%s: sections %" PRIu64 " walked %" PRIu64 " unmapped %" PRIu64, ks[i].name, fp.sections,
              fp.pages_walked, fp.pages_unmapped);
        CHECK(fp.zone_free == (int64_t)pages && strcmp(fp.expected_from, "zone vm_stat") == 0, "%s: zone count",
              ks[i].name);
        expect_runs(&fp, ks[i].name);
        khib_freepages_free(&fp);
    }
    /* 6.12 on 5-level paging, vmemmap elsewhere (KASLR). */
    build(f, K_612, 1, 0xffd4000000000000ull);
    uint64_t pages = common_pattern(f);
    set_zone_free(f, 0, (int64_t)pages);
    struct khib_freepages fp;
    CHECK(find(f, NULL, NULL, NULL, &fp) == 0 && fp.free_pages == pages, "5-level: %s", fp.reason);
    expect_runs(&fp, "5-level");
    khib_freepages_free(&fp);
    /* One free page at pfn 64 with a given _mapcount and buddy value line. */
    static const struct {
        enum kernel k;
        uint32_t mapcount;
        const char *drop, *line, *what;
        enum khib_page_layout layout;
    } one[] = {
        /* The type byte alone decides (the kernel's PageBuddy()), low bits aside. */
        {K_612, 0xf0000123u, NULL, NULL, "type byte", KHIB_LAYOUT_TYPE_BYTE},
        /* 2.6.39 to 4.x: -128. */
        {K_66, 0xffffff80u, "NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-128", "-128",
         KHIB_LAYOUT_MAPCOUNT_FLAGS},
        /* The 6.12 value printed unsigned. */
        {K_612, 0xf0000000u, "NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=4026531840", "unsigned",
         KHIB_LAYOUT_TYPE_BYTE},
        /* Without SYMBOL(vmemmap) the sections' mem_map is used as it is. */
        {K_612, 0xf0000000u, "SYMBOL(vmemmap)", NULL, "no SYMBOL(vmemmap)", KHIB_LAYOUT_TYPE_BYTE},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        build(f, one[i].k, 0, 0xffffea0000000000ull);
        khib_put32(page_at(f, 64) + OFF_MAPCOUNT, one[i].mapcount);
        set_zone_free(f, 0, 1);
        CHECK(find(f, one[i].drop, one[i].line, NULL, &fp) == 0 && fp.free_pages == 1 && fp.run[0].start == 64 &&
                  fp.layout == one[i].layout,
              "%s: %s", one[i].what, fp.reason);
        khib_freepages_free(&fp);
    }
}

static void cross_check(struct fake *f)
{
    build(f, K_612, 0, 0xffffea0000000000ull);
    uint64_t pages = common_pattern(f);
    set_zone_free(f, 0, (int64_t)pages + 5000);
    struct khib_freepages fp;
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1 && fp.nrun == 0 && fp.run == NULL, fp.reason,
              "A's NR_FREE_PAGES (zone vm_stat) is 7587: off by 5000, more than the margin 1099");
    /* The caller's count and the zones' must both match. */
    struct khib_freepages_opts o = {.expected_free = (int64_t)pages};
    CHECK_ERR(find(f, NULL, NULL, &o, &fp) == -1, fp.reason,
              "A's NR_FREE_PAGES (zone vm_stat) is 7587: off by 5000, more than the margin 1099");
    set_zone_free(f, 0, (int64_t)pages);
    o.expected_free = (int64_t)pages + 1024;
    CHECK(find(f, NULL, NULL, &o, &fp) == 0 && strcmp(fp.expected_from, "caller") == 0 && fp.margin == 1024 + 36,
          "caller's count within the default margin: %s", fp.reason);
    khib_freepages_free(&fp);
    o.expected_free = (int64_t)pages + 1100;
    CHECK_ERR(find(f, NULL, NULL, &o, &fp) == -1, fp.reason, "(caller) is 3687: off by 1100");
    o.margin_pages = 1100;
    o.margin_permille = 0;
    CHECK(find(f, NULL, NULL, &o, &fp) == 0 && fp.margin == 1100, "a wider margin: %s", fp.reason);
    khib_freepages_free(&fp);
    o = (struct khib_freepages_opts){.expected_free = 0, .margin_pages = 0, .margin_permille = 500};
    CHECK_ERR(find(f, NULL, NULL, &o, &fp) == -1, fp.reason, "margin 0");
    /* The caller's count may lack up to the slack (per-cpu lists freed by the jump), never more. */
    o = (struct khib_freepages_opts){.expected_free = (int64_t)pages - 1500, .expected_slack = 500};
    CHECK(find(f, NULL, NULL, &o, &fp) == 0, "1500 short, a slack of 500: %s", fp.reason);
    khib_freepages_free(&fp);
    o.expected_slack = 0;
    CHECK_ERR(find(f, NULL, NULL, &o, &fp) == -1, fp.reason, "(caller) is 1087: off by 1500");
    o = (struct khib_freepages_opts){.expected_free = (int64_t)pages + 1100, .expected_slack = 5000};
    CHECK_ERR(find(f, NULL, NULL, &o, &fp) == -1, fp.reason, "is 3687 and more: off by 1100");
    /* Negative zone counters (per-cpu differences not folded) sum, then clamp at 0. */
    set_zone_free(f, 0, -20);
    set_zone_free(f, 1, 10);
    o = (struct khib_freepages_opts){.expected_free = (int64_t)pages};
    CHECK(find(f, NULL, NULL, &o, &fp) == -1 && fp.zone_free == 0, "clamped zone sum %" PRId64, fp.zone_free);
    CHECK_ERR(fp.zone_free == 0, fp.reason, "(zone vm_stat) is 0");
    /* No zone information: a count must come from the caller. */
    CHECK_ERR(find(f, "SYMBOL(node_data)", NULL, NULL, &fp) == -1, fp.reason,
              "neither SYMBOL(node_data) nor SYMBOL(contig_page_data), and no count was given");
    CHECK(find(f, "SYMBOL(node_data)", NULL, &o, &fp) == 0, "no zones, the caller's count: %s", fp.reason);
    khib_freepages_free(&fp);
    /* contig_page_data (no NUMA): the pglist_data itself. */
    char extra[64];
    snprintf(extra, sizeof extra, "SYMBOL(contig_page_data)=%" PRIx64, DIRECT + f->pgdat_pa);
    set_zone_free(f, 0, (int64_t)pages);
    set_zone_free(f, 1, 0);
    CHECK(find(f, "SYMBOL(node_data)", extra, NULL, &fp) == 0 && fp.zone_free == (int64_t)pages,
          "contig_page_data: %s", fp.reason);
    khib_freepages_free(&fp);
    CHECK_ERR(find(f, "OFFSET(zone.vm_stat)", NULL, NULL, &fp) == -1, fp.reason, "OFFSET(zone.vm_stat)");
    CHECK_ERR(find(f, "NUMBER(NR_FREE_PAGES)", NULL, NULL, &fp) == -1, fp.reason, "no NUMBER(NR_FREE_PAGES)");
    CHECK_ERR(find(f, "LENGTH(node_data)", NULL, NULL, &fp) == -1, fp.reason, "LENGTH(node_data) missing");
    khib_put32(f->mem + f->pgdat_pa + 8, 9);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "nr_zones 9 is not understood");
    khib_put64(f->mem + PHYS_BASE + 0x3000, DIRECT + PHYS_SIZE + 4096);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "pglist_data at");
}

/* A line replaced by another: refused with the reason given. */
struct replaced {
    const char *drop, *line, *reason;
};

static void refused_lines(struct fake *f, const struct replaced *r, size_t n)
{
    struct khib_freepages fp;
    for (size_t i = 0; i < n; i++)
        CHECK_ERR(find(f, r[i].drop, r[i].line, NULL, &fp) == -1, fp.reason, r[i].reason);
}

/* A line removed: the reason names it. */
static void missing_lines(struct fake *f)
{
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_free(f, 5, 0);
    set_zone_free(f, 0, 1);
    static const char *need[] = {"SYMBOL(init_top_pgt)", "NUMBER(phys_base)", "PAGESIZE", "SYMBOL(mem_section)",
                                 "LENGTH(mem_section)", "SIZE(mem_section)", "OFFSET(mem_section.section_mem_map)",
                                 "NUMBER(SECTION_SIZE_BITS)", "NUMBER(MAX_PHYSMEM_BITS)",
                                 "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", "SIZE(page)", "OFFSET(page.flags)",
                                 "OFFSET(page._mapcount)", "OFFSET(page.private)", "LENGTH(zone.free_area)"};
    struct khib_freepages fp;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        int rc = find(f, need[i], NULL, NULL, &fp);
        CHECK(rc == -1 && strstr(fp.reason, "has no") && strstr(fp.reason, need[i]), "without %s: '%s'", need[i],
              fp.reason);
    }
    CHECK_ERR(find(f, "OFFSET(page.compound_head)", NULL, NULL, &fp) == -1, fp.reason,
              "has no OFFSET(page.compound_head) or OFFSET(page.compound_info)");
    /* Malformed, not missing. */
    static const struct replaced bad[] = {
        {"NUMBER(phys_base)", "NUMBER(phys_base)=0x", "has a malformed NUMBER(phys_base)"},
        {"SYMBOL(vmemmap)", "SYMBOL(vmemmap)=xyz", "malformed SYMBOL(vmemmap)"},
        {"NUMBER(pgtable_l5_enabled)", "NUMBER(pgtable_l5_enabled)=one", "malformed NUMBER(pgtable_l5_enabled)"},
    };
    refused_lines(f, bad, sizeof bad / sizeof bad[0]);
    /* Without pgtable_l5_enabled (before 4.14): four levels. */
    CHECK(find(f, "NUMBER(pgtable_l5_enabled)", NULL, NULL, &fp) == 0, "no pgtable_l5_enabled: %s", fp.reason);
    khib_freepages_free(&fp);
}

/* Values and structures khib does not understand. */
static void not_understood(struct fake *f)
{
    struct khib_freepages fp;
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_free(f, 5, 0);
    set_zone_free(f, 0, 1);
    static const struct replaced odd[] = {
        {"PAGESIZE", "PAGESIZE=65536", "PAGESIZE=65536, not x86_64's"},
        {"NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=128", "=128: a page-type layout khib does not know"},
        {"NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=4026531841", "a page-type layout khib does not know"},
        {"NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-4294967296", "a page-type layout khib does not know"},
        {"NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-16777216", "a page-type layout khib does not know"},
        {"NUMBER(PAGE_BUDDY", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-131", "a page-type layout khib does not know"},
        {"LENGTH(mem_section)", "LENGTH(mem_section)=524288", "not SPARSEMEM_EXTREME's 2048 roots"},
        {"NUMBER(SECTION_SIZE_BITS)", "NUMBER(SECTION_SIZE_BITS)=50", "not x86_64's"},
        {"SIZE(mem_section)", "SIZE(mem_section)=4", "SIZE(mem_section)=4"},
        {"SIZE(page)", "SIZE(page)=40", "SIZE(page)=40 and its OFFSET()s"},
        {"LENGTH(zone.free_area)", "LENGTH(zone.free_area)=0", "not a number of buddy orders"},
        {"SYMBOL(init_top_pgt)", "SYMBOL(init_top_pgt)=ffff888000001000", "not in the kernel text mapping"},
    };
    refused_lines(f, odd, sizeof odd / sizeof odd[0]);
    /* Before 6.12 slab pages must be recognisable. */
    build(f, K_610, 0, 0xffffea0000000000ull);
    set_zone_free(f, 0, 0);
    CHECK_ERR(find(f, "NUMBER(PAGE_SLAB", NULL, NULL, &fp) == -1, fp.reason,
              "neither NUMBER(PG_slab) nor NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)");
    CHECK_ERR(find(f, "NUMBER(PAGE_SLAB", "NUMBER(PG_slab)=70", NULL, &fp) == -1, fp.reason,
              "NUMBER(PG_slab)=70 is not a bit");
    /* sections: vmemmap mismatch, none at all */
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_zone_free(f, 0, 0);
    khib_put64(f->mem + f->section_pa[1], (0xffffea0000000000ull + 0x200000) | 0x3);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason,
              "section 1: mem_map 0xffffea0000200000 is not vmemmap 0xffffea0000000000");
    /* Without SPARSEMEM_VMEMMAP each section's base is its own: section
     * 1's struct pages also mapped at another base, a free page there. */
    uint64_t base2 = 0xffffea0100000000ull, s1 = (uint64_t)PFNS_PER_SECTION * SPAGE;
    for (uint64_t off = 0; off < 2 * MIB; off += 4096)
        if (off < 32768 || off >= 65536)
            map(f, base2 + s1 + off, 10 * MIB + off, 4096);
    khib_put64(f->mem + f->section_pa[1], base2 | 0x3);
    set_free(f, PFNS_PER_SECTION + 8, 0);
    set_zone_free(f, 0, 1);
    CHECK(find(f, "SYMBOL(vmemmap)", NULL, NULL, &fp) == 0 && fp.free_pages == 1 &&
              fp.run[0].start == PFNS_PER_SECTION + 8 && fp.mem_map_bases == 2,
          "no SPARSEMEM_VMEMMAP: a section with its own mem_map base: %s", fp.reason);
    khib_freepages_free(&fp);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason,
              "section 1: mem_map 0xffffea0100000000 is not vmemmap 0xffffea0000000000");
    for (int i = 0; i < 3; i++)
        khib_put64(f->mem + f->section_pa[i], 0x1);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "no section with a mem_map");
}

/* A's memory cannot be read, or its free blocks contradict each other. */
static void broken_memory(struct fake *f)
{
    struct khib_freepages fp;
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_zone_free(f, 0, 0);
    /* The page tables: the PGD entry of the direct map cleared. */
    uint64_t pgd_e = f->pgd + ((DIRECT >> 39) & 511) * 8;
    uint64_t saved = khib_get64(f->mem + pgd_e);
    khib_put64(f->mem + pgd_e, 0);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "mem_section[0] at");
    khib_put64(f->mem + pgd_e, saved);
    /* A root pointing nowhere mapped. */
    khib_put64(f->mem + f->roots_pa + 8, 0xffffc90000000000ull);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "the sections of mem_section[1]");
    khib_put64(f->mem + f->roots_pa + 8, 0);
    CHECK(find(f, NULL, NULL, NULL, &fp) == 0 && fp.sections == 2, "root 1 empty: %s", fp.reason);
    khib_freepages_free(&fp);
    /* The callback fails on mapped struct pages: not a hole. */
    f->fail_from = 8 * MIB + 4096;
    f->fail_to = 8 * MIB + 8192;
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "A's memory cannot be read (struct pages of pfn 0x0)");
    f->fail_from = f->fail_to = 0;
    /* Free blocks that cannot be. */
    set_free(f, 7, 1);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "pfn 0x7: free block of order 1 not aligned");
    set_free(f, 7, 11);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "order 11, the kernel has 11 orders");
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_free(f, 0, 3);
    set_free(f, 4, 0);
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason,
              "pfn 0x4 heads a free block inside the free block at pfn 0x0");
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_free(f, 32768, 10);   /* reaches into section 1's hole */
    CHECK_ERR(find(f, NULL, NULL, NULL, &fp) == -1, fp.reason, "the free block at pfn 0x8000 reaches pfns without");
    build(f, K_612, 0, 0xffffea0000000000ull);
    set_free(f, 0, 16);
    CHECK_ERR(find(f, "LENGTH(zone.free_area)", "LENGTH(zone.free_area)=20", NULL, &fp) == -1, fp.reason,
              "order 16 crosses its section's end");
}

/* A run is whole free blocks, each headed by a struct page that says so. */
static int runs_of_buddy_blocks(struct fake *f, const struct khib_pfn_run *run)
{
    uint64_t pfn = run->start, end = run->start + run->count;
    while (pfn < end) {
        int mapped = pfn < 2 * PFNS_PER_SECTION ? pfn < 32768 + 512 || pfn >= 32768 + 1024
                                                : pfn >= 300ull * PFNS_PER_SECTION && pfn < 301ull * PFNS_PER_SECTION;
        if (!mapped)
            return 0;
        const uint8_t *p = page_at(f, pfn);
        uint64_t order = khib_get64(p + OFF_PRIVATE);
        if (khib_get32(p + OFF_MAPCOUNT) >> 24 != 0xf0 || (khib_get64(p + OFF_COMPOUND) & 1) || order > 10 ||
            (pfn & ((1ull << order) - 1)))
            return 0;
        pfn += 1ull << order;
    }
    return pfn == end;
}

/* Random damage to the tables, sections, zone and struct pages: the finder
 * answers (0 or -1) and never reports a page free whose struct page does
 * not say so; a success is within the margin by construction. */
static void damaged(struct fake *f)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, fellback = 0, wrong = 0;
    for (int round = 0; round < 300; round++) {
        build(f, K_612, 0, 0xffffea0000000000ull);
        uint64_t pages = common_pattern(f);
        set_zone_free(f, 0, (int64_t)pages);
        for (int i = 0; i < 8; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            /* The page tables and structures (16 MiB up), or the struct pages (8 to 14 MiB). */
            uint64_t at = (seed & 1) ? 16 * MIB + (seed >> 8) % (f->next - 16 * MIB)
                                     : 8 * MIB + (seed >> 8) % (6 * MIB);
            f->mem[at] ^= (uint8_t)(1u << ((seed >> 4) & 7));
        }
        struct khib_freepages fp;
        int rc = find(f, NULL, NULL, NULL, &fp);
        if (rc == 0) {
            ok++;
            for (uint64_t r = 0; r < fp.nrun; r++)
                if (!runs_of_buddy_blocks(f, &fp.run[r]))
                    wrong++;
        } else if (rc == -1 && fp.nrun == 0 && fp.reason[0]) {
            fellback++;
        } else {
            wrong++;
        }
        khib_freepages_free(&fp);
    }
    CHECK(wrong == 0 && ok + fellback == 300, "damaged: %d found, %d fell back, %d wrong", ok, fellback, wrong);
    CHECK(ok > 0 && fellback > 0, "damage both passes and falls back: %d and %d", ok, fellback);
}

int main(void)
{
    struct fake f = {.mem = malloc(PHYS_SIZE)};
    if (!f.mem)
        return 2;
    layouts(&f);
    cross_check(&f);
    missing_lines(&f);
    not_understood(&f);
    broken_memory(&f);
    damaged(&f);
    free(f.mem);
    return t_done();
}
