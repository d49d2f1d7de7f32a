#define _GNU_SOURCE
#include "extents.h"

#include <inttypes.h>
#include <linux/fiemap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

#define ALIGN 4096u

void khib_extmap_free(struct khib_extmap *m)
{
    free(m->e);
    m->e = NULL;
    m->count = 0;
}

uint64_t khib_extmap_total(const struct khib_extmap *m)
{
    uint64_t t = 0;
    for (uint32_t i = 0; i < m->count; i++)
        t += m->e[i].length;
    return t;
}

static int cmp_physical(const void *a, const void *b)
{
    const struct khib_extent *x = *(const struct khib_extent *const *)a, *y = *(const struct khib_extent *const *)b;
    return x->physical < y->physical ? -1 : x->physical > y->physical;
}

int khib_extmap_check(const struct khib_extmap *m, uint64_t dev_bytes, uint64_t head, char *err, size_t errlen)
{
    if (m->count == 0 || m->count > KHIB_EXTMAP_MAX) {
        snprintf(err, errlen, "the file has %" PRIu32 " extents (1 to %u are accepted)", m->count, KHIB_EXTMAP_MAX);
        return -1;
    }
    uint64_t next = 0;
    for (uint32_t i = 0; i < m->count; i++) {
        const struct khib_extent *e = &m->e[i];
        if (e->length == 0 || (e->logical | e->physical | e->length) % ALIGN) {
            snprintf(err, errlen, "extent %" PRIu32 " (file byte %" PRIu64 ", device byte %" PRIu64 ", %" PRIu64
                     " bytes) is empty or not aligned to %u bytes", i, e->logical, e->physical, e->length, ALIGN);
            return -1;
        }
        if (e->logical != next) {
            snprintf(err, errlen, "extent %" PRIu32 " starts at file byte %" PRIu64 ", not %" PRIu64
                     ": the file has a hole or overlapping extents", i, e->logical, next);
            return -1;
        }
        if (e->physical > dev_bytes || e->length > dev_bytes - e->physical) {
            snprintf(err, errlen, "extent %" PRIu32 " (device bytes %" PRIu64 "+%" PRIu64 ") lies outside the device"
                     " of %" PRIu64 " bytes", i, e->physical, e->length, dev_bytes);
            return -1;
        }
        if (e->length > UINT64_MAX - next) {
            snprintf(err, errlen, "extent %" PRIu32 " overflows the file's size", i);
            return -1;
        }
        next += e->length;
    }
    if (m->e[0].length < head) {
        snprintf(err, errlen, "the file's first extent holds %" PRIu64 " bytes, less than the %" PRIu64
                 " of khib's superblock and extent map, which must lie together", m->e[0].length, head);
        return -1;
    }
    const struct khib_extent **by = malloc(m->count * sizeof *by);
    if (!by) {
        snprintf(err, errlen, "out of memory for %" PRIu32 " extents", m->count);
        return -1;
    }
    for (uint32_t i = 0; i < m->count; i++)
        by[i] = &m->e[i];
    qsort(by, m->count, sizeof *by, cmp_physical);
    int rc = 0;
    for (uint32_t i = 1; i < m->count && rc == 0; i++)
        if (by[i]->physical < by[i - 1]->physical + by[i - 1]->length) {
            snprintf(err, errlen, "the extents at file bytes %" PRIu64 " and %" PRIu64 " share device bytes from %"
                     PRIu64, by[i - 1]->logical, by[i]->logical, by[i]->physical);
            rc = -1;
        }
    free(by);
    return rc;
}

int khib_extmap_locate(const struct khib_extmap *m, uint64_t off, uint64_t *dev, uint64_t *run)
{
    uint32_t lo = 0, hi = m->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct khib_extent *e = &m->e[mid];
        if (off < e->logical)
            hi = mid;
        else if (off - e->logical >= e->length)
            lo = mid + 1;
        else {
            *dev = e->physical + (off - e->logical);
            *run = e->length - (off - e->logical);
            return 0;
        }
    }
    return -1;
}

void khib_extmap_encode(const struct khib_extmap *m, void *buf)
{
    uint8_t *p = buf;
    memcpy(p, KHIB_EXTMAP_MAGIC, 8);
    khib_put32(p + 8, m->count);
    khib_put32(p + 12, 0);
    for (uint32_t i = 0; i < m->count; i++) {
        uint8_t *q = p + KHIB_EXTMAP_HEADER + (size_t)i * KHIB_EXTENT_SIZE;
        khib_put64(q, m->e[i].logical);
        khib_put64(q + 8, m->e[i].physical);
        khib_put64(q + 16, m->e[i].length);
    }
}

int khib_extmap_decode(const void *buf, size_t len, struct khib_extmap *m, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    memset(m, 0, sizeof *m);
    if (len < KHIB_EXTMAP_HEADER || memcmp(p, KHIB_EXTMAP_MAGIC, 8) != 0) {
        snprintf(err, errlen, "no extent map (no %s magic)", KHIB_EXTMAP_MAGIC);
        return -1;
    }
    uint32_t count = khib_get32(p + 8);
    if (count == 0 || count > KHIB_EXTMAP_MAX || khib_get32(p + 12) != 0 || len != khib_extmap_bytes(count)) {
        snprintf(err, errlen, "extent map header is inconsistent (%" PRIu32 " extents in %zu bytes)", count, len);
        return -1;
    }
    m->e = calloc(count, sizeof *m->e);
    if (!m->e) {
        snprintf(err, errlen, "out of memory for %" PRIu32 " extents", count);
        return -1;
    }
    m->count = count;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *q = p + KHIB_EXTMAP_HEADER + (size_t)i * KHIB_EXTENT_SIZE;
        m->e[i].logical = khib_get64(q);
        m->e[i].physical = khib_get64(q + 8);
        m->e[i].length = khib_get64(q + 16);
    }
    return 0;
}

int khib_fiemap_flags_check(uint32_t flags, int allow_unwritten, char *err, size_t errlen)
{
    static const struct {
        uint32_t flag;
        const char *why;
    } refused[] = {
        {FIEMAP_EXTENT_UNKNOWN, "its location is unknown"},
        {FIEMAP_EXTENT_DELALLOC, "it is not allocated yet (delayed allocation)"},
        {FIEMAP_EXTENT_ENCODED, "its data is encoded (compressed) by the file system"},
        {FIEMAP_EXTENT_DATA_ENCRYPTED, "its data is encrypted by the file system"},
        {FIEMAP_EXTENT_NOT_ALIGNED, "it is not aligned to blocks"},
        {FIEMAP_EXTENT_DATA_INLINE, "its data lies inside file system metadata"},
        {FIEMAP_EXTENT_DATA_TAIL, "it shares a block with other files (tail packing)"},
        {FIEMAP_EXTENT_SHARED, "it is shared with another file or snapshot (a raw write would change both)"},
        {FIEMAP_EXTENT_UNWRITTEN, "it is allocated but unwritten (the file system reads it as zeros)"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if ((flags & refused[i].flag) && !(refused[i].flag == FIEMAP_EXTENT_UNWRITTEN && allow_unwritten)) {
            snprintf(err, errlen, "%s", refused[i].why);
            return -1;
        }
    uint32_t known = FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED | FIEMAP_EXTENT_UNWRITTEN;
    if (flags & ~known & ~(uint32_t)(FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED |
                                     FIEMAP_EXTENT_DATA_ENCRYPTED | FIEMAP_EXTENT_NOT_ALIGNED |
                                     FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_SHARED)) {
        snprintf(err, errlen, "it has FIEMAP flags 0x%" PRIx32 " that khib does not know", flags);
        return -1;
    }
    return 0;
}
