/* Image format: superblock and index encode/decode round trips, the field
 * offsets of image_format.h, and every consistency check with its message;
 * the khib note and the mailbox codecs. */
#include "t.h"

#include <stdint.h>

#include "handoff_codec.h"
#include "image_codec.h"
#include "le.h"
#include "xxhash64.h"

static void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 31);
}

static struct khib_superblock sample_sb(void)
{
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    memcpy(sb.magic, KHIB_MAGIC, 8);
    sb.version = KHIB_VERSION;
    sb.sb_size = KHIB_SB_SIZE;
    sb.state = KHIB_STATE_COMMITTED;
    sb.page_size = KHIB_PAGE_SIZE;
    fill(sb.uuid, 16, 1);
    sb.created_ns = 0x1111222233334444ULL;
    snprintf(sb.kernel_release, sizeof sb.kernel_release, "6.12.0-test");
    snprintf(sb.host_name, sizeof sb.host_name, "khibtest");
    sb.build_id_len = 20;
    fill(sb.build_id, 20, 9);
    sb.memmap_digest = 0xabcdef0123456789ULL;
    sb.jump_back_entry = 0x12345678ULL;
    sb.mailbox_addr = 0x20000000ULL;
    sb.window_start = 0;
    sb.window_size = 192ULL << 20;
    sb.chunk_pages = 256;
    sb.compression = KHIB_COMP_ZSTD;
    sb.level = -3;
    sb.fs_count = 2;
    snprintf(sb.fs[0].dev, sizeof sb.fs[0].dev, "vda1");
    snprintf(sb.fs[0].mnt, sizeof sb.fs[0].mnt, "/");
    fill(sb.fs[0].uuid, 16, 77);
    sb.fs[0].kind = KHIB_FS_EXT;
    sb.fs[0].major = 254;
    sb.fs[0].minor = 1;
    sb.fs[0].dev_bytes = 1ULL << 30;
    sb.fs[0].state[0] = 5;
    sb.fs[0].state[4] = 123456789;
    snprintf(sb.fs[1].dev, sizeof sb.fs[1].dev, "/dev/vdb");
    snprintf(sb.fs[1].mnt, sizeof sb.fs[1].mnt, "/mnt/data");
    sb.fs[1].kind = KHIB_FS_XFS;
    sb.fs[1].flags = KHIB_FSREC_RDONLY;
    sb.saved_ns = 0x5555666677778888ULL;
    sb.mailbox_nonce = 0x0123456789abcdefULL;
    sb.consumed_ns = 0;
    return sb;
}

/* A consistent image description: 2 ranges, 4 chunks. */
struct sample {
    struct khib_superblock sb;
    struct khib_range r[2];
    struct khib_chunk c[4];
    struct khib_index idx;
};

static void sample_index(struct sample *s)
{
    s->sb = sample_sb();
    s->r[0] = (struct khib_range){0x10000, 300};  /* chunks of 256 + 44 pages */
    s->r[1] = (struct khib_range){0x20000, 10};
    memset(s->c, 0, sizeof s->c);
    uint64_t off = KHIB_SB_SIZE;
    s->c[0] = (struct khib_chunk){.first_pfn = 0x10000, .pages = 256};
    s->c[1] = (struct khib_chunk){.first_pfn = 0x10100, .pages = 44};
    s->c[2] = (struct khib_chunk){.first_pfn = 0x20000, .pages = 8};
    s->c[3] = (struct khib_chunk){.first_pfn = 0x20008, .pages = 2};
    /* chunk 1: pages 0 and 43 zero; chunk 3: all zero */
    khib_bitmap_set(s->c[1].zero_bitmap, 0);
    khib_bitmap_set(s->c[1].zero_bitmap, 43);
    khib_bitmap_set(s->c[3].zero_bitmap, 0);
    khib_bitmap_set(s->c[3].zero_bitmap, 1);
    /* chunk 1: page 40 excluded (free in the saved kernel) */
    khib_bitmap_set(s->c[1].excluded_bitmap, 40);
    uint64_t zeros = 0, stored = 0, excluded = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t z = khib_bitmap_count(s->c[i].zero_bitmap, s->c[i].pages);
        uint32_t x = khib_bitmap_count(s->c[i].excluded_bitmap, s->c[i].pages);
        z += x;
        excluded += x;
        s->c[i].raw_len = (s->c[i].pages - z) * KHIB_PAGE_SIZE;
        s->c[i].stored_len = s->c[i].raw_len ? 1000u + (uint32_t)i : 0;
        s->c[i].offset = off;
        s->c[i].checksum = 0x1000u + (uint64_t)i;
        off += s->c[i].stored_len;
        zeros += z;
        stored += s->c[i].pages - z;
    }
    s->sb.range_count = 2;
    s->sb.chunk_count = 4;
    s->sb.pages_total = 310;
    s->sb.pages_zero = zeros - excluded;
    s->sb.pages_excluded = excluded;
    s->sb.pages_stored = stored;
    s->sb.data_offset = KHIB_SB_SIZE;
    s->sb.data_bytes = off - KHIB_SB_SIZE;
    s->sb.index_offset = (off + 4095) & ~4095ULL;
    s->sb.index_bytes = khib_index_size(2, 4);
    s->idx = (struct khib_index){2, 4, s->r, s->c};
}

static void test_superblock(void)
{
    struct khib_superblock sb = sample_sb(), back;
    sb.pages_total = 100;
    sb.pages_zero = 40;
    sb.pages_stored = 53;
    sb.pages_excluded = 7;
    uint8_t buf[KHIB_SB_SIZE];
    char err[400] = "";
    khib_superblock_encode(&sb, buf);
    /* Offsets of image_format.h */
    CHECK(memcmp(buf, "KHIBIMG1", 8) == 0, "magic at 0");
    CHECK(khib_get32(buf + 16) == KHIB_STATE_COMMITTED, "state at 16");
    CHECK(khib_get64(buf + 136) == sb.memmap_digest, "memmap_digest at 136");
    CHECK(khib_get64(buf + 144) == sb.jump_back_entry, "jump_back_entry at 144");
    CHECK(buf[113] == 20 && buf[114] == sb.build_id[0], "build id at 113/114");
    CHECK(khib_get32(buf + 256) == (uint32_t)-3, "level at 256");
    CHECK(khib_get32(buf + 8) == KHIB_VERSION, "version at 8");
    CHECK(khib_get64(buf + 3752) == 7, "pages_excluded at 3752");
    CHECK(memcmp(buf + 272, "vda1", 5) == 0 && memcmp(buf + 272 + 64, "/", 2) == 0, "first fs record at 272");
    CHECK(khib_get32(buf + 272 + 128) == KHIB_FS_EXT && khib_get32(buf + 272 + 132) == 254 &&
              khib_get64(buf + 272 + 144) == 1ULL << 30 && buf[272 + 152] == 77,
          "fs kind, major, size, uuid at +128, +132, +144, +152");
    CHECK(khib_get64(buf + 272 + 168) == 5 && khib_get64(buf + 272 + 200) == 123456789, "fs state at +168..+208");
    CHECK(memcmp(buf + 480, "/dev/vdb", 8) == 0 && khib_get32(buf + 480 + 140) == KHIB_FSREC_RDONLY,
          "second fs record at 480, its flags");
    CHECK(khib_get64(buf + 3600) == sb.mailbox_nonce, "mailbox_nonce at 3600");
    CHECK(khib_get64(buf + 4088) == khib_hash64(buf, 4088, 0), "checksum at 4088 over [0, 4088)");
    CHECK(memcmp(buf + 3960, "khibtest", 9) == 0, "host_name at 3960");
    int zero_tail = 1;
    for (int i = 3760; i < 4088; i++)
        zero_tail &= (i >= 3960 && i < 3960 + 9) || buf[i] == 0;
    CHECK(zero_tail, "bytes 3760..3959 and 3969..4087 zero");
    sb.locked_ns = 0x1122334455667788ULL;
    khib_superblock_encode(&sb, buf);
    CHECK(khib_get64(buf + 4024) == sb.locked_ns, "locked_ns at 4024");
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK && back.locked_ns == sb.locked_ns,
          "locked_ns read back");
    sb.locked_ns = 0;
    khib_superblock_encode(&sb, buf);

    int rc = khib_superblock_decode(buf, &back, err, sizeof err);
    CHECK(rc == KHIB_SB_OK, "decode: %s", err);
    back.checksum = sb.checksum = 0;
    CHECK(memcmp(&sb, &back, sizeof sb) == 0, "superblock round trip");

    /* Damage: any flipped byte is a checksum mismatch. */
    for (int pos = 8; pos < (int)KHIB_SB_SIZE; pos += 97) {
        uint8_t bad[KHIB_SB_SIZE];
        memcpy(bad, buf, sizeof bad);
        bad[pos] ^= 0x10;
        rc = khib_superblock_decode(bad, &back, err, sizeof err);
        CHECK_ERR(rc == KHIB_SB_BAD, err, "superblock checksum mismatch");
    }
    uint8_t none[KHIB_SB_SIZE] = {0};
    CHECK(khib_superblock_decode(none, &back, err, sizeof err) == KHIB_SB_NONE, "zeros: no image");

    /* Valid checksum, bad content. */
    struct khib_superblock v = sb;
    v.version = KHIB_VERSION + 1;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "is not supported");
    v.version = 3;   /* before images in files */
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "written by an older khib");
    v.version = 2;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "written by an older khib");
    v.version = 1;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "written by an older khib");
    v = sb;
    v.state = KHIB_STATE_ABANDONED;
    snprintf(v.abandon_reason, sizeof v.abandon_reason, "a normal boot");
    v.abandoned_ns = 77;
    khib_superblock_encode(&v, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK && back.state == KHIB_STATE_ABANDONED &&
              back.abandoned_ns == 77 && !strcmp(back.abandon_reason, "a normal boot") &&
              khib_get64(buf + 3616) == 77 && !memcmp(buf + 3624, "a normal boot", 14),
          "ABANDONED with its time at 3616 and reason at 3624: %s", err);
    khib_superblock_encode(&sb, buf);
    memset(buf + 3960, 'x', KHIB_HOST_LEN);
    khib_put64(buf + 4088, khib_hash64(buf, 4088, 0));
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "host name is not NUL-terminated");
    memset(buf + 3960, 0, KHIB_HOST_LEN);
    khib_put64(buf + 4088, khib_hash64(buf, 4088, 0));
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK && !back.host_name[0],
          "an image without a host name (older khib) decodes: %s", err);
    v = sb;
    v.fs[1].kind = 9;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "unknown kind 9");
    v = sb;
    snprintf(v.fs[0].dev, sizeof v.fs[0].dev, "../sda");
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "not a kernel name");
    v = sb;
    v.state = 7;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "state 7");
    v = sb;
    v.chunk_pages = 257;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "chunk_pages 257");
    v = sb;
    v.pages_zero = 41;
    khib_superblock_encode(&v, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK, "counts of a WRITING image may be partial");
    v = sb;
    v.fs_count = 17;
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "fs_count 17");
    v = sb;
    memset(v.kernel_release, 'x', sizeof v.kernel_release);
    khib_superblock_encode(&v, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err, "not NUL-terminated");
}

static void test_index(void)
{
    struct sample s;
    sample_index(&s);
    char err[400] = "";
    CHECK(khib_superblock_check_layout(&s.sb, 1 << 20, err, sizeof err) == 0, "layout: %s", err);
    CHECK(khib_index_check(&s.sb, &s.idx, err, sizeof err) == 0, "index check: %s", err);

    size_t len = khib_index_size(2, 4);
    CHECK(len == 16 + 2 * 16 + 4 * 104, "index size");
    uint8_t *buf = malloc(len);
    khib_index_encode(&s.idx, buf);
    CHECK(memcmp(buf, "KHIBIDX1", 8) == 0 && khib_get32(buf + 8) == 2 && khib_get32(buf + 12) == 4, "index header");
    CHECK(khib_get64(buf + 16) == 0x10000 && khib_get64(buf + 24) == 300, "first range at 16");
    const uint8_t *c1 = buf + 16 + 32 + 104;
    CHECK(khib_get64(c1) == 0x10100 && khib_get32(c1 + 8) == 44 && khib_get32(c1 + 28) == 41 * 4096 &&
              c1[40] == 1 && c1[45] == 0x08 && c1[72 + 5] == 0x01, "chunk 1 fields at their offsets");
    struct khib_index back;
    CHECK(khib_index_decode(buf, len, &back, err, sizeof err) == 0, "decode: %s", err);
    CHECK(back.range_count == 2 && back.chunk_count == 4 && memcmp(back.ranges, s.r, sizeof s.r) == 0 &&
              memcmp(back.chunks, s.c, sizeof s.c) == 0, "index round trip");
    khib_index_free(&back);
    CHECK_ERR(khib_index_decode(buf, len - 1, &back, err, sizeof err) != 0, err, "but is 463 bytes long (they need 464)");
    /* "index says 5 ranges but is 40 bytes long" */
    uint8_t small[40] = "KHIBIDX1";
    khib_put32(small + 8, 5);
    khib_put32(small + 12, 0);
    CHECK_ERR(khib_index_decode(small, sizeof small, &back, err, sizeof err) != 0, err,
              "index says 5 ranges and 0 chunks but is 40 bytes long");
    buf[0] ^= 1;
    CHECK_ERR(khib_index_decode(buf, len, &back, err, sizeof err) != 0, err, "no KHIBIDX1 magic");
    free(buf);

    struct sample t;
#define BROKEN(mutation, want)                                                              \
    do {                                                                                    \
        sample_index(&t);                                                                   \
        mutation;                                                                           \
        CHECK_ERR(khib_index_check(&t.sb, &t.idx, err, sizeof err) != 0, err, want);        \
    } while (0)
    BROKEN(t.r[1].start_pfn = 0x10100, "ranges 0 and 1 overlap or are unsorted");
    BROKEN((t.r[0].start_pfn = 0x30000, t.c[0].first_pfn = 0x30000), "ranges 0 and 1 overlap or are unsorted");
    BROKEN(t.r[1].pages = 0, "is empty");
    BROKEN(t.r[1].start_pfn = 1ULL << 52, "beyond any physical address");
    BROKEN(t.sb.pages_total = 311, "the ranges hold 310 pages but the superblock says 311");
    BROKEN(t.c[2].first_pfn = 0x20001, "chunk 2 starts at pfn 0x20001 but the ranges continue at pfn 0x20000");
    BROKEN((t.sb.chunk_pages = 200), "chunk 0 has 256 pages (allowed 1..200)");
    BROKEN((t.c[1].pages = 45, t.c[1].raw_len += 4096), "crosses the end of range 0");
    BROKEN(t.c[3].flags = 2, "unknown flags");
    BROKEN(t.c[0].flags = KHIB_CHUNK_STORED, "stored_len");
    BROKEN(khib_bitmap_set(t.c[2].zero_bitmap, 9), "marks page 9 zero or excluded but has only 8 pages");
    BROKEN(t.c[0].raw_len -= 4096, "raw_len");
    BROKEN(t.c[3].stored_len = 5, "stored_len 5 for raw_len 0");
    BROKEN(t.c[2].offset += 1, "chunk 2 is at offset");
    BROKEN(t.sb.data_bytes += 1, "the chunks hold");
    BROKEN((t.sb.pages_zero += 1, t.sb.pages_stored -= 1), "zero pages but the superblock says");
    BROKEN((t.sb.pages_excluded += 1, t.sb.pages_stored -= 1), "excluded pages but the superblock says");
    BROKEN(khib_bitmap_set(t.c[1].excluded_bitmap, 44), "marks page 44 zero or excluded but has only 44 pages");
    BROKEN((khib_bitmap_set(t.c[1].excluded_bitmap, 43), t.c[1].raw_len = t.c[1].raw_len),
           "marks a page both zero and excluded");
    BROKEN((khib_bitmap_set(t.c[0].excluded_bitmap, 3)), "has 255 stored pages but raw_len");
    BROKEN((t.idx.chunk_count = 3, t.sb.chunk_count = 3), "range 1 is not covered");
    BROKEN(t.sb.chunk_count = 5, "the superblock says 2 and 5");
    /* A chunk past the last range: extend the table by one. */
    {
        struct khib_chunk more[5];
        sample_index(&t);
        memcpy(more, t.c, sizeof t.c);
        more[4] = (struct khib_chunk){.first_pfn = 0x3000, .pages = 1, .raw_len = 4096, .stored_len = 10,
                                      .offset = t.c[3].offset};
        t.idx.chunks = more;
        t.idx.chunk_count = t.sb.chunk_count = 5;
        CHECK_ERR(khib_index_check(&t.sb, &t.idx, err, sizeof err) != 0, err, "chunk 4 (pfn 0x3000) lies outside the ranges");
    }

#define BAD_LAYOUT(mutation, size, want)                                                    \
    do {                                                                                    \
        sample_index(&t);                                                                   \
        mutation;                                                                           \
        CHECK_ERR(khib_superblock_check_layout(&t.sb, size, err, sizeof err) != 0, err, want); \
    } while (0)
    BAD_LAYOUT((void)0, 8192, "but only 8192 bytes are there");
    BAD_LAYOUT(t.sb.index_offset += 8, 1 << 20, "not page-aligned");
    BAD_LAYOUT(t.sb.index_offset = 4096, 1 << 20, "lies inside the data");
    BAD_LAYOUT(t.sb.index_bytes = 40, 1 << 20, "index is 40 bytes long but 2 ranges and 4 chunks need 464");
    BAD_LAYOUT(t.sb.data_offset = 0, 1 << 20, "data offset 0");
    BAD_LAYOUT(t.sb.range_count = 0, 1 << 20, "inconsistent");
    BAD_LAYOUT(t.sb.pages_zero += 1, 1 << 20, "page counts do not add up");
}

static void test_note_and_mailbox(void)
{
    struct khib_note n, back;
    memset(&n, 0, sizeof n);
    n.version = KHIB_NOTE_VERSION;
    n.flags = KHIB_NOTE_TEST;
    n.mailbox_addr = 0x7654000;
    n.window_size = 192ULL << 20;
    n.memmap_digest = 0x1122334455667788ULL;
    n.nonce = 0xfeedfacecafebeefULL;
    snprintf(n.kernel_release, sizeof n.kernel_release, "6.12.107");
    n.build_id_len = 3;
    n.build_id[0] = 1;
    n.level = 7;
    n.fs_count = 1;
    snprintf(n.target, sizeof n.target, "/dev/vdb");
    snprintf(n.fs[0].dev, sizeof n.fs[0].dev, "vda2");
    snprintf(n.fs[0].mnt, sizeof n.fs[0].mnt, "/home");
    n.fs[0].kind = KHIB_FS_BTRFS;
    uint8_t buf[KHIB_NOTE_SIZE];
    char err[300] = "";
    snprintf(n.host_name, sizeof n.host_name, "laptop");
    CHECK(KHIB_NOTE_SIZE == 3704, "note size 3704");
    khib_note_encode(&n, buf);
    CHECK(khib_get64(buf + 3680) == 0 && khib_get32(buf + 3688) == 0 && khib_get64(buf + 3696) == 0,
          "no extent fields for a partition");
    CHECK(khib_get64(buf + 40) == n.nonce && khib_get32(buf + 136) == 7 && memcmp(buf + 144, "/dev/vdb", 8) == 0 &&
              memcmp(buf + 272, "vda2", 5) == 0 && khib_get32(buf + 272 + 128) == KHIB_FS_BTRFS &&
              memcmp(buf + 3600, "laptop", 7) == 0,
          "note field offsets");
    CHECK(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) == 0, "note decode: %s", err);
    CHECK(memcmp(&n, &back, sizeof n) == 0, "note round trip");
    CHECK_ERR(khib_note_decode(buf, 100, &back, err, sizeof err) != 0, err, "100 bytes long");
    memset(buf + 3600, 'x', KHIB_HOST_LEN);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "host name is not NUL-terminated");
    khib_note_encode(&n, buf);
    khib_put32(buf, 9);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "version 9");
    /* Suspend-to-both (docs/hybrid.md) is a known flag; the next bit is not. */
    n.flags = KHIB_NOTE_HYBRID;
    khib_note_encode(&n, buf);
    CHECK(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) == 0 && back.flags == KHIB_NOTE_HYBRID,
          "the hybrid flag decodes: %s", err);
    n.flags = KHIB_NOTE_HYBRID << 1;
    khib_note_encode(&n, buf);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "unknown flags");
    n.flags = 0;
    /* An image file's extent fields (docs/file-target.md). */
    n.file_base = 0x123000;
    n.extent_count = 5;
    n.extmap_checksum = 0xabcdef;
    khib_note_encode(&n, buf);
    CHECK(khib_get64(buf + 3680) == 0x123000 && khib_get32(buf + 3688) == 5 && khib_get64(buf + 3696) == 0xabcdef,
          "extent field offsets");
    CHECK(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) == 0 && back.extent_count == 5 &&
              back.file_base == 0x123000 && back.extmap_checksum == 0xabcdef, "extent fields decode: %s", err);
    n.file_base = 0x123001;
    khib_note_encode(&n, buf);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "extent fields are inconsistent");
    n.extent_count = 0;
    khib_note_encode(&n, buf);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "extent fields are inconsistent");
    n.file_base = 0;
    n.extmap_checksum = 0;
    n.mailbox_addr = 0x7654001;
    khib_note_encode(&n, buf);
    CHECK_ERR(khib_note_decode(buf, sizeof buf, &back, err, sizeof err) != 0, err, "not page-aligned");

    struct khib_mailbox m, mb;
    memset(&m, 0, sizeof m);
    memcpy(m.magic, KHIB_MAILBOX_MAGIC, 8);
    m.nonce = 42;
    m.status = KHIB_MBX_RESTORED;
    fill(m.image_uuid, 16, 3);
    m.saved_ns = 1;
    m.restored_ns = 2;
    m.save_ms = 3;
    m.restore_ms = 4;
    m.image_bytes = 5;
    snprintf(m.msg, sizeof m.msg, "restored from image x");
    uint8_t page[4096];
    memset(page, 0xee, sizeof page);
    khib_mailbox_encode(&m, page);
    CHECK(khib_get32(page + 16) == KHIB_MBX_RESTORED && khib_get64(page + 72) == 5 &&
              strcmp((char *)page + 80, "restored from image x") == 0 && page[KHIB_MAILBOX_SIZE] == 0xee,
          "mailbox offsets, rest of page untouched");
    khib_mailbox_decode(page, &mb);
    CHECK(memcmp(&m, &mb, sizeof m) == 0, "mailbox round trip");
}

/* Regressions of parser bugs the fuzzers found (docs/fuzzing.md); the inputs
 * that showed them are kept in tests/fuzz/crashers/ and replayed by
 * test_fuzz_replay. */
static int decode_window(uint64_t start, uint64_t size, char *err, size_t errlen)
{
    struct khib_superblock sb = sample_sb(), back;
    uint8_t buf[KHIB_SB_SIZE];
    sb.window_start = start;
    sb.window_size = size;
    khib_superblock_encode(&sb, buf);
    err[0] = 0;
    return khib_superblock_decode(buf, &back, err, errlen);
}

/* A superblock window that wraps past 2^64 (or whose end, rounded up to a
 * page, does) passed khib-restore's window check as if it were empty, and
 * the image was restored over the restore kernel's own memory.
 * Crashers: superblock/window-wraps, image/window-wraps*. */
static void test_window_wraps(void)
{
    char err[300];
    CHECK_ERR(decode_window(0x1000, 0xfffffffffffff000ull, err, sizeof err) == KHIB_SB_BAD, err,
              "superblock window 0x1000+0xfffffffffffff000 is not page-aligned or wraps around");
    CHECK_ERR(decode_window(0, UINT64_MAX, err, sizeof err) == KHIB_SB_BAD, err, "wraps around");
    CHECK_ERR(decode_window(UINT64_MAX - 0xfff, 0x1000, err, sizeof err) == KHIB_SB_BAD, err, "wraps around");
    CHECK_ERR(decode_window(0x800, 0x1000, err, sizeof err) == KHIB_SB_BAD, err, "not page-aligned");
    CHECK_ERR(decode_window(0, 0x1800, err, sizeof err) == KHIB_SB_BAD, err, "not page-aligned");
    CHECK(decode_window(0, 0, err, sizeof err) == KHIB_SB_OK, "no window: %s", err);
    CHECK(decode_window(0, 192ull << 20, err, sizeof err) == KHIB_SB_OK, "the usual window: %s", err);
    CHECK(decode_window(0, 0xfffffffffffff000ull, err, sizeof err) == KHIB_SB_OK, "up to the last page: %s", err);
    CHECK(decode_window(0xfffffffffffff000ull, 0x1000, err, sizeof err) == KHIB_SB_BAD, "the last page ends at 2^64");
}

/* A superblock mailbox address that is not page-aligned was accepted: the
 * restorer wrote all memory, then failed to post to the mailbox and gave up
 * (with a misleading "not the hibernated system's memory").  The note it
 * comes from was always page-aligned.  Crashers: superblock/mailbox-unaligned,
 * image/mailbox-unaligned. */
static void test_mailbox_unaligned(void)
{
    struct khib_superblock sb = sample_sb(), back;
    uint8_t buf[KHIB_SB_SIZE];
    char err[300] = "";
    sb.mailbox_addr = 0x4008;
    khib_superblock_encode(&sb, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err,
              "superblock mailbox address 0x4008 is not page-aligned");
    sb.mailbox_addr = 0x4000;
    khib_superblock_encode(&sb, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK && back.mailbox_addr == 0x4000,
          "an aligned mailbox: %s", err);
    sb.mailbox_addr = 0;
    khib_superblock_encode(&sb, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK, "no mailbox: %s", err);
}

int main(void)
{
    test_superblock();
    test_index();
    test_note_and_mailbox();
    test_window_wraps();
    test_mailbox_unaligned();
    return t_done();
}
