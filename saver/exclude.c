/* A's free pages into the chunks' excluded bitmaps (exclude.h). */
#define _GNU_SOURCE
#include "exclude.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freepages.h"
#include "image_codec.h"
#include "kexec_backup.h"
#include "physmem.h"
#include "progress.h"
#include "vmcoreinfo.h"

#define READ_MAX (1u << 20)   /* bytes mapped per piece of a read */

/* A's memory outside the window as it is (ctx: a struct khib_physmem over
 * the core's segments): a read callback of kvtop.h. */
static int raw_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
    struct khib_physmem *pm = ctx;
    uint8_t *out = buf;
    while (len > 0) {
        const struct khib_segment *s = NULL;
        for (uint32_t i = 0; i < pm->nseg && !s; i++)
            if (paddr >= pm->seg[i].paddr && paddr - pm->seg[i].paddr < pm->seg[i].size)
                s = &pm->seg[i];
        if (!s)
            return -1;
        uint64_t left = s->paddr + s->size - paddr;
        size_t n = len < left ? len : (size_t)left;
        if (n > READ_MAX)
            n = READ_MAX;
        uint64_t base = paddr & ~(uint64_t)(KHIB_PAGE_SIZE - 1);
        size_t off = (size_t)(paddr - base);
        size_t span = (off + n + KHIB_PAGE_SIZE - 1) & ~(size_t)(KHIB_PAGE_SIZE - 1);
        char err[300];
        const uint8_t *p = khib_physmem_map(pm, base, span, err, sizeof err);
        if (!p)
            return -1;
        memcpy(out, p + off, n);
        out += n;
        paddr += n;
        len -= n;
    }
    return 0;
}

static int none(struct exclude_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int none(struct exclude_result *r, const char *fmt, ...)
{
    int n = snprintf(r->line, sizeof r->line, "free pages not excluded, every page saved: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->line + n, sizeof r->line - (size_t)n, fmt, ap);
    va_end(ap);
    r->pages = 0;
    return -1;
}

uint64_t exclude_mark_runs(const struct khib_pfn_run *run, uint64_t nrun, struct khib_chunk *chunks, uint32_t n)
{
    uint64_t marked = 0, k = 0;
    for (uint32_t i = 0; i < n && k < nrun; i++) {
        struct khib_chunk *c = &chunks[i];
        uint64_t a = c->first_pfn, b = a + c->pages;
        while (k < nrun && run[k].start + run[k].count <= a)
            k++;
        for (uint64_t j = k; j < nrun && run[j].start < b; j++) {
            uint64_t s = run[j].start > a ? run[j].start : a;
            uint64_t e = run[j].start + run[j].count < b ? run[j].start + run[j].count : b;
            for (uint64_t p = s; p < e; p++)
                khib_bitmap_set(c->excluded_bitmap, (uint32_t)(p - a));
            marked += e - s;
        }
    }
    return marked;
}

int exclude_free_pages(const struct exclude_input *in, struct khib_chunk *chunks, uint32_t n,
                       struct exclude_result *r)
{
    memset(r, 0, sizeof *r);
    double t0 = khib_now();
    const struct khib_note *nt = in->note;
    if (!nt)
        return none(r, "the core header has no khib note");
    if (nt->flags & KHIB_NOTE_KEEP_FREE)
        return none(r, "exclude-free=no");
    if (!nt->vmcoreinfo_size)
        return none(r, "the saved kernel has no /sys/kernel/vmcoreinfo (CONFIG_VMCORE_INFO)");
    if (!in->entry)
        return none(r, "no jump-back entry, so no kexec swap list to read the window from");

    struct khib_physmem raw;
    char err[500];
    if (khib_physmem_open(&raw, in->fd, in->name, in->seg, in->nseg, 0, KHIB_PHYSMEM_WINDOW, err, sizeof err) != 0)
        return none(r, "%s", err);
    struct khib_backup_map map;
    uint8_t *note = NULL;
    struct khib_vmcoreinfo vi = {0};
    struct khib_freepages fp = {0};
    int rc = -1;
    if (khib_backup_map_find(raw_read, &raw, in->entry, nt->window_start, nt->window_size, &map, err,
                             sizeof err) != 0) {
        none(r, "A's window pages cannot be found: %s", err);
        goto out_raw;
    }
    struct khib_backup_reader rd = {.map = &map, .raw = raw_read, .raw_ctx = &raw};
    note = malloc(nt->vmcoreinfo_size);
    if (!note) {
        none(r, "out of memory");
        goto out;
    }
    if (khib_backup_read(&rd, nt->vmcoreinfo_addr, note, nt->vmcoreinfo_size) != 0) {
        none(r, "A's VMCOREINFO at 0x%" PRIx64 " cannot be read", nt->vmcoreinfo_addr);
        goto out;
    }
    if (khib_vmcoreinfo_from_note(note, nt->vmcoreinfo_size, &vi, err, sizeof err) != 0) {
        none(r, "%s", err);
        goto out;
    }
    /* The zones' counters read from A's memory, and MemFree read by A just
     * before the jump (plus up to the pages then on per-cpu lists), must
     * both agree with the walk (freepages.h). */
    struct khib_freepages_opts opts = {.expected_free = -1};
    if (in->a_free_pages && in->a_free_pages != UINT32_MAX) {
        opts.expected_free = in->a_free_pages;
        opts.expected_slack = in->a_pcp_pages;
    }
    if (khib_freepages_find(&vi, khib_backup_read, &rd, &opts, &fp) != 0) {
        none(r, "%s", fp.reason);
        goto out;
    }
    r->found = fp.free_pages;
    r->pages = exclude_mark_runs(fp.run, fp.nrun, chunks, n);
    r->seconds = khib_now() - t0;
    snprintf(r->line, sizeof r->line,
             "excluded %" PRIu64 " free pages (%" PRIu64 " MiB) of the saved kernel: %s; %s layout, %" PRIu64
             " struct pages walked, %" PRIu64 " window pages read from their kexec copies, %.2f s",
             r->pages, r->pages >> 8, fp.reason, fp.layout_name, fp.pages_walked, rd.redirected, r->seconds);
    rc = 0;
out:
    khib_freepages_free(&fp);
    khib_vmcoreinfo_free(&vi);
    free(note);
    khib_backup_map_free(&map);
out_raw:
    khib_physmem_close(&raw);
    return rc;
}
