/* (c) A whole image, as khib-restore reads it: the input is written to a
 * memfd which is opened by path (khib_image_open), shown (--info), and when
 * COMMITTED or CONSUMED its index is loaded (khib_image_load_index), checked
 * against the restorer's preflight (window, jump-back entry, mailbox) and
 * every chunk read, expanded and checked (the chunk walker's check action:
 * --verify).
 *
 * Each input is tried as it is and, so that mutations get past the
 * checksums, once more with the index checksum (when the superblock's index
 * lies inside the input) and the superblock checksum fixed.  Chunk checksums
 * are not fixed: the fuzzer reaches later chunks by leaving earlier ones
 * intact. */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../restorer/checks.h"
#include "../../restorer/info.h"
#include "image.h"
#include "le.h"
#include "reader.h"
#include "walk.h"
#include "xxhash64.h"

static int memfd = -1;

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

/* The block reader as the walker drives it: every block holds the chunks'
 * frames as the bytes at their offsets. */
static void blocks(const struct khib_image *img, const uint8_t *data, size_t size)
{
    struct reader r;
    struct reader_block b;
    char err[400];
    if (reader_block_alloc(&b) != 0)
        return;
    if (reader_init(&r, img, err, sizeof err) == 0) {
        for (uint32_t a = 0; a < img->idx.chunk_count; a = b.b) {
            if (reader_fill(&r, &b, a, err, sizeof err) != 0)
                break;
            khib_fuzz_assert(b.b > a && b.b <= img->idx.chunk_count);
            for (uint32_t i = a; i < b.b; i++) {
                const struct khib_chunk *c = &img->idx.chunks[i];
                const uint8_t *f = reader_frame(&b, c);
                khib_fuzz_assert((f != NULL) == (c->stored_len != 0));
                if (f)
                    khib_fuzz_assert(c->offset + c->stored_len <= size &&
                                     memcmp(f, data + c->offset, c->stored_len) == 0);
            }
        }
        (void)reader_finish(&r, err, sizeof err);
    }
    free(b.buf);
}

static void one(const uint8_t *data, size_t size)
{
    char path[64], err[600];
    if (khib_fuzz_memfd(&memfd, data, size, path, sizeof path) != 0)
        return;
    FILE *info = devnull();   /* opened once, before the descriptors are counted */
    int fd0 = khib_fuzz_lowest_fd();
    struct khib_image img;
    err[0] = 0;
    int rc = khib_image_open(&img, path, KHIB_OPEN_READ, err, sizeof err);
    if (rc != KHIB_IMG_OK) {
        khib_fuzz_assert(rc == KHIB_IMG_NONE || rc == KHIB_IMG_BAD || rc == KHIB_IMG_IO);
        khib_fuzz_assert(err[0] != 0);
        goto out;
    }
    khib_fuzz_assert(img.t.size == size);
    if (info)
        print_info(info, &img);
    if (img.sb.state != KHIB_STATE_COMMITTED && img.sb.state != KHIB_STATE_CONSUMED)
        goto out;
    err[0] = 0;
    rc = khib_image_load_index(&img, err, sizeof err);
    if (rc != KHIB_IMG_OK) {
        khib_fuzz_assert(err[0] != 0);
        khib_fuzz_assert(img.idx.ranges == NULL && img.idx.chunks == NULL);
        goto out;
    }
    khib_fuzz_assert(img.idx.range_count >= 1 && img.idx.chunk_count >= img.idx.range_count);
    /* What the restorer only finds out after writing memory must be known
     * before: the mailbox it posts to is a page. */
    khib_fuzz_assert(img.sb.mailbox_addr % KHIB_PAGE_SIZE == 0);
    if (check_window(&img, err, sizeof err) == 0) {
        /* No byte of a range lies in the window (exact, in 128 bits). */
        unsigned __int128 ws = img.sb.window_start, we = ws + img.sb.window_size;
        for (uint32_t i = 0; i < img.idx.range_count; i++) {
            unsigned __int128 rs = (unsigned __int128)img.idx.ranges[i].start_pfn * KHIB_PAGE_SIZE;
            unsigned __int128 re = rs + (unsigned __int128)img.idx.ranges[i].pages * KHIB_PAGE_SIZE;
            khib_fuzz_assert(!(rs < we && re > ws) || img.sb.window_size == 0);
        }
    }
    (void)check_in_ranges(&img, img.sb.jump_back_entry, "jump-back entry", err, sizeof err);
    (void)check_in_ranges(&img, img.sb.mailbox_addr, "mailbox", err, sizeof err);
    err[0] = 0;
    rc = khib_walk(&img, KHIB_WALK_CHECK, NULL, 1, NULL, NULL, err, sizeof err);
    khib_fuzz_assert(rc == KHIB_IMG_OK || (rc == KHIB_IMG_BAD || rc == KHIB_IMG_IO));
    if (rc != KHIB_IMG_OK)
        khib_fuzz_assert(err[0] != 0);
    blocks(&img, data, size);
out:
    khib_image_close(&img);
    khib_fuzz_assert(khib_fuzz_lowest_fd() == fd0);
}

int khib_fuzz_image(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size < KHIB_SB_SIZE)
        return 0;
    uint8_t *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    uint64_t ioff = khib_get64(buf + 216), ilen = khib_get64(buf + 224);
    if (ioff <= size && ilen <= size - ioff)
        khib_put64(buf + 232, khib_hash64(buf + ioff, ilen, 0));
    khib_put64(buf + KHIB_SB_SIZE - 8, khib_hash64(buf, KHIB_SB_SIZE - 8, 0));
    if (memcmp(buf, data, KHIB_SB_SIZE) != 0)
        one(buf, size);
    free(buf);
    return 0;
}
