#define _GNU_SOURCE
#include "physmem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "target.h"

struct khib_segment *khib_segments_identity(const struct khib_range *ranges, uint32_t n)
{
    struct khib_segment *s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        s[i].paddr = ranges[i].start_pfn << KHIB_PAGE_SHIFT;
        s[i].size = ranges[i].pages << KHIB_PAGE_SHIFT;
        s[i].offset = s[i].paddr;
        s[i].filesz = s[i].size;
    }
    return s;
}

int khib_physmem_open(struct khib_physmem *pm, int fd, const char *name, const struct khib_segment *seg,
                      uint32_t nseg, int writable, uint64_t window, char *err, size_t errlen)
{
    memset(pm, 0, sizeof *pm);
    if (window < KHIB_PAGE_SIZE || window % KHIB_PAGE_SIZE) {
        snprintf(err, errlen, "mapping window %" PRIu64 " is not a multiple of the page size", window);
        return -1;
    }
    for (uint32_t i = 0; writable && i < nseg; i++) {
        if (seg[i].filesz != seg[i].size) {
            snprintf(err, errlen, "%s: segment at 0x%" PRIx64 " is not all in the file: cannot write it", name,
                     seg[i].paddr);
            return -1;
        }
    }
    pm->fd = fd;
    pm->writable = writable;
    pm->name = name;
    pm->seg = seg;
    pm->nseg = nseg;
    pm->window = window;
    return 0;
}

static void unmap(struct khib_physmem *pm)
{
    if (pm->map)
        munmap(pm->map, pm->map_len);
    pm->map = NULL;
    pm->map_len = 0;
}

/* The segment holding [paddr, paddr + len), or -1. */
static int64_t find_segment(const struct khib_physmem *pm, uint64_t paddr, uint64_t len)
{
    const struct khib_segment *s;
    if (pm->cur < pm->nseg) {
        s = &pm->seg[pm->cur];
        if (paddr >= s->paddr && paddr - s->paddr < s->size && len <= s->size - (paddr - s->paddr))
            return pm->cur;
    }
    uint32_t lo = 0, hi = pm->nseg;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (pm->seg[mid].paddr + pm->seg[mid].size <= paddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == pm->nseg)
        return -1;
    s = &pm->seg[lo];
    if (paddr < s->paddr || len > s->size - (paddr - s->paddr))
        return -1;
    return lo;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/* mmap len file bytes of segment s from rel on.  Read windows are faulted in
 * here (hints: failures change nothing; a /dev/mem mapping is populated by
 * remap_pfn_range already and refuses MADV_POPULATE_READ). */
static void *mmap_window(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, size_t len,
                         char *err, size_t errlen)
{
    int prot = PROT_READ | (pm->writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, len, prot, MAP_SHARED, pm->fd, (off_t)(s->offset + rel));
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %zu MiB of %s at physical address 0x%" PRIx64 " (file offset 0x%" PRIx64
                 "): %s", len >> 20, pm->name, s->paddr + rel, s->offset + rel, strerror(errno));
        return NULL;
    }
    if (!pm->writable) {
        (void)madvise(p, len, MADV_SEQUENTIAL);
        (void)madvise(p, len, MADV_POPULATE_READ);
    }
    return p;
}

void *khib_physmem_map_read(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, size_t len,
                            char *err, size_t errlen)
{
    return mmap_window(pm, s, rel, len, err, errlen);
}

/* Map the file part of segment s from rel (page-aligned) on, at least need bytes. */
static int map_window(struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, uint64_t need, char *err,
                      size_t errlen)
{
    unmap(pm);
    uint64_t len = s->filesz - rel;
    if (len > pm->window)
        len = pm->window;
    if (len < need)
        len = need;
    void *p = mmap_window(pm, s, rel, (size_t)len, err, errlen);
    if (!p)
        return -1;
    pm->map = p;
    pm->map_paddr = s->paddr + rel;
    pm->map_len = len;
    return 0;
}

void *khib_physmem_map(struct khib_physmem *pm, uint64_t paddr, size_t len, char *err, size_t errlen)
{
    if (pm->map && paddr >= pm->map_paddr && paddr - pm->map_paddr < pm->map_len &&
        len <= pm->map_len - (paddr - pm->map_paddr))
        return pm->map + (paddr - pm->map_paddr);
    if (paddr % KHIB_PAGE_SIZE || len == 0 || len > pm->window) {
        snprintf(err, errlen, "bad physical memory request 0x%" PRIx64 "+%zu", paddr, len);
        return NULL;
    }
    int64_t i = find_segment(pm, paddr, len);
    if (i < 0) {
        snprintf(err, errlen, "physical range 0x%" PRIx64 "+0x%zx is not inside one memory segment of %s", paddr,
                 len, pm->name);
        return NULL;
    }
    pm->cur = (uint32_t)i;
    const struct khib_segment *s = &pm->seg[i];
    uint64_t rel = paddr - s->paddr;
    if (rel + len <= s->filesz) {
        if (map_window(pm, s, rel, len, err, errlen) != 0)
            return NULL;
        return pm->map;
    }
    /* Past p_filesz the segment reads as zero: serve it from a bounce buffer. */
    if (pm->bounce_len < len) {
        uint8_t *b = realloc(pm->bounce, len);
        if (!b) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        pm->bounce = b;
        pm->bounce_len = len;
    }
    memset(pm->bounce, 0, len);
    if (rel < s->filesz) {
        uint64_t part = s->filesz - rel;
        if (map_window(pm, s, rel, part, err, errlen) != 0)
            return NULL;
        memcpy(pm->bounce, pm->map, part);
        unmap(pm);
    }
    return pm->bounce;
}

void khib_physmem_close(struct khib_physmem *pm)
{
    unmap(pm);
    free(pm->bounce);
    pm->bounce = NULL;
    pm->bounce_len = 0;
}

size_t khib_segment_in_file(const struct khib_segment *s, uint64_t rel, uint64_t len, uint64_t *off)
{
    *off = s->offset + rel;
    return rel >= s->filesz ? 0 : s->filesz - rel < len ? (size_t)(s->filesz - rel) : (size_t)len;
}

int khib_physmem_read(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, void *buf,
                      size_t len, char *err, size_t errlen)
{
    uint64_t off;
    size_t have = khib_segment_in_file(s, rel, len, &off);
    if (have && khib_pread_all(pm->fd, buf, have, off, pm->name, err, errlen) != 0)
        return -1;
    memset((uint8_t *)buf + have, 0, len - have);
    return 0;
}

void khib_physmem_read_ahead(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel,
                             uint64_t len)
{
    uint64_t off;
    size_t have = khib_segment_in_file(s, rel, len, &off);
    if (have)
        (void)posix_fadvise(pm->fd, (off_t)off, (off_t)have, POSIX_FADV_WILLNEED);
}
