/* The walk of A's mem_section and struct page arrays, the free runs and the
 * cross-check against A's NR_FREE_PAGES (freepages.h). */
#include "freepages.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freepages_layout.h"
#include "le.h"

/* include/linux/mmzone.h: SECTION_HAS_MEM_MAP is bit 1 of section_mem_map;
 * the flag bits end below bit 6 (SECTION_MAP_LAST_BIT, 7.2 with ZONE_DEVICE
 * and SPARSEMEM_VMEMMAP_PREINIT; 5 in 6.12).  The encoded value is
 * mem_map - section_nr_to_pfn(nr) (mm/sparse.c sparse_encode_mem_map()),
 * with VMEMMAP always vmemmap itself, at least page-aligned: clearing the
 * low 12 bits decodes it whatever the flag bits of the kernel. */
#define SECTION_HAS_MEM_MAP (1ull << 1)
#define SECTION_MAP_ADDR    (~0xfffull)
/* struct pages read at a time: 512 pfns = a 2 MiB subsection
 * (include/linux/mmzone.h SUBSECTION_SHIFT 21), the unit in which vmemmap
 * is populated or not. */
#define CHUNK_PAGES 512u

struct walk {
    const struct khib_fp_layout *lo;
    struct khib_kvtop kv;
    struct khib_freepages *out;
    uint64_t cap;
    uint64_t block_end;     /* end pfn of the free block being passed, or 0 */
    uint64_t block_head;
    uint64_t last_base;     /* the last section's decoded mem_map */
    uint8_t *buf;           /* CHUNK_PAGES struct pages */
};

static int fail(struct khib_freepages *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct khib_freepages *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int add_block(struct walk *w, uint64_t pfn, uint64_t pages)
{
    struct khib_freepages *o = w->out;
    if (o->nrun > 0 && o->run[o->nrun - 1].start + o->run[o->nrun - 1].count == pfn) {
        o->run[o->nrun - 1].count += pages;
    } else {
        if (o->nrun == w->cap) {
            uint64_t cap = w->cap ? w->cap * 2 : 1024;
            struct khib_pfn_run *r = realloc(o->run, cap * sizeof *r);
            if (!r)
                return fail(o, "out of memory for %" PRIu64 " free runs", cap);
            o->run = r;
            w->cap = cap;
        }
        o->run[o->nrun].start = pfn;
        o->run[o->nrun].count = pages;
        o->nrun++;
    }
    o->free_pages += pages;
    return 0;
}

/* One struct page of pfn; section_end bounds a free block. */
static int one_page(struct walk *w, uint64_t pfn, const uint8_t *page, uint64_t section_end)
{
    const struct khib_fp_layout *lo = w->lo;
    int buddy = khib_fp_page_is_buddy(lo, page);
    if (pfn < w->block_end) {
        if (buddy)
            return fail(w->out, "pfn 0x%" PRIx64 " heads a free block inside the free block at pfn 0x%" PRIx64, pfn,
                        w->block_head);
        return 0;
    }
    /* makedumpfile.c __exclude_unnecessary_pages(): tails first. */
    if (!buddy || khib_fp_page_is_tail(lo, page))
        return 0;
    uint64_t order = khib_get64(page + lo->off_private);
    if (order >= lo->nr_orders)
        return fail(w->out, "pfn 0x%" PRIx64 ": free block of order %" PRIu64 ", the kernel has %" PRIu64 " orders",
                    pfn, order, lo->nr_orders);
    uint64_t pages = 1ull << order;
    if (pfn & (pages - 1))
        return fail(w->out, "pfn 0x%" PRIx64 ": free block of order %" PRIu64 " not aligned to its size", pfn, order);
    if (pfn + pages > section_end)
        return fail(w->out, "pfn 0x%" PRIx64 ": free block of order %" PRIu64 " crosses its section's end", pfn,
                    order);
    w->block_head = pfn;
    w->block_end = pfn + pages;
    return add_block(w, pfn, pages);
}

static int walk_section(struct walk *w, uint64_t nr, uint64_t mem_map)
{
    const struct khib_fp_layout *lo = w->lo;
    uint64_t per = 1ull << lo->pfn_section_shift;
    uint64_t first = nr << lo->pfn_section_shift, end = first + per;
    w->out->sections++;
    for (uint64_t pfn = first; pfn < end; pfn += CHUNK_PAGES) {
        uint64_t n = end - pfn < CHUNK_PAGES ? end - pfn : CHUNK_PAGES;
        int rc = khib_kvtop_read(&w->kv, mem_map + pfn * lo->page_size, w->buf, (size_t)(n * lo->page_size));
        if (rc == -2)
            return fail(w->out, "A's memory cannot be read (struct pages of pfn 0x%" PRIx64 ")", pfn);
        if (rc == -1) {
            /* A hole of the section: no struct pages, nothing free. */
            if (pfn < w->block_end)
                return fail(w->out, "the free block at pfn 0x%" PRIx64 " reaches pfns without struct pages",
                            w->block_head);
            w->out->pages_unmapped += n;
            continue;
        }
        w->out->pages_walked += n;
        for (uint64_t i = 0; i < n; i++)
            if (one_page(w, pfn + i, w->buf + i * lo->page_size, end) != 0)
                return -1;
    }
    return 0;
}

static int walk_root(struct walk *w, uint64_t root, uint64_t roots_addr, uint8_t *secs)
{
    const struct khib_fp_layout *lo = w->lo;
    uint8_t raw[8];
    int rc = khib_kvtop_read(&w->kv, roots_addr + root * 8, raw, sizeof raw);
    if (rc != 0)
        return fail(w->out, "mem_section[%" PRIu64 "] at 0x%" PRIx64 " cannot be read", root, roots_addr + root * 8);
    uint64_t secs_addr = khib_get64(raw);
    if (secs_addr == 0)
        return 0;
    size_t bytes = (size_t)(lo->sections_per_root * lo->section_struct);
    if (khib_kvtop_read(&w->kv, secs_addr, secs, bytes) != 0)
        return fail(w->out, "the sections of mem_section[%" PRIu64 "] at 0x%" PRIx64 " cannot be read", root,
                    secs_addr);
    for (uint64_t i = 0; i < lo->sections_per_root; i++) {
        uint64_t coded = khib_get64(secs + i * lo->section_struct + lo->off_section_map);
        if (!(coded & SECTION_HAS_MEM_MAP))
            continue;
        uint64_t nr = root * lo->sections_per_root + i;
        uint64_t mem_map = coded & SECTION_MAP_ADDR;
        /* SPARSEMEM_VMEMMAP: every section's decoded mem_map is vmemmap
         * (include/asm-generic/memory_model.h __pfn_to_page()). */
        if (lo->has_vmemmap && mem_map != lo->vmemmap)
            return fail(w->out, "section %" PRIu64 ": mem_map 0x%" PRIx64 " is not vmemmap 0x%" PRIx64 " (not "
                        "SPARSEMEM_VMEMMAP?)", nr, mem_map, lo->vmemmap);
        /* Without SYMBOL(vmemmap) (a kernel without SPARSEMEM_VMEMMAP) each
         * section's decoded mem_map is its own base: the kernel's
         * __pfn_to_page() is __section_mem_map_addr(__pfn_to_section(pfn))
         * + pfn (include/asm-generic/memory_model.h).  The sections of one
         * node's buffer share a base (mm/sparse.c sparse_init_nid()); a
         * guest with RAM above the 4 GiB PCI hole has a second one for the
         * sections up there (seen: section 32's base 16 MiB below section
         * 0's on a 4 GiB guest). */
        if (w->out->sections == 0)
            w->out->mem_map = mem_map;
        else if (mem_map != w->last_base)
            w->out->mem_map_bases++;
        w->last_base = mem_map;
        if (walk_section(w, nr, mem_map) != 0)
            return -1;
    }
    return 0;
}

/* The sum of every zone's vm_stat[NR_FREE_PAGES] (mm/vmstat.c: the global
 * vm_zone_stat that /proc/meminfo's MemFree shows is folded from the same
 * per-cpu differences, so both lag the truth by at most the per-cpu
 * thresholds). */
static int zone_free(struct walk *w, int64_t *total)
{
    const struct khib_fp_layout *lo = w->lo;
    int64_t sum = 0;
    for (uint64_t node = 0; node < lo->nr_nodes; node++) {
        uint64_t pgdat = lo->pgdat_table;
        uint8_t raw[8];
        if (lo->has_node_data) {
            if (khib_kvtop_read(&w->kv, lo->pgdat_table + node * 8, raw, 8) != 0)
                return fail(w->out, "node_data[%" PRIu64 "] cannot be read", node);
            pgdat = khib_get64(raw);
            if (pgdat == 0)
                continue;
        }
        if (khib_kvtop_read(&w->kv, pgdat + lo->off_nr_zones, raw, 4) != 0)
            return fail(w->out, "node %" PRIu64 "'s pglist_data at 0x%" PRIx64 " cannot be read", node, pgdat);
        uint32_t nr_zones = khib_get32(raw);
        if (nr_zones > 8)
            return fail(w->out, "node %" PRIu64 ": nr_zones %" PRIu32 " is not understood", node, nr_zones);
        for (uint32_t z = 0; z < nr_zones; z++) {
            uint64_t at = pgdat + lo->off_node_zones + z * lo->zone_size + lo->off_vm_stat + lo->nr_free_index * 8;
            if (khib_kvtop_read(&w->kv, at, raw, 8) != 0)
                return fail(w->out, "node %" PRIu64 " zone %" PRIu32 ": vm_stat cannot be read", node, z);
            sum += (int64_t)khib_get64(raw);
        }
    }
    *total = sum < 0 ? 0 : sum;   /* include/linux/vmstat.h global_zone_page_state() */
    return 0;
}

static uint64_t margin_of(const struct khib_freepages_opts *opts, int64_t expected)
{
    uint64_t pages = KHIB_FREEPAGES_MARGIN_PAGES, permille = KHIB_FREEPAGES_MARGIN_PERMILLE;
    if (opts && (opts->margin_pages || opts->margin_permille)) {
        pages = opts->margin_pages;
        permille = opts->margin_permille;
    }
    return pages + (uint64_t)expected * permille / 1000;
}

/* The pages found against [expected, expected + slack], within margin. */
static int off_by(struct khib_freepages *o, int64_t expected, uint64_t slack, const char *from, uint64_t margin)
{
    uint64_t exp = (uint64_t)expected;
    uint64_t diff = o->free_pages > exp + slack ? o->free_pages - exp - slack
                    : o->free_pages < exp       ? exp - o->free_pages
                                                : 0;
    if (diff > margin) {
        fail(o, "found %" PRIu64 " free pages, A's NR_FREE_PAGES (%s) is %" PRId64 "%s: off by %" PRIu64
             ", more than the margin %" PRIu64, o->free_pages, from, expected, slack ? " and more" : "", diff, margin);
        if (slack) {
            size_t n = strlen(o->reason);
            snprintf(o->reason + n, sizeof o->reason - n, " (up to %" PRIu64 " more from per-cpu lists)", slack);
        }
        if (o->zone_free >= 0 && from[0] == 'c') {
            size_t n = strlen(o->reason);
            snprintf(o->reason + n, sizeof o->reason - n, " (the zones' count: %" PRId64 ")", o->zone_free);
        }
        return -1;
    }
    return 0;
}

/* The caller's count when given, else the zones'; with both, both. */
static int cross_check(struct walk *w, const struct khib_freepages_opts *opts)
{
    struct khib_freepages *o = w->out;
    if (w->lo->has_zones && zone_free(w, &o->zone_free) != 0)
        return -1;
    if (opts && opts->expected_free >= 0) {
        o->expected = opts->expected_free;
        o->expected_from = "caller";
    } else if (w->lo->has_zones) {
        o->expected = o->zone_free;
        o->expected_from = "zone vm_stat";
    } else {
        return fail(o, "%s, and no count was given", w->lo->zone_reason);
    }
    o->margin = margin_of(opts, o->expected);
    uint64_t slack = o->expected_from[0] == 'c' ? opts->expected_slack : 0;
    if (off_by(o, o->expected, slack, o->expected_from, o->margin) != 0)
        return -1;
    if (o->zone_free >= 0 && o->expected_from[0] == 'c')
        return off_by(o, o->zone_free, 0, "zone vm_stat", margin_of(opts, o->zone_free));
    return 0;
}

int khib_freepages_find(const struct khib_vmcoreinfo *vi, khib_physread_fn read, void *ctx,
                        const struct khib_freepages_opts *opts, struct khib_freepages *out)
{
    memset(out, 0, sizeof *out);
    out->zone_free = -1;
    out->expected = -1;
    struct khib_fp_layout lo;
    if (khib_fp_layout_read(vi, &lo, out->reason, sizeof out->reason) != 0)
        return -1;
    out->layout = lo.layout;
    out->layout_name = lo.layout_name;
    out->compound_field = lo.compound_field;
    struct walk w = {.lo = &lo, .out = out};
    khib_kvtop_init(&w.kv, read, ctx, lo.init_top_pgt, lo.phys_base, lo.l5, lo.sme_mask);
    w.buf = malloc(CHUNK_PAGES * lo.page_size);
    uint8_t *secs = malloc(lo.sections_per_root * lo.section_struct);
    int rc = -1;
    if (!w.buf || !secs) {
        fail(out, "out of memory");
        goto done;
    }
    rc = 0;
    for (uint64_t root = 0; root < lo.nr_roots && rc == 0; root++)
        rc = walk_root(&w, root, lo.mem_section, secs);
    if (rc == 0 && out->sections == 0)
        rc = fail(out, "mem_section has no section with a mem_map");
    if (rc == 0)
        rc = cross_check(&w, opts);
done:
    free(w.buf);
    free(secs);
    if (rc != 0) {
        free(out->run);
        out->run = NULL;
        out->nrun = 0;
        return -1;
    }
    int n = snprintf(out->reason, sizeof out->reason,
                     "%" PRIu64 " free pages in %" PRIu64 " runs, A's NR_FREE_PAGES (%s) %" PRId64 ", margin %" PRIu64,
                     out->free_pages, out->nrun, out->expected_from, out->expected, out->margin);
    if (out->zone_free >= 0 && out->expected_from[0] == 'c')
        snprintf(out->reason + n, sizeof out->reason - (size_t)n, ", zones' %" PRId64, out->zone_free);
    return 0;
}

void khib_freepages_free(struct khib_freepages *fp)
{
    free(fp->run);
    fp->run = NULL;
    fp->nrun = 0;
}

int khib_freepages_contains(const struct khib_freepages *fp, uint64_t pfn)
{
    uint64_t lo = 0, hi = fp->nrun;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const struct khib_pfn_run *r = &fp->run[mid];
        if (pfn < r->start)
            hi = mid;
        else if (pfn - r->start >= r->count)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}
