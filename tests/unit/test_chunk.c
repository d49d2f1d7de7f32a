/* Chunks: planning, compression with zero pages, expansion, damage; physical
 * memory windows over core files and memory files. */
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <zstd.h>

#include "chunk_codec.h"
#include "image_codec.h"
#include "physmem.h"

static void test_plan(void)
{
    struct khib_range r[3] = {{0x100, 600}, {0x1000, 256}, {0x2000, 1}};
    struct khib_chunk *c;
    uint32_t n;
    char err[300] = "";
    CHECK(khib_plan_chunks(r, 3, 256, &c, &n, err, sizeof err) == 0, "plan: %s", err);
    CHECK(n == 5 && khib_plan_count(r, 3, 256) == 5, "5 chunks (got %u)", n);
    CHECK(c[0].first_pfn == 0x100 && c[0].pages == 256 && c[1].first_pfn == 0x200 && c[2].first_pfn == 0x300 &&
              c[2].pages == 88 && c[3].first_pfn == 0x1000 && c[3].pages == 256 && c[4].first_pfn == 0x2000 &&
              c[4].pages == 1, "chunks never cross a range");
    free(c);
    CHECK_ERR(khib_plan_chunks(r, 3, 300, &c, &n, err, sizeof err) != 0, err, "out of range");
}

static void test_codec(void)
{
    char err[300] = "";
    struct khib_coder cd;
    struct khib_decoder dd;
    CHECK(khib_coder_init(&cd, 1, err, sizeof err) == 0 && khib_decoder_init(&dd, err, sizeof err) == 0, "init");
    CHECK_ERR(khib_coder_init(&(struct khib_coder){0}, 23, err, sizeof err) != 0, err, "level 23");
    CHECK_ERR(khib_coder_init(&(struct khib_coder){0}, KHIB_LEVEL_STORE + 1, err, sizeof err) != 0, err,
              "level 1002");
    uint8_t *pages = aligned_alloc(4096, 256 * 4096), *frame = malloc(khib_frame_bound()),
            *raw = malloc(256 * 4096), *out = malloc(256 * 4096);
    memset(pages, 0, 256 * 4096);
    uint64_t s = 12345;
    for (int p = 0; p < 256; p++) {
        if (p % 3 == 0)
            continue; /* zero */
        for (int i = 0; i < 4096; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            pages[p * 4096 + i] = p % 3 == 1 ? (uint8_t)s : (uint8_t)('a' + i % 26);
        }
    }
    pages[255 * 4096 + 4095] = 1; /* page 255 (a multiple of 3) is not zero: its last byte */
    CHECK(khib_page_is_zero(pages) && !khib_page_is_zero(pages + 255 * 4096), "zero page detection");

    struct khib_chunk c = {.first_pfn = 0x500, .pages = 256};
    CHECK(khib_chunk_compress(&cd, pages, &c, frame, khib_frame_bound(), 0, err, sizeof err) == 0, "compress: %s", err);
    uint32_t zeros = khib_bitmap_count(c.zero_bitmap, 256);
    CHECK(zeros == 85 && c.raw_len == (256 - 85) * 4096 && c.stored_len > 0 && c.stored_len < c.raw_len,
          "zero pages elided (%u zero, raw %u, stored %u)", zeros, c.raw_len, c.stored_len);
    CHECK(khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err) == 0, "expand: %s", err);
    /* Scatter back and compare. */
    memset(out, 0x55, 256 * 4096);
    const uint8_t *q = raw;
    for (int p = 0; p < 256; p++) {
        if (khib_bitmap_test(c.zero_bitmap, (uint32_t)p)) {
            memset(out + p * 4096, 0, 4096);
        } else {
            memcpy(out + p * 4096, q, 4096);
            q += 4096;
        }
    }
    CHECK(memcmp(out, pages, 256 * 4096) == 0, "round trip identical");

    /* In place (a buffer the coder may reorder): the same chunk and frame. */
    uint8_t *copy = malloc(256 * 4096), *frame2 = malloc(khib_frame_bound());
    memcpy(copy, pages, 256 * 4096);
    struct khib_chunk c2 = {.first_pfn = 0x500, .pages = 256};
    CHECK(khib_chunk_compress_in_place(&cd, copy, &c2, frame2, khib_frame_bound(), 0, err, sizeof err) == 0 &&
              c2.stored_len == c.stored_len && c2.raw_len == c.raw_len && c2.checksum == c.checksum &&
              memcmp(c2.zero_bitmap, c.zero_bitmap, sizeof c.zero_bitmap) == 0 &&
              memcmp(frame2, frame, c.stored_len) == 0,
          "in-place compression gives the same chunk: %s", err);
    free(copy);
    free(frame2);

    frame[c.stored_len / 2] ^= 0x40;
    int rc = khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err);
    CHECK(rc != 0 && (strstr(err, "checksum mismatch") || strstr(err, "cannot decompress")), "damage found: %s",
          err);
    frame[c.stored_len / 2] ^= 0x40;
    c.checksum ^= 1;
    CHECK_ERR(khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err) != 0, err, "checksum mismatch");
    c.checksum ^= 1;
    c.raw_len -= 4096;
    CHECK(khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err) != 0, "wrong raw_len found: %s", err);

    struct khib_chunk z = {.first_pfn = 0, .pages = 7};
    memset(pages, 0, 7 * 4096);
    CHECK(khib_chunk_compress(&cd, pages, &z, frame, khib_frame_bound(), 0, err, sizeof err) == 0 &&
              z.stored_len == 0 && z.raw_len == 0 && khib_bitmap_count(z.zero_bitmap, 7) == 7,
          "all-zero chunk stores nothing");
    CHECK(khib_chunk_expand(&dd, &z, NULL, NULL, err, sizeof err) == 0, "all-zero chunk checks: %s", err);
    char name[80];
    khib_chunk_name(17, &c, name, sizeof name);
    CHECK(strcmp(name, "chunk 17 (pfn 0x500-0x5ff)") == 0, "chunk name: %s", name);
    khib_coder_free(&cd);
    khib_decoder_free(&dd);
    free(pages);
    free(frame);
    free(raw);
    free(out);
}

/* Stored frames (level auto): zstd raw blocks that any zstd decoder reads. */
static void test_stored(void)
{
    char err[300] = "";
    struct khib_coder cd;
    struct khib_decoder dd;
    CHECK(khib_coder_init(&cd, KHIB_LEVEL_AUTO, err, sizeof err) == 0 && khib_decoder_init(&dd, err, sizeof err) == 0,
          "auto: init: %s", err);
    uint8_t *pages = malloc(256 * 4096), *frame = malloc(khib_frame_bound()), *raw = malloc(256 * 4096);
    uint64_t s = 99;
    for (size_t i = 0; i < 256 * 4096; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        pages[i] = (uint8_t)('a' + s % 4);
    }
    /* 1 page, 32 (one full block), 33 (a block and a page), 256 with two zero pages. */
    static const uint32_t counts[] = {1, 32, 33, 256};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        uint32_t n = counts[k];
        if (n == 256) {
            memset(pages, 0, 4096);
            memset(pages + 100 * 4096, 0, 4096);
        }
        struct khib_chunk c = {.first_pfn = 0x100, .pages = n};
        CHECK(khib_chunk_compress(&cd, pages, &c, frame, khib_frame_bound(), 1, err, sizeof err) == 0,
              "store %u pages: %s", n, err);
        uint32_t raw_len = (n == 256 ? n - 2 : n) * 4096;
        CHECK(c.flags == KHIB_CHUNK_STORED && c.raw_len == raw_len && c.stored_len == khib_stored_frame_len(raw_len),
              "%u pages: flags %u, raw %u, stored %u", n, c.flags, c.raw_len, c.stored_len);
        CHECK(ZSTD_getFrameContentSize(frame, c.stored_len) == raw_len &&
                  ZSTD_findFrameCompressedSize(frame, c.stored_len) == c.stored_len,
              "%u pages: a zstd frame of %u bytes holding %u", n, c.stored_len, raw_len);
        memset(raw, 0, 256 * 4096);
        CHECK(khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err) == 0, "%u pages: expand: %s", n, err);
        const uint8_t *want = n == 256 ? pages + 4096 : pages;
        CHECK(memcmp(raw, want, n == 256 ? 99 * 4096 : raw_len) == 0 &&
                  (n != 256 || memcmp(raw + 99 * 4096, pages + 101 * 4096, 155 * 4096) == 0),
              "%u pages: the stored bytes come back", n);
        frame[c.stored_len - 1] ^= 1;
        CHECK_ERR(khib_chunk_expand(&dd, &c, frame, raw, err, sizeof err) != 0, err, "checksum mismatch");
    }
    /* Without store, the auto coder compresses at level 1. */
    struct khib_chunk c = {.first_pfn = 0, .pages = 64};
    CHECK(khib_chunk_compress(&cd, pages + 4096, &c, frame, khib_frame_bound(), 0, err, sizeof err) == 0 &&
              c.flags == 0 && c.stored_len < c.raw_len / 2,
          "auto without store compresses (%u of %u)", c.stored_len, c.raw_len);
    int l = 0;
    char name[16];
    CHECK(khib_level_parse("auto", &l) == 0 && l == KHIB_LEVEL_AUTO, "parse auto");
    CHECK(khib_level_parse("store", &l) == 0 && l == KHIB_LEVEL_STORE, "parse store");
    khib_level_format(KHIB_LEVEL_STORE, name, sizeof name);
    CHECK(strcmp(name, "store") == 0, "format store: %s", name);
    CHECK(khib_coder_init(&(struct khib_coder){0}, KHIB_LEVEL_STORE, err, sizeof err) == 0, "store: init: %s", err);
    CHECK(khib_level_parse("-3", &l) == 0 && l == -3, "parse -3");
    CHECK(khib_level_parse("0", &l) != 0 && khib_level_parse("1x", &l) != 0 && khib_level_parse("", &l) != 0 &&
              khib_level_parse("Auto", &l) != 0,
          "bad levels refused");
    /* Level auto's fraction: nothing stored while 2 workers compressing at
     * 400 MB/s (2.5:1) keep up with a 300 MB/s disk (320 MB/s of output
     * needed), some at 1000 MB/s, at most 15/16 with a disk far faster. */
    CHECK(khib_store_fraction(2, 400e6, 8e9, 0.4, 300e6) == 0, "disk-bound: nothing stored");
    double f = khib_store_fraction(2, 400e6, 8e9, 0.4, 1000e6);
    /* balance: (1-s)/(2*400) + s/(2*8000) = (1-s)*0.4/1000 + s/1000 (per MB) */
    double lhs = (1 - f) / 800e6 + f / 16e9, rhs = (1 - f) * 0.4 / 1000e6 + f / 1000e6;
    CHECK(f > 0.1 && f < 0.9 && lhs / rhs > 0.999 && lhs / rhs < 1.001, "balanced fraction %.3f (%.3g s, %.3g s)",
          f, lhs, rhs);
    CHECK(khib_store_fraction(2, 50e6, 8e9, 0.4, 1e10) == 15.0 / 16, "CPU-bound: at most 15/16");
    CHECK(khib_store_fraction(1, 50e6, 8e9, 1.0, 1e10) == 15.0 / 16 && khib_store_fraction(1, 50e6, 8e9, 1.0, 40e6) == 0,
          "incompressible: stored where the CPU is the limit only");
    CHECK(khib_store_fraction(2, 0, 8e9, 0.4, 1e9) == 0 && khib_store_fraction(2, 400e6, 8e9, 0.4, 0) == 0,
          "no measures yet: nothing stored");
    khib_level_format(KHIB_LEVEL_AUTO, name, sizeof name);
    CHECK(strcmp(name, "auto") == 0, "format auto: %s", name);
    khib_level_format(-5, name, sizeof name);
    CHECK(strcmp(name, "-5") == 0, "format -5: %s", name);
    khib_coder_free(&cd);
    khib_decoder_free(&dd);
    free(pages);
    free(frame);
    free(raw);
}

static void test_physmem(void)
{
    char path[] = "/tmp/khib-physmem.XXXXXX";
    int fd = mkstemp(path);
    char err[300] = "";
    /* A "core": segment 0 = 3 pages at paddr 0x10000 from file offset 4096,
     * the last page past p_filesz; segment 1 = 2 pages at 0x40000 from 16384. */
    uint8_t buf[6 * 4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i / 4096 + 1);
    CHECK(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "write");
    struct khib_segment seg[2] = {{0x10000, 3 * 4096, 4096, 2 * 4096}, {0x40000, 2 * 4096, 16384, 2 * 4096}};
    struct khib_physmem pm;
    CHECK(khib_physmem_open(&pm, fd, path, seg, 2, 0, 8192, err, sizeof err) == 0, "open: %s", err);
    uint8_t *p = khib_physmem_map(&pm, 0x10000, 4096, err, sizeof err);
    CHECK(p && p[0] == 2 && p[4095] == 2, "offset = p_offset + (paddr - p_paddr)");
    p = khib_physmem_map(&pm, 0x11000, 2 * 4096, err, sizeof err);
    CHECK(p && p[0] == 3 && p[4096] == 0 && p[8191] == 0, "past p_filesz reads zero");
    p = khib_physmem_map(&pm, 0x12000, 4096, err, sizeof err);
    CHECK(p && p[0] == 0, "wholly past p_filesz");
    p = khib_physmem_map(&pm, 0x41000, 4096, err, sizeof err);
    CHECK(p && p[0] == 6, "second segment");
    p = khib_physmem_map(&pm, 0x40000, 4096, err, sizeof err);
    CHECK(p && p[0] == 5, "going back");
    CHECK(!khib_physmem_map(&pm, 0x12000, 2 * 4096, err, sizeof err) && strstr(err, "not inside one memory segment"),
          "request past a segment: %s", err);
    CHECK(!khib_physmem_map(&pm, 0x20000, 4096, err, sizeof err), "hole refused");
    khib_physmem_close(&pm);
    CHECK_ERR(khib_physmem_open(&pm, fd, path, seg, 2, 1, 8192, err, sizeof err) != 0, err, "cannot write it");

    /* A memory file, written through identity segments. */
    struct khib_range r[1] = {{4, 4}};
    struct khib_segment *id = khib_segments_identity(r, 1);
    CHECK(id && id[0].paddr == 16384 && id[0].offset == 16384 && id[0].filesz == 16384, "identity segments");
    CHECK(ftruncate(fd, 8 * 4096) == 0, "truncate");
    CHECK(khib_physmem_open(&pm, fd, path, id, 1, 1, 4096, err, sizeof err) == 0, "open rw: %s", err);
    for (int i = 0; i < 4; i++) {
        p = khib_physmem_map(&pm, 16384 + 4096 * (uint64_t)i, 4096, err, sizeof err);
        if (p)
            memset(p, 0xc0 + i, 4096);
    }
    khib_physmem_close(&pm);
    uint8_t back[8 * 4096];
    CHECK(pread(fd, back, sizeof back, 0) == (ssize_t)sizeof back && back[16384] == 0xc0 && back[32767] == 0xc3 &&
              back[16383] == 4, "written at offset = paddr");
    free(id);
    close(fd);
    unlink(path);
}

/* A nonzero byte anywhere in a page is seen; only an all-zero page is zero. */
static void test_zero_page(void)
{
    uint8_t *page = aligned_alloc(4096, 4096);
    memset(page, 0, 4096);
    CHECK(khib_page_is_zero(page), "zero page");
    int missed = 0;
    for (int i = 0; i < 4096; i++) {
        page[i] = (uint8_t)(1u << (i % 8));
        missed += khib_page_is_zero(page);
        page[i] = 0;
    }
    CHECK(missed == 0, "a nonzero byte at any offset makes a page nonzero (%d missed)", missed);
    free(page);
}

/* khib_coder_mem() bounds what a coder allocates, at every kind of level. */
static void test_coder_mem(void)
{
    static const int levels[] = {-5, -1, 1, 2, 3, 9, 19};
    uint8_t *pages = malloc(256 * 4096), *frame = malloc(khib_frame_bound());
    uint64_t s = 99;
    for (size_t i = 0; i < 256 * 4096; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        pages[i] = (i / 4096) % 2 ? (uint8_t)s : (uint8_t)('a' + (s % 7));
    }
    for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
        struct khib_coder cd;
        char err[300] = "";
        CHECK(khib_coder_init(&cd, levels[k], err, sizeof err) == 0, "level %d: %s", levels[k], err);
        struct khib_chunk c = {.first_pfn = 0, .pages = 256};
        CHECK(khib_chunk_compress(&cd, pages, &c, frame, khib_frame_bound(), 0, err, sizeof err) == 0, "compress: %s",
              err);
        size_t used = ZSTD_sizeof_CCtx(cd.cctx) + KHIB_CHUNK_RAW_MAX;
        CHECK(used <= khib_coder_mem(levels[k]), "level %d: coder uses %zu bytes, estimate %zu", levels[k], used,
              khib_coder_mem(levels[k]));
        khib_coder_free(&cd);
    }
    struct khib_decoder dd;
    char err[300] = "";
    CHECK(khib_decoder_init(&dd, err, sizeof err) == 0, "decoder");
    CHECK(ZSTD_sizeof_DCtx(dd.dctx) <= khib_decoder_mem(), "decoder uses %zu bytes, estimate %zu",
          ZSTD_sizeof_DCtx(dd.dctx), khib_decoder_mem());
    khib_decoder_free(&dd);
    free(pages);
    free(frame);
}

int main(void)
{
    test_plan();
    test_codec();
    test_stored();
    test_zero_page();
    test_coder_mem();
    test_physmem();
    return t_done();
}
