#define _GNU_SOURCE
#include "restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Place the nonzero pages of raw and zero the pages marked zero, writing a
 * zero page only where memory is not zero already. */
static void scatter(uint8_t *dst, const struct khib_chunk *c, const uint8_t *raw)
{
    for (uint32_t p = 0; p < c->pages; p++) {
        uint8_t *page = dst + (size_t)p * KHIB_PAGE_SIZE;
        if (khib_bitmap_test(c->zero_bitmap, p)) {
            if (!khib_page_is_zero(page))
                memset(page, 0, KHIB_PAGE_SIZE);
        } else {
            memcpy(page, raw, KHIB_PAGE_SIZE);
            raw += KHIB_PAGE_SIZE;
        }
    }
}

int restore_memory(struct khib_image *img, struct khib_physmem *dst, struct khib_progress *prog, char *err,
                   size_t errlen)
{
    struct khib_frame_reader rd;
    struct khib_decoder dd;
    uint8_t *raw = malloc(KHIB_CHUNK_RAW_MAX);
    if (!raw || khib_decoder_init(&dd, err, errlen) != 0) {
        free(raw);
        snprintf(err, errlen, "out of memory");
        return KHIB_IMG_IO;
    }
    if (khib_frame_reader_init(&rd, img, err, errlen) != 0) {
        khib_decoder_free(&dd);
        free(raw);
        return KHIB_IMG_IO;
    }
    int rc = KHIB_IMG_OK;
    uint64_t done = 0;
    for (uint32_t i = 0; i < img->idx.chunk_count; i++) {
        const struct khib_chunk *c = &img->idx.chunks[i];
        char name[80], why[400];
        khib_chunk_name(i, c, name, sizeof name);
        const void *frame = NULL;
        if (c->stored_len && !(frame = khib_frame_get(&rd, c->offset, c->stored_len, why, sizeof why))) {
            snprintf(err, errlen, "%s: %s", name, why);
            rc = KHIB_IMG_IO;
            break;
        }
        size_t bytes = (size_t)c->pages * KHIB_PAGE_SIZE;
        uint8_t *mem = khib_physmem_map(dst, c->first_pfn << KHIB_PAGE_SHIFT, bytes, why, sizeof why);
        if (!mem) {
            snprintf(err, errlen, "%s: %s", name, why);
            rc = RESTORE_MEM_ERROR;
            break;
        }
        /* Without zero pages the frame expands straight into memory. */
        int direct = c->raw_len == bytes;
        if (khib_chunk_expand(&dd, c, frame, direct ? mem : raw, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s: the image is damaged", name, why);
            rc = KHIB_IMG_BAD;
            break;
        }
        if (!direct)
            scatter(mem, c, raw);
        done += bytes;
        khib_progress_update(prog, done);
    }
    khib_frame_reader_free(&rd);
    khib_decoder_free(&dd);
    free(raw);
    return rc;
}
