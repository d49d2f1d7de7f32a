/* The save and restore paths below the programs' main, linked from their
 * archives: the physical-memory layer (lib/physmem.c), the compression
 * pipeline (saver/save.c) into the writer, the commit protocol
 * (saver/commit.c), the block reader (lib/reader.c), the chunk walker's
 * three actions (lib/walk.c) and the way back's mailbox report
 * (lib/jump_back.c), on memory files in a temporary directory. */
#include "t.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../saver/commit.h"
#include "../../saver/exclude.h"
#include "../../saver/save.h"
#include "chunk_codec.h"
#include "image.h"
#include "jump_back.h"
#include "physmem.h"
#include "poison.h"
#include "reader.h"
#include "walk.h"

#define MIB (1u << 20)

static char dir[] = "/tmp/khib-pipeline-XXXXXX";
static char mem_path[300], img_path[300], out_path[300];

/* Two ranges: [1 MiB, 5 MiB) and [8 MiB, 8 MiB + 3 pages), a mix of zero,
 * repeating and random pages. */
static const struct khib_range ranges[2] = {{256, 1024}, {2048, 3}};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int make_memory(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 9 * MIB) != 0)
        return -1;
    uint8_t page[KHIB_PAGE_SIZE];
    uint64_t seed = 42;
    for (uint32_t r = 0; r < 2; r++) {
        for (uint64_t p = 0; p < ranges[r].pages; p++) {
            uint64_t pfn = ranges[r].start_pfn + p;
            if (pfn % 3 == 0)
                continue;  /* zero */
            for (size_t i = 0; i < sizeof page; i += 8) {
                uint64_t v = pfn % 3 == 1 ? pfn : rnd(&seed);
                memcpy(page + i, &v, 8);
            }
            if (pwrite(fd, page, sizeof page, (off_t)(pfn << KHIB_PAGE_SHIFT)) != (ssize_t)sizeof page)
                return -1;
        }
    }
    return fd;
}

struct saved {
    struct khib_superblock sb;
    struct khib_chunk *chunks;
    uint32_t n;
};

/* The pages test_excluded leaves out as if free: every pfn % 5 == 4, and
 * all of range 1 (a chunk of excluded pages only). */
static int excluded_pfn(uint64_t pfn)
{
    return pfn % 5 == 4 || pfn >= ranges[1].start_pfn;
}

/* The whole save path: plan (with exclude, the pages of excluded_pfn
 * marked excluded), commit_begin, save_chunks, commit_index,
 * commit_finish. */
static int save_image_x(struct khib_physmem *src, int by_mmap, unsigned threads, int level, int exclude,
                        struct saved *sv)
{
    char err[600];
    memset(sv, 0, sizeof *sv);
    unlink(img_path);   /* a missing file grows to the image's size */
    struct khib_superblock *sb = &sv->sb;
    memcpy(sb->magic, KHIB_MAGIC, 8);
    sb->version = KHIB_VERSION;
    sb->sb_size = KHIB_SB_SIZE;
    sb->page_size = KHIB_PAGE_SIZE;
    sb->state = KHIB_STATE_WRITING;
    sb->chunk_pages = 256;
    sb->compression = KHIB_COMP_ZSTD;
    sb->level = level;
    sb->range_count = 2;
    sb->pages_total = ranges[0].pages + ranges[1].pages;
    sb->data_offset = KHIB_SB_SIZE;
    sb->created_ns = 1000000000;
    memset(sb->uuid, 0x5a, 16);
    CHECK(khib_plan_chunks(ranges, 2, 256, &sv->chunks, &sv->n, err, sizeof err) == 0, "plan: %s", err);
    sb->chunk_count = sv->n;
    for (uint32_t i = 0; exclude && i < sv->n; i++)
        for (uint32_t p = 0; p < sv->chunks[i].pages; p++)
            if (excluded_pfn(sv->chunks[i].first_pfn + p))
                khib_bitmap_set(sv->chunks[i].excluded_bitmap, p);
    uint64_t index_bytes = khib_index_size(2, sv->n);
    struct commit cm;
    int rc = commit_begin(&cm, img_path, sb, index_bytes, err, sizeof err);
    CHECK(rc == 0, "commit_begin: %s", err);
    struct writer w = {0};
    if (rc == 0)
        rc = writer_init(&w, cm.t.fd, img_path, KHIB_SB_SIZE, commit_data_limit(&cm), err, sizeof err);
    struct save_input in = {.src = src, .by_mmap = by_mmap};
    struct save_totals tot;
    if (rc == 0) {
        struct khib_progress prog;
        khib_progress_start(&prog, "test", sb->pages_total * KHIB_PAGE_SIZE, 1);
        rc = save_chunks(&in, threads, level, sv->chunks, sv->n, &w, &prog, &tot, err, sizeof err);
        CHECK(rc == 0, "save_chunks: %s", err);
    }
    int overflow = w.overflow;
    writer_free(&w);
    if (rc == 0) {
        CHECK(tot.pages_zero + tot.pages_stored + tot.pages_excluded == sb->pages_total, "every page counted");
        sb->pages_zero = tot.pages_zero;
        sb->pages_excluded = tot.pages_excluded;
        sb->pages_stored = tot.pages_stored;
        sb->data_bytes = tot.data_bytes;
        struct khib_index idx = {2, sv->n, (struct khib_range *)ranges, sv->chunks};
        rc = commit_index(&cm, sb, &idx, overflow, err, sizeof err);
        CHECK(rc == 0, "commit_index: %s", err);
    }
    if (rc == 0) {
        rc = commit_finish(&cm, sb, err, sizeof err);
        CHECK(rc == 0 && sb->state == KHIB_STATE_COMMITTED, "commit_finish: %s", err);
    }
    commit_close(&cm);
    return rc;
}

static int save_image(struct khib_physmem *src, int by_mmap, unsigned threads, int level, struct saved *sv)
{
    return save_image_x(src, by_mmap, threads, level, 0, sv);
}

static int open_image(struct khib_image *img)
{
    char err[600];
    int rc = khib_image_open(img, img_path, KHIB_OPEN_WRITE, err, sizeof err);
    if (rc == KHIB_IMG_OK)
        rc = khib_image_load_index(img, err, sizeof err);
    CHECK(rc == KHIB_IMG_OK, "open and index: %s", err);
    return rc;
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Every action of the walker over the image just saved from src. */
static void walk_all(struct khib_physmem *src, const char *what)
{
    struct khib_image img;
    char err[600];
    if (open_image(&img) != KHIB_IMG_OK)
        return;
    CHECK(khib_walk(&img, KHIB_WALK_CHECK, NULL, 3, NULL, NULL, err, sizeof err) == KHIB_IMG_OK,
          "%s: check: %s", what, err);
    struct khib_walk_memory cmp = {.fd = src->fd, .name = src->name, .by_mmap = 1, .seg = src->seg,
                                   .nseg = src->nseg};
    CHECK(khib_walk(&img, KHIB_WALK_COMPARE, &cmp, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_OK,
          "%s: compare: %s", what, err);
    for (int by_mmap = 0; by_mmap <= 1; by_mmap++) {
        int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0 && ftruncate(fd, 9 * MIB) == 0, "memory file");
        struct khib_segment *seg = khib_segments_identity(ranges, 2);
        struct khib_walk_memory dst = {.fd = fd, .name = out_path, .by_mmap = by_mmap, .seg = seg, .nseg = 2,
                                       .zero_from = by_mmap ? UINT64_MAX : 9 * MIB};
        int direct = -1;
        CHECK(khib_walk(&img, KHIB_WALK_WRITE, &dst, 2, NULL, &direct, err, sizeof err) == KHIB_IMG_OK &&
                  direct != -1, "%s: write (%s): %s", what, by_mmap ? "mmap" : "pwrite", err);
        close(fd);
        free(seg);
        CHECK(files_equal(mem_path, out_path), "%s: the memory written (%s) is the memory saved", what,
              by_mmap ? "mmap" : "pwrite");
    }
    CHECK(khib_walk_buffers(2, KHIB_WALK_CHECK, NULL) ==
              (size_t)reader_blocks(2) * READER_BLOCK + 2 * (KHIB_CHUNK_RAW_MAX + khib_decoder_mem()),
          "buffers of a check");
    khib_image_close(&img);
}

static void test_round_trips(int memfd)
{
    struct khib_segment *seg = khib_segments_identity(ranges, 2);
    struct khib_physmem src;
    char err[600];
    CHECK(khib_physmem_open(&src, memfd, mem_path, seg, 2, 0, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0,
          "physmem open: %s", err);
    static const struct { int by_mmap; unsigned threads; int level; const char *what; } cases[] = {
        {0, 1, 1, "read, 1 thread, level 1"},
        {1, 2, 3, "mapped, 2 threads, level 3"},
        {0, 3, KHIB_LEVEL_STORE, "read, 3 threads, store"},
        {1, 2, KHIB_LEVEL_AUTO, "mapped, 2 threads, auto"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct saved sv;
        if (save_image(&src, cases[i].by_mmap, cases[i].threads, cases[i].level, &sv) == 0)
            walk_all(&src, cases[i].what);
        if (cases[i].level == KHIB_LEVEL_STORE) {
            uint32_t stored = 0, data = 0;
            for (uint32_t c = 0; c < sv.n; c++) {
                stored += (sv.chunks[c].flags & KHIB_CHUNK_STORED) != 0;
                data += sv.chunks[c].raw_len != 0;
            }
            CHECK(stored == data && data > 0, "store: every chunk with data stored uncompressed (%u of %u)",
                  stored, data);
        }
        free(sv.chunks);
    }

    /* One page changed after the save: compare names it, check does not care. */
    struct saved sv;
    if (save_image(&src, 1, 2, 1, &sv) == 0) {
        uint8_t b = 0xee;
        CHECK(pwrite(memfd, &b, 1, (off_t)((257ull << KHIB_PAGE_SHIFT) + 5)) == 1, "change a byte");
        struct khib_image img;
        if (open_image(&img) == KHIB_IMG_OK) {
            struct khib_walk_memory cmp = {.fd = memfd, .name = mem_path, .by_mmap = 1, .seg = seg, .nseg = 2};
            CHECK_ERR(khib_walk(&img, KHIB_WALK_COMPARE, &cmp, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_BAD,
                      err, "page 0x101 in the image differs from memory");
            CHECK(khib_walk(&img, KHIB_WALK_CHECK, NULL, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_OK,
                  "check ignores memory: %s", err);
            khib_image_close(&img);
        }
        free(sv.chunks);
    }
    khib_physmem_close(&src);
    free(seg);
}

/* Pages 0xee in the file at path, poison, or as in the memory saved. */
static void count_pages(const char *path, int memfd, uint64_t *as_saved, uint64_t *untouched, uint64_t *poison,
                        uint64_t *wrong)
{
    int fd = open(path, O_RDONLY);
    uint8_t a[KHIB_PAGE_SIZE], b[KHIB_PAGE_SIZE], ee[KHIB_PAGE_SIZE];
    memset(ee, 0xee, sizeof ee);
    *as_saved = *untouched = *poison = *wrong = 0;
    for (uint32_t r = 0; r < 2; r++)
        for (uint64_t pfn = ranges[r].start_pfn; pfn < ranges[r].start_pfn + ranges[r].pages; pfn++) {
            off_t off = (off_t)(pfn << KHIB_PAGE_SHIFT);
            if (pread(fd, a, sizeof a, off) != (ssize_t)sizeof a || pread(memfd, b, sizeof b, off) != (ssize_t)sizeof b) {
                (*wrong)++;
                continue;
            }
            int x = excluded_pfn(pfn);
            if (x && !memcmp(a, ee, sizeof a))
                (*untouched)++;
            else if (x && khib_page_is_poison(a, pfn))
                (*poison)++;
            else if (!x && !memcmp(a, b, sizeof a))
                (*as_saved)++;
            else
                (*wrong)++;
        }
    close(fd);
}

/* Excluded pages: counted, not stored, never written or compared by the
 * walker, poisoned on request. */
static void test_excluded(int memfd)
{
    struct khib_segment *seg = khib_segments_identity(ranges, 2);
    struct khib_physmem src;
    char err[600];
    CHECK(khib_physmem_open(&src, memfd, mem_path, seg, 2, 0, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0,
          "physmem open: %s", err);
    uint64_t want = 0, total = ranges[0].pages + ranges[1].pages;
    for (uint32_t r = 0; r < 2; r++)
        for (uint64_t p = 0; p < ranges[r].pages; p++)
            want += (uint64_t)excluded_pfn(ranges[r].start_pfn + p);
    for (int by_mmap = 0; by_mmap <= 1; by_mmap++) {
        struct saved sv, full;
        if (save_image(&src, 1, 2, 1, &full) != 0)
            break;
        free(full.chunks);
        struct stat st;
        off_t full_size = stat(img_path, &st) == 0 ? st.st_size : 0;
        if (save_image_x(&src, by_mmap, 2, 1, 1, &sv) != 0)
            break;
        CHECK(sv.sb.pages_excluded == want && sv.sb.pages_zero + sv.sb.pages_stored + want == total &&
                  stat(img_path, &st) == 0 && st.st_size < full_size,
              "%s: %" PRIu64 " pages excluded of %" PRIu64 " (want %" PRIu64 "), image %lld bytes, %lld without",
              by_mmap ? "mapped" : "read", sv.sb.pages_excluded, total, want, (long long)st.st_size,
              (long long)full_size);
        uint32_t last = sv.n - 1;
        CHECK(sv.chunks[last].raw_len == 0 && sv.chunks[last].stored_len == 0,
              "a chunk of excluded pages only stores nothing");
        free(sv.chunks);
        struct khib_image img;
        if (open_image(&img) != KHIB_IMG_OK)
            break;
        /* An excluded page that changed after the save is not compared. */
        uint8_t b = 0x77, old;
        off_t at = (off_t)((259ull << KHIB_PAGE_SHIFT) + 9);   /* pfn 0x103: 259 % 5 == 4 */
        CHECK(pread(memfd, &old, 1, at) == 1 && pwrite(memfd, &b, 1, at) == 1, "change an excluded page");
        struct khib_walk_memory cmp = {.fd = memfd, .name = mem_path, .by_mmap = 1, .seg = seg, .nseg = 2};
        CHECK(khib_walk(&img, KHIB_WALK_COMPARE, &cmp, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_OK,
              "compare skips excluded pages: %s", err);
        CHECK(pwrite(memfd, &old, 1, at) == 1, "change it back");
        /* Written into memory that holds 0xee: excluded pages keep it. */
        int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        uint8_t *ee = malloc(9 * MIB);
        memset(ee, 0xee, 9 * MIB);
        CHECK(fd >= 0 && pwrite(fd, ee, 9 * MIB, 0) == 9 * MIB, "memory file of 0xee");
        free(ee);
        struct khib_walk_memory dst = {.fd = fd, .name = out_path, .by_mmap = by_mmap, .seg = seg, .nseg = 2,
                                       .zero_from = UINT64_MAX};
        CHECK(khib_walk(&img, KHIB_WALK_WRITE, &dst, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_OK,
              "write: %s", err);
        uint64_t same, untouched, poison, wrong;
        count_pages(out_path, memfd, &same, &untouched, &poison, &wrong);
        CHECK(same == total - want && untouched == want && poison == 0 && wrong == 0,
              "%s write: %" PRIu64 " pages as saved, %" PRIu64 " excluded left alone, %" PRIu64 " wrong",
              by_mmap ? "mmap" : "pwrite", same, untouched, wrong);
        struct khib_physmem pm;
        int64_t n = -1;
        if (khib_physmem_open(&pm, fd, out_path, seg, 2, 1, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0) {
            n = khib_poison_excluded(&pm, img.idx.chunks, img.idx.chunk_count, err, sizeof err);
            khib_physmem_close(&pm);
        }
        count_pages(out_path, memfd, &same, &untouched, &poison, &wrong);
        CHECK(n == (int64_t)want && poison == want && same == total - want && wrong == 0,
              "poison: %" PRId64 " pages poisoned, %" PRIu64 " poison, %" PRIu64 " as saved, %" PRIu64 " wrong", n,
              poison, same, wrong);
        close(fd);
        khib_image_close(&img);
    }
    khib_physmem_close(&src);
    free(seg);
}

/* Free runs into the chunks' excluded bitmaps: runs across chunk and range
 * ends, before, between and after the ranges. */
static void test_mark_runs(void)
{
    struct khib_chunk *c;
    uint32_t n;
    char err[200];
    if (khib_plan_chunks(ranges, 2, 256, &c, &n, err, sizeof err) != 0)
        return;
    static const struct khib_pfn_run run[] = {
        {0, 300},          /* before range 0, then its first 44 pages */
        {0x1ff, 3},        /* across chunk 1's end into chunk 2 */
        {1270, 10},        /* range 0's last 10 pages and beyond */
        {2000, 49},        /* between the ranges, then range 1's first page */
        {2050, 100},       /* range 1's last page and after */
    };
    uint64_t m = exclude_mark_runs(run, 5, c, n);
    uint64_t want = 0, got = 0, bad = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t p = 0; p < c[i].pages; p++) {
            uint64_t pfn = c[i].first_pfn + p;
            int in = 0;
            for (int k = 0; k < 5; k++)
                in |= pfn >= run[k].start && pfn < run[k].start + run[k].count;
            want += (uint64_t)in;
            got += (uint64_t)khib_bitmap_test(c[i].excluded_bitmap, p);
            bad += (uint64_t)(in != khib_bitmap_test(c[i].excluded_bitmap, p));
        }
    CHECK(m == want && got == want && bad == 0 && want == 44 + 3 + 10 + 1 + 1,
          "runs marked: %" PRIu64 " pages, %" PRIu64 " bits, %" PRIu64 " wrong, want %" PRIu64, m, got, bad, want);
    free(c);
}

/* A damaged frame stops every action with the chunk named. */
static void test_damaged(void)
{
    struct khib_image img;
    char err[600];
    if (open_image(&img) != KHIB_IMG_OK)
        return;
    const struct khib_chunk *c = &img.idx.chunks[2];
    uint8_t b = 0;
    CHECK(pread(img.t.fd, &b, 1, (off_t)(c->offset + c->stored_len / 2)) == 1, "read a frame byte");
    b ^= 0xff;
    CHECK(pwrite(img.t.fd, &b, 1, (off_t)(c->offset + c->stored_len / 2)) == 1, "damage a frame");
    CHECK_ERR(khib_walk(&img, KHIB_WALK_CHECK, NULL, 2, NULL, NULL, err, sizeof err) == KHIB_IMG_BAD, err,
              "chunk 2 ");
    CHECK_ERR(1, err, "the image is damaged");
    khib_image_close(&img);
}

static void test_commit(void)
{
    char err[600], small[320];
    snprintf(small, sizeof small, "%s/small.img", dir);
    int fd = open(small, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 2048) == 0, "small target");
    close(fd);
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    memcpy(sb.magic, KHIB_MAGIC, 8);
    struct commit cm;
    CHECK_ERR(commit_begin(&cm, small, &sb, 100, err, sizeof err) != 0, err, "is too small: the image needs at least");
    commit_close(&cm);
    fd = open(small, O_RDWR | O_TRUNC);
    CHECK(fd >= 0 && ftruncate(fd, 8192) == 0, "8 KiB target");
    close(fd);
    CHECK_ERR(commit_begin(&cm, small, &sb, 8192, err, sizeof err) != 0, err, "the target holds 8.0 KiB");
    CHECK(commit_data_limit(&cm) == 0, "no room for data");
    commit_close(&cm);

    /* Revoking a commit leaves the image WRITING. */
    struct khib_image img;
    if (open_image(&img) != KHIB_IMG_OK)
        return;
    struct khib_superblock s = img.sb;
    struct commit c2 = {.t = img.t, .path = img_path};
    CHECK(commit_revoke(&c2, &s, err, sizeof err) == 0 && s.state == KHIB_STATE_WRITING, "revoke: %s", err);
    khib_image_close(&img);
    CHECK(khib_image_open(&img, img_path, KHIB_OPEN_READ, err, sizeof err) == KHIB_IMG_OK &&
              img.sb.state == KHIB_STATE_WRITING, "revoked: WRITING on disk");
    khib_image_close(&img);
}

/* The file fallback reads zeros past a segment's file bytes; read windows. */
static void test_physmem(int memfd)
{
    struct khib_segment seg = {.paddr = 1 * MIB, .size = 4 * MIB, .offset = 1 * MIB, .filesz = 2 * MIB};
    struct khib_physmem pm;
    char err[400];
    CHECK(khib_physmem_open(&pm, memfd, mem_path, &seg, 1, 0, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0,
          "open: %s", err);
    uint8_t *buf = malloc(MIB), *want = malloc(MIB);
    CHECK(khib_physmem_read(&pm, &seg, MIB + MIB / 2, buf, MIB, err, sizeof err) == 0, "read: %s", err);
    CHECK(pread(memfd, want, MIB / 2, (off_t)(2 * MIB + MIB / 2)) == (ssize_t)(MIB / 2), "pread");
    memset(want + MIB / 2, 0, MIB / 2);
    CHECK(memcmp(buf, want, MIB) == 0, "file bytes, then zeros past filesz");
    uint64_t off;
    CHECK(khib_segment_in_file(&seg, 3 * MIB, MIB, &off) == 0 && off == 4 * MIB, "nothing in the file past filesz");
    CHECK(khib_segment_in_file(&seg, MIB, 4 * MIB, &off) == MIB, "part in the file");
    void *m = khib_physmem_map_read(&pm, &seg, 0, 2 * MIB, err, sizeof err);
    CHECK(m != NULL, "map_read: %s", err);
    if (m) {
        CHECK(pread(memfd, want, MIB, (off_t)MIB) == (ssize_t)MIB && memcmp(m, want, MIB) == 0, "mapped bytes");
        munmap(m, 2 * MIB);
    }
    CHECK_ERR(khib_physmem_map(&pm, 7 * MIB, 4096, err, sizeof err) == NULL, err, "not inside one memory segment");
    int bad = open("/dev/null", O_RDONLY);
    struct khib_physmem nm;
    khib_physmem_open(&nm, bad, "/dev/null", &seg, 1, 0, KHIB_PHYSMEM_WINDOW, err, sizeof err);
    CHECK_ERR(khib_physmem_map_read(&nm, &seg, 0, MIB, err, sizeof err) == NULL, err, "cannot map 1 MiB of /dev/null");
    close(bad);
    free(buf);
    free(want);
    khib_physmem_close(&pm);
}

static void test_report(void)
{
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    sb.created_ns = 5000000000ull;
    sb.saved_ns = 7500000000ull;
    sb.index_offset = 1 << 20;
    sb.index_bytes = 4096;
    memset(sb.uuid, 7, 16);
    struct khib_mailbox m;
    khib_mailbox_report(&sb, KHIB_MBX_SAVED, &m);
    CHECK(m.status == KHIB_MBX_SAVED && m.save_ms == 2500 && m.image_bytes == (1 << 20) + 4096 &&
              m.saved_ns == sb.saved_ns && m.image_uuid[15] == 7, "report of a saved image");
    sb.saved_ns = 1;
    khib_mailbox_report(&sb, KHIB_MBX_RESTORED, &m);
    CHECK(m.save_ms == 0, "a clock that went back gives no underflow");
    char err[200];
    CHECK(khib_jump_back("/nonexistent/mem", 0x1000, NULL, NULL, err, sizeof err) == KHIB_JB_LOAD &&
              strstr(err, "/nonexistent/mem"), "no memory device: nothing loaded (%s)", err);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(mem_path, sizeof mem_path, "%s/mem", dir);
    snprintf(img_path, sizeof img_path, "%s/image", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    int memfd = make_memory(mem_path);
    CHECK(memfd >= 0, "memory file");
    if (memfd >= 0) {
        test_round_trips(memfd);
        test_excluded(memfd);
        test_mark_runs();
        test_damaged();
        test_commit();
        test_physmem(memfd);
        close(memfd);
    }
    test_report();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
