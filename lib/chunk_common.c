/* Chunk planning and helpers shared by the compressing and expanding sides. */
#define _GNU_SOURCE
#include "chunk_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_codec.h"

uint64_t khib_plan_count(const struct khib_range *ranges, uint32_t nranges, uint32_t chunk_pages)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < nranges; i++)
        n += (ranges[i].pages + chunk_pages - 1) / chunk_pages;
    return n;
}

int khib_plan_chunks(const struct khib_range *ranges, uint32_t nranges, uint32_t chunk_pages,
                     struct khib_chunk **chunks, uint32_t *count, char *err, size_t errlen)
{
    *chunks = NULL;
    *count = 0;
    if (chunk_pages == 0 || chunk_pages > KHIB_CHUNK_PAGES_MAX) {
        snprintf(err, errlen, "chunk size %" PRIu32 " pages is out of range", chunk_pages);
        return -1;
    }
    uint64_t n = khib_plan_count(ranges, nranges, chunk_pages);
    if (n == 0 || n > UINT32_MAX / 2) {
        snprintf(err, errlen, "%" PRIu64 " chunks: no memory, or far too much", n);
        return -1;
    }
    struct khib_chunk *c = calloc(n, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory for %" PRIu64 " chunks", n);
        return -1;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < nranges; i++) {
        for (uint64_t done = 0; done < ranges[i].pages; k++) {
            uint64_t left = ranges[i].pages - done;
            c[k].first_pfn = ranges[i].start_pfn + done;
            c[k].pages = (uint32_t)(left < chunk_pages ? left : chunk_pages);
            done += c[k].pages;
        }
    }
    *chunks = c;
    *count = k;
    return 0;
}

static inline uint64_t word(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

int khib_page_is_zero(const void *page)
{
    const uint8_t *p = page;
    /* Most pages that are not zero say so in their first word. */
    if (word(p))
        return 0;
    for (size_t off = 0; off < KHIB_PAGE_SIZE; off += 64) {
        const uint8_t *q = p + off;
        if (word(q) | word(q + 8) | word(q + 16) | word(q + 24) | word(q + 32) | word(q + 40) | word(q + 48) |
            word(q + 56))
            return 0;
    }
    return 1;
}

void khib_chunk_name(uint32_t index, const struct khib_chunk *c, char *buf, size_t len)
{
    snprintf(buf, len, "chunk %" PRIu32 " (pfn 0x%" PRIx64 "-0x%" PRIx64 ")", index, c->first_pfn,
             c->first_pfn + c->pages - 1);
}

int khib_level_parse(const char *s, int *level)
{
    if (!strcmp(s, "auto") || !strcmp(s, "store")) {
        *level = s[0] == 'a' ? KHIB_LEVEL_AUTO : KHIB_LEVEL_STORE;
        return 0;
    }
    char *end;
    errno = 0;
    long l = strtol(s, &end, 10);
    if (errno || *end || end == s || l == 0 || l < -(1L << 20) || l > 100)
        return -1;
    *level = (int)l;
    return 0;
}

void khib_level_format(int level, char *buf, size_t len)
{
    if (level == KHIB_LEVEL_AUTO || level == KHIB_LEVEL_STORE)
        snprintf(buf, len, level == KHIB_LEVEL_AUTO ? "auto" : "store");
    else
        snprintf(buf, len, "%d", level);
}

/* Per raw byte, compressing costs the CPUs 1/(n vc) seconds and the disk
 * q/rate; storing costs 1/(n vs) and 1/rate.  The fraction s stored that
 * makes both take as long,
 *
 *     (1 - s)/(n vc) + s/(n vs) = (1 - s) q/rate + s/rate,
 *
 * gives the shortest save.  At most 15/16, so that the caller keeps
 * measuring vc and q. */
double khib_store_fraction(unsigned n, double vc, double vs, double q, double rate)
{
    if (n == 0 || vc <= 0 || vs <= 0 || rate <= 0)
        return 0;
    double over = 1 / (n * vc) - q / rate;                  /* CPU time beyond the disk's, all compressed */
    double gain = (1 / vc - 1 / vs) / n + (1 - q) / rate;   /* what storing a byte takes off that */
    double s = over <= 0 ? 0 : gain <= over ? 1 : over / gain;
    return s > 15.0 / 16 ? 15.0 / 16 : s;
}
