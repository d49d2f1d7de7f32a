/* Poisoning the excluded pages (poison.h). */
#include "poison.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image_codec.h"

void khib_poison_page(void *page, uint64_t pfn)
{
    uint64_t w = KHIB_POISON_WORD ^ pfn;
    uint8_t *p = page;
    for (size_t i = 0; i < KHIB_PAGE_SIZE; i += 8)
        memcpy(p + i, &w, 8);
}

int khib_page_is_poison(const void *page, uint64_t pfn)
{
    uint64_t w = KHIB_POISON_WORD ^ pfn, v;
    const uint8_t *p = page;
    for (size_t i = 0; i < KHIB_PAGE_SIZE; i += 8) {
        memcpy(&v, p + i, 8);
        if (v != w)
            return 0;
    }
    return 1;
}

int64_t khib_poison_excluded(struct khib_physmem *pm, const struct khib_chunk *chunks, uint32_t n, char *err,
                             size_t errlen)
{
    int64_t done = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct khib_chunk *c = &chunks[i];
        if (khib_bitmap_count(c->excluded_bitmap, c->pages) == 0)
            continue;
        char why[400];
        uint8_t *mem = khib_physmem_map(pm, c->first_pfn << KHIB_PAGE_SHIFT, (size_t)c->pages * KHIB_PAGE_SIZE, why,
                                        sizeof why);
        if (!mem) {
            snprintf(err, errlen, "cannot map pfn 0x%" PRIx64 " to poison it: %s", c->first_pfn, why);
            return -1;
        }
        for (uint32_t p = 0; p < c->pages; p++)
            if (khib_bitmap_test(c->excluded_bitmap, p)) {
                khib_poison_page(mem + (size_t)p * KHIB_PAGE_SIZE, c->first_pfn + p);
                done++;
            }
    }
    return done;
}
