/* ELF core headers: writer/parser round trips, and rejection of truncated,
 * garbage, overlapping, misaligned and otherwise broken headers. */
#include "t.h"

#include <elf.h>
#include <stdint.h>

#include "elfcore.h"
#include "handoff_codec.h"
#include "le.h"

static const struct khib_range R3[3] = {{0x100, 0x200}, {0x400, 0x10}, {0x10000, 0x1000}};

static struct khib_note sample_note(void)
{
    struct khib_note n;
    memset(&n, 0, sizeof n);
    n.version = KHIB_NOTE_VERSION;
    n.mailbox_addr = 0x450000;
    n.window_size = 0x100000;
    n.nonce = 99;
    snprintf(n.target, sizeof n.target, "/dev/vdb");
    return n;
}

static uint8_t *build(const struct khib_range *r, uint32_t n, const struct khib_note *note, uint64_t data_start,
                      size_t *len)
{
    char err[300];
    *len = khib_elfcore_header_size(n, note != NULL);
    uint8_t *buf = calloc(1, *len);
    if (khib_elfcore_build(r, n, note, data_start, buf, *len, err, sizeof err) != 0) {
        fprintf(stderr, "build: %s\n", err);
        exit(2);
    }
    return buf;
}

static uint8_t *phdr(uint8_t *buf, int i)
{
    return buf + 64 + 56 * i;
}

static void test_round_trip(void)
{
    struct khib_note note = sample_note();
    size_t len;
    char err[400] = "";
    struct khib_elfcore core;

    uint8_t *buf = build(R3, 3, &note, 0, &len);
    CHECK(len == 64 + 4 * 56 + 12 + 8 + KHIB_NOTE_SIZE, "header size");
    CHECK(khib_elfcore_parse(buf, len, &core, err, sizeof err) == 0, "parse: %s", err);
    CHECK(core.nseg == 3 && core.has_note && core.note.nonce == 99 && strcmp(core.note.target, "/dev/vdb") == 0,
          "segments and note");
    CHECK(core.seg[0].paddr == 0x100000 && core.seg[0].size == 0x200000 && core.seg[0].offset == 0 &&
              core.seg[0].filesz == 0x200000 && core.seg[2].paddr == 0x10000000,
          "headers only: p_offset 0, p_filesz = p_memsz");
    CHECK(core.total_bytes == (0x200 + 0x10 + 0x1000) * 4096ULL, "total bytes");
    khib_elfcore_free(&core);
    free(buf);

    buf = build(R3, 3, NULL, 8192, &len);
    CHECK(khib_elfcore_parse(buf, len, &core, err, sizeof err) == 0 && !core.has_note, "no note: %s", err);
    CHECK(core.seg[0].offset == 8192 && core.seg[1].offset == 8192 + 0x200000 &&
              core.seg[2].offset == 8192 + 0x210000, "data after the headers, back to back");
    CHECK(khib_elfcore_check_data(&core, 8192 + 0x1210000, err, sizeof err) == 0, "data present: %s", err);
    CHECK_ERR(khib_elfcore_check_data(&core, 8192 + 0x1210000 - 1, err, sizeof err) != 0, err, "truncated core");
    khib_elfcore_free(&core);
    free(buf);

    CHECK_ERR(khib_elfcore_build(R3, 3, NULL, 100, (uint8_t[4096]){0}, 4096, err, sizeof err) != 0, err,
              "page-aligned");
    struct khib_range bad[2] = {{0x100, 0x200}, {0x200, 1}};
    CHECK_ERR(khib_elfcore_build(bad, 2, NULL, 0, (uint8_t[4096]){0}, 4096, err, sizeof err) != 0, err,
              "not after the one before");

    struct khib_range_list list = {.count = 3, .total_pages = 0x1210};
    memcpy(list.range, R3, sizeof R3);
    void *hdr = khib_elfcore_build_header(&list, &note, &len, err, sizeof err);
    CHECK(hdr && khib_elfcore_parse(hdr, len, &core, err, sizeof err) == 0 && core.nseg == 3, "build_header");
    khib_elfcore_free(&core);
    free(hdr);
}

#define REJECT(mutation, want)                                                     \
    do {                                                                           \
        uint8_t *b = build(R3, 3, &note, 0, &len);                                 \
        mutation;                                                                  \
        CHECK_ERR(khib_elfcore_parse(b, len, &core, err, sizeof err) != 0, err, want); \
        CHECK(core.seg == NULL && core.nseg == 0 && !core.has_note, "empty after failure"); \
        free(b);                                                                   \
    } while (0)

static void test_rejects(void)
{
    struct khib_note note = sample_note();
    size_t len;
    char err[400] = "";
    struct khib_elfcore core;

    /* Every truncation fails cleanly. */
    uint8_t *buf = build(R3, 3, &note, 0, &len);
    int all = 1;
    for (size_t n = 0; n < len; n++) {
        if (khib_elfcore_parse(buf, n, &core, err, sizeof err) == 0) {
            all = 0;
            fprintf(stderr, "truncated to %zu bytes: accepted\n", n);
        }
    }
    CHECK(all, "every truncation rejected");
    CHECK_ERR(khib_elfcore_parse(buf, 200, &core, err, sizeof err) != 0, err, "truncated core header");
    free(buf);

    /* Garbage never crashes and is rejected. */
    uint64_t s = 88172645463325252ULL;
    int rejected = 0;
    for (int t = 0; t < 2000; t++) {
        uint8_t g[1024];
        for (size_t i = 0; i < sizeof g; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            g[i] = (uint8_t)s;
        }
        if (t % 2) /* plausible header, garbage after */
            memcpy(g, (uint8_t[]){0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, 8), khib_put16(g + 16, ET_CORE),
                khib_put16(g + 18, EM_X86_64), khib_put16(g + 54, 56), khib_put64(g + 32, 64),
                khib_put16(g + 56, (uint16_t)(1 + t % 17));
        rejected += khib_elfcore_parse(g, sizeof g, &core, err, sizeof err) != 0;
        khib_elfcore_free(&core);
    }
    CHECK(rejected >= 1990, "garbage rejected (%d of 2000)", rejected);

    REJECT(b[0] = 0, "not an ELF file");
    REJECT(b[EI_CLASS] = ELFCLASS32, "not a 64-bit little-endian");
    REJECT(b[EI_DATA] = ELFDATA2MSB, "not a 64-bit little-endian");
    REJECT(khib_put16(b + 16, ET_EXEC), "not an x86_64 ELF core");
    REJECT(khib_put16(b + 18, EM_AARCH64), "not an x86_64 ELF core");
    REJECT(khib_put16(b + 54, 64), "program header size 64");
    REJECT(khib_put16(b + 56, 0), "no program headers");
    REJECT(khib_put16(b + 56, PN_XNUM), "too many program headers");
    REJECT(khib_put16(b + 56, 60000), "truncated core header: 60000 program headers");
    REJECT(khib_put64(b + 32, UINT64_MAX - 10), "truncated core header");
    /* The PT_NOTE is header 0, the PT_LOADs 1..3. */
    REJECT(khib_put64(phdr(b, 2) + 24, 0x100000), "PT_LOAD segments overlap: [0x100000, 0x300000) and [0x100000, 0x110000)");
    REJECT(khib_put64(phdr(b, 2) + 24, 0x2ff000), "PT_LOAD segments overlap");
    REJECT(khib_put64(phdr(b, 1) + 24, 0x100800), "is not page-aligned");
    REJECT(khib_put64(phdr(b, 1) + 40, 0x1ff800), "is not page-aligned");
    REJECT(khib_put64(phdr(b, 1) + 32, 0x300000), "p_filesz 0x300000 > p_memsz 0x200000");
    REJECT(khib_put64(phdr(b, 3) + 24, 0xfffffffffff00000ULL), "past the end of the physical address space");
    REJECT((khib_put32(phdr(b, 1), PT_NULL), khib_put32(phdr(b, 2), PT_NULL), khib_put32(phdr(b, 3), PT_NULL)),
           "no PT_LOAD segment");
    REJECT(khib_put64(phdr(b, 0) + 32, 5000000), "PT_NOTE 0 is 5000000 bytes long");
    REJECT(khib_put64(phdr(b, 0) + 8, len - 10), "truncated core header: the PT_NOTE segment");
    REJECT(khib_put32(b + khib_elfcore_header_size(3, 1) - KHIB_NOTE_SIZE - 20 + 4, 100000), "malformed ELF note");
    REJECT(khib_put32(b + khib_elfcore_header_size(3, 1) - KHIB_NOTE_SIZE, 5), "note version 5");
    REJECT(memcpy(phdr(b, 2), phdr(b, 0), 56), "two khib notes"); /* PT_LOAD 2 -> a second PT_NOTE, same note */

    /* Unsorted PT_LOADs are sorted; empty ones ignored; other notes skipped. */
    {
        uint8_t *b = build(R3, 3, &note, 0, &len);
        uint8_t tmp[56];
        memcpy(tmp, phdr(b, 1), 56);
        memcpy(phdr(b, 1), phdr(b, 3), 56);
        memcpy(phdr(b, 3), tmp, 56);
        CHECK(khib_elfcore_parse(b, len, &core, err, sizeof err) == 0 && core.seg[0].paddr == 0x100000 &&
                  core.seg[2].paddr == 0x10000000, "unsorted PT_LOADs sorted: %s", err);
        khib_elfcore_free(&core);
        khib_put64(phdr(b, 2) + 40, 0);
        CHECK(khib_elfcore_parse(b, len, &core, err, sizeof err) == 0 && core.nseg == 2, "empty PT_LOAD ignored");
        khib_elfcore_free(&core);
        /* Rename the note: no khib note, still a valid core. */
        b[khib_elfcore_header_size(3, 1) - KHIB_NOTE_SIZE - 8] = 'X';
        CHECK(khib_elfcore_parse(b, len, &core, err, sizeof err) == 0 && !core.has_note, "foreign note skipped");
        khib_elfcore_free(&core);
        free(b);
    }

    /* Data checks for cores with data. */
    {
        uint8_t *b = build(R3, 3, NULL, 4096, &len);
        CHECK(khib_elfcore_parse(b, len, &core, err, sizeof err) == 0, "parse");
        core.seg[1].offset += 512;
        CHECK_ERR(khib_elfcore_check_data(&core, 1ULL << 30, err, sizeof err) != 0, err, "not page-aligned");
        core.seg[1].offset = 0;
        CHECK_ERR(khib_elfcore_check_data(&core, 1ULL << 30, err, sizeof err) != 0, err, "inside the headers");
        khib_elfcore_free(&core);
        free(b);
    }
    CHECK_ERR(khib_elfcore_load("/nonexistent/core", &core, err, sizeof err) != 0 && !core.has_note, err,
              "cannot open /nonexistent/core");
}

int main(void)
{
    test_round_trip();
    test_rejects();
    return t_done();
}
