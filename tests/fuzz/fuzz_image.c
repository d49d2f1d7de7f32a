/* (c) A whole image, as khib-restore reads it: the input is written to a
 * memfd which is opened by path (khib_image_open), shown (--info), and when
 * COMMITTED or CONSUMED its index is loaded (khib_image_load_index), checked
 * against the restorer's preflight (window, jump-back entry, mailbox) and
 * every chunk read, expanded and checked (khib_image_verify: --verify).
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
#include "xxhash64.h"

static int memfd = -1;

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

struct walk {
    uint32_t next;
    uint64_t data_end;
};

static int on_chunk(void *ctx, uint32_t index, const struct khib_chunk *c, const uint8_t *raw, char *err,
                    size_t errlen)
{
    struct walk *w = ctx;
    (void)err;
    (void)errlen;
    khib_fuzz_assert(index == w->next);
    w->next++;
    khib_fuzz_assert(c->raw_len <= KHIB_CHUNK_RAW_MAX);
    khib_fuzz_assert(c->offset <= w->data_end && c->stored_len <= w->data_end - c->offset);
    khib_fuzz_assert(khib_hash64(raw, c->raw_len, 0) == c->checksum);
    return 0;
}

/* The frame reader as the restorer drives it (frames in order), with a
 * buffer of a few pages instead of KHIB_READ_BUFFER so that the input's
 * frames refill it: every frame that fits must come back as the bytes at
 * its offset, every other one be refused. */
static void small_reader(const struct khib_image *img, const uint8_t *data, size_t size)
{
    struct khib_frame_reader rd;
    char err[400];
    if (khib_frame_reader_init(&rd, img, err, sizeof err) != 0)
        return;
    rd.cap = KHIB_PAGE_SIZE + size % (3 * KHIB_PAGE_SIZE);
    for (uint32_t i = 0; i < img->idx.chunk_count; i++) {
        const struct khib_chunk *c = &img->idx.chunks[i];
        if (!c->stored_len)
            continue;
        const uint8_t *f = khib_frame_get(&rd, c->offset, c->stored_len, err, sizeof err);
        khib_fuzz_assert((f != NULL) == (c->stored_len <= rd.cap));
        if (f)
            khib_fuzz_assert(c->offset + c->stored_len <= size &&
                             memcmp(f, data + c->offset, c->stored_len) == 0);
    }
    khib_frame_reader_free(&rd);
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
    struct walk w = {0, img.sb.data_offset + img.sb.data_bytes};
    err[0] = 0;
    rc = khib_image_verify(&img, on_chunk, &w, NULL, err, sizeof err);
    if (rc == KHIB_IMG_OK)
        khib_fuzz_assert(w.next == img.idx.chunk_count);
    else
        khib_fuzz_assert(err[0] != 0);
    small_reader(&img, data, size);
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
