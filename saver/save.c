#define _GNU_SOURCE
#include "save.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int save_chunks(struct khib_physmem *src, struct khib_chunk *chunks, uint32_t n, struct khib_coder *cd,
                struct writer *w, struct khib_progress *prog, struct save_totals *tot, char *err, size_t errlen)
{
    size_t bound = khib_frame_bound();
    uint64_t done = 0;
    memset(tot, 0, sizeof *tot);
    for (uint32_t i = 0; i < n; i++) {
        struct khib_chunk *c = &chunks[i];
        size_t bytes = (size_t)c->pages * KHIB_PAGE_SIZE;
        char why[300];
        const void *pages = khib_physmem_map(src, c->first_pfn << KHIB_PAGE_SHIFT, bytes, why, sizeof why);
        if (!pages) {
            snprintf(err, errlen, "cannot read the memory of chunk %" PRIu32 ": %s", i, why);
            return SAVE_INPUT_ERROR;
        }
        void *dst = writer_reserve(w, bound, err, errlen);
        if (!dst)
            return SAVE_TARGET_ERROR;
        if (khib_chunk_compress(cd, pages, c, dst, bound, err, errlen) != 0)
            return SAVE_INPUT_ERROR;
        c->offset = w->pos;
        if (writer_commit(w, c->stored_len, err, errlen) != 0)
            return SAVE_TARGET_ERROR;
        uint32_t zeros = c->pages - c->raw_len / KHIB_PAGE_SIZE;
        tot->pages_zero += zeros;
        tot->pages_stored += c->pages - zeros;
        tot->data_bytes += c->stored_len;
        done += bytes;
        khib_progress_update(prog, done);
    }
    return writer_flush(w, err, errlen) == 0 ? 0 : SAVE_TARGET_ERROR;
}

struct compare_ctx {
    struct khib_physmem *src;
};

/* The pages of one verified chunk against the memory they were saved from. */
static int compare_chunk(void *ctx, uint32_t index, const struct khib_chunk *c, const uint8_t *raw, char *err,
                         size_t errlen)
{
    struct compare_ctx *cc = ctx;
    char name[80], why[300];
    khib_chunk_name(index, c, name, sizeof name);
    const uint8_t *mem = khib_physmem_map(cc->src, c->first_pfn << KHIB_PAGE_SHIFT,
                                          (size_t)c->pages * KHIB_PAGE_SIZE, why, sizeof why);
    if (!mem) {
        snprintf(err, errlen, "%s: cannot read the memory again: %s", name, why);
        return KHIB_IMG_IO;
    }
    for (uint32_t p = 0; p < c->pages; p++) {
        const uint8_t *page = mem + (size_t)p * KHIB_PAGE_SIZE;
        int same = khib_bitmap_test(c->zero_bitmap, p) ? khib_page_is_zero(page)
                                                       : memcmp(page, raw, KHIB_PAGE_SIZE) == 0;
        if (!khib_bitmap_test(c->zero_bitmap, p))
            raw += KHIB_PAGE_SIZE;
        if (!same) {
            snprintf(err, errlen, "%s: page 0x%" PRIx64 " in the image differs from memory", name,
                     c->first_pfn + p);
            return KHIB_IMG_BAD;
        }
    }
    return KHIB_IMG_OK;
}

int save_verify(const char *path, const uint8_t uuid[16], struct khib_physmem *src, struct khib_progress *prog,
                char *err, size_t errlen)
{
    struct khib_image img;
    int rc = khib_image_open(&img, path, KHIB_OPEN_READ, err, errlen);
    if (rc != KHIB_IMG_OK) {
        khib_image_close(&img);
        return rc == KHIB_IMG_NONE ? KHIB_IMG_BAD : rc;
    }
    /* Read from the device, not from the page cache we wrote through. */
    (void)posix_fadvise(img.t.fd, 0, 0, POSIX_FADV_DONTNEED);
    if (img.sb.state != KHIB_STATE_COMMITTED || memcmp(img.sb.uuid, uuid, 16) != 0) {
        snprintf(err, errlen, "%s does not hold the image just committed (state %s)", path,
                 khib_state_name(img.sb.state));
        rc = KHIB_IMG_BAD;
    } else {
        rc = khib_image_load_index(&img, err, errlen);
    }
    if (rc == KHIB_IMG_OK) {
        struct compare_ctx cc = {.src = src};
        rc = khib_image_verify(&img, compare_chunk, &cc, prog, err, errlen);
    }
    khib_image_close(&img);
    return rc;
}
