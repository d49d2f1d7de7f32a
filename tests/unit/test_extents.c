/* An image in a file (docs/file-target.md): the extent map's checks, its
 * encoding, offset mapping, FIEMAP flags, transfers through a mapped
 * target (lib/target.c), and the superblock's extent fields. */
#include "t.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <stdint.h>
#include <unistd.h>

#include "extents.h"
#include "image.h"
#include "image_codec.h"
#include "target.h"
#include "xxhash64.h"

#define K4 4096u

static struct khib_extent three[] = {
    {0, 64 * K4, 8 * K4},      /* file [0, 32K) at device 256K */
    {8 * K4, 16 * K4, 4 * K4}, /* file [32K, 48K) at device 64K */
    {12 * K4, 200 * K4, 4 * K4},
};

static struct khib_extmap map_of(struct khib_extent *e, uint32_t n)
{
    return (struct khib_extmap){n, e};
}

static void test_check(void)
{
    char err[300];
    struct khib_extmap m = map_of(three, 3);
    CHECK(khib_extmap_check(&m, 1u << 20, khib_extmap_data_offset(3), err, sizeof err) == 0, "valid map: %s", err);
    CHECK(khib_extmap_total(&m) == 16 * K4, "total");
    CHECK_ERR(khib_extmap_check(&m, 203 * K4, 0, err, sizeof err) != 0, err, "lies outside the device");
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 9 * K4, err, sizeof err) != 0, err, "first extent holds");
    struct khib_extent hole[] = {{0, 0, K4}, {2 * K4, K4, K4}};
    m = map_of(hole, 2);
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 0, err, sizeof err) != 0, err, "has a hole");
    struct khib_extent odd[] = {{0, 512, K4}};
    m = map_of(odd, 1);
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 0, err, sizeof err) != 0, err, "not aligned");
    struct khib_extent empty[] = {{0, 0, 0}};
    m = map_of(empty, 1);
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 0, err, sizeof err) != 0, err, "is empty");
    struct khib_extent shared[] = {{0, 8 * K4, 4 * K4}, {4 * K4, 10 * K4, K4}};
    m = map_of(shared, 2);
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 0, err, sizeof err) != 0, err, "share device bytes");
    m = map_of(three, 0);
    CHECK_ERR(khib_extmap_check(&m, 1u << 20, 0, err, sizeof err) != 0, err, "0 extents");
    struct khib_extent wrap[] = {{0, 0, K4}, {K4, K4, UINT64_MAX - 4095}};
    m = map_of(wrap, 2);
    CHECK(khib_extmap_check(&m, UINT64_MAX, 0, err, sizeof err) != 0, "an extent that overflows");
}

static void test_locate_codec(void)
{
    struct khib_extmap m = map_of(three, 3);
    uint64_t dev, run;
    CHECK(khib_extmap_locate(&m, 0, &dev, &run) == 0 && dev == 64 * K4 && run == 8 * K4, "byte 0");
    CHECK(khib_extmap_locate(&m, 8 * K4 + 5, &dev, &run) == 0 && dev == 16 * K4 + 5 && run == 4 * K4 - 5,
          "inside the second");
    CHECK(khib_extmap_locate(&m, 16 * K4 - 1, &dev, &run) == 0 && dev == 204 * K4 - 1 && run == 1, "last byte");
    CHECK(khib_extmap_locate(&m, 16 * K4, &dev, &run) != 0, "past the end");
    uint8_t buf[KHIB_EXTMAP_HEADER + 3 * KHIB_EXTENT_SIZE];
    CHECK(khib_extmap_bytes(3) == sizeof buf, "encoded size");
    khib_extmap_encode(&m, buf);
    CHECK(!memcmp(buf, "KHIBEXT1", 8), "magic");
    struct khib_extmap d;
    char err[300];
    CHECK(khib_extmap_decode(buf, sizeof buf, &d, err, sizeof err) == 0 && d.count == 3 &&
              !memcmp(d.e, three, sizeof three), "round trip: %s", err);
    khib_extmap_free(&d);
    CHECK_ERR(khib_extmap_decode(buf, sizeof buf - 1, &d, err, sizeof err) != 0, err, "header is inconsistent");
    buf[0] = 'X';
    CHECK_ERR(khib_extmap_decode(buf, sizeof buf, &d, err, sizeof err) != 0, err, "no extent map");
    CHECK(khib_extmap_data_offset(3) == 2 * K4 && khib_extmap_data_offset(170) == 2 * K4 &&
              khib_extmap_data_offset(171) == 3 * K4, "data offset after the map");
}

static void test_flags(void)
{
    char err[200];
    CHECK(khib_fiemap_flags_check(0, 0, err, sizeof err) == 0, "plain");
    CHECK(khib_fiemap_flags_check(FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED, 0, err, sizeof err) == 0,
          "last, merged");
    static const struct {
        uint32_t flag;
        const char *want;
    } bad[] = {
        {FIEMAP_EXTENT_UNKNOWN, "unknown"},         {FIEMAP_EXTENT_DELALLOC, "delayed allocation"},
        {FIEMAP_EXTENT_ENCODED, "encoded"},         {FIEMAP_EXTENT_DATA_ENCRYPTED, "encrypted"},
        {FIEMAP_EXTENT_NOT_ALIGNED, "not aligned"}, {FIEMAP_EXTENT_DATA_INLINE, "inside file system metadata"},
        {FIEMAP_EXTENT_DATA_TAIL, "tail packing"},  {FIEMAP_EXTENT_SHARED, "shared"},
        {FIEMAP_EXTENT_UNWRITTEN, "unwritten"},     {0x80000000u, "does not know"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(khib_fiemap_flags_check(bad[i].flag | FIEMAP_EXTENT_LAST, 0, err, sizeof err) != 0, err,
                  bad[i].want);
    CHECK(khib_fiemap_flags_check(FIEMAP_EXTENT_UNWRITTEN, 1, err, sizeof err) == 0, "unwritten when allowed");
}

/* Transfers through a mapped target land in the map's device bytes only. */
static void test_mapped_io(const char *dir)
{
    char dev[512], err[300];
    snprintf(dev, sizeof dev, "%s/dev", dir);
    int fd = open(dev, O_RDWR | O_CREAT | O_TRUNC, 0600);
    uint8_t *fill = malloc(1u << 20);
    memset(fill, 0xEE, 1u << 20);
    CHECK(fd >= 0 && pwrite(fd, fill, 1u << 20, 0) == 1 << 20, "device file");
    close(fd);
    struct khib_extmap m = map_of(three, 3);
    struct khib_target t;
    CHECK(khib_target_open_mapped(&t, dev, &m, KHIB_OPEN_CREATE, err, sizeof err) == 0, "open mapped: %s", err);
    CHECK(t.size == 16 * K4 && t.capacity == 16 * K4 && t.base == 64 * K4 && t.mapped, "size, base");
    uint8_t *data = malloc(16 * K4), *back = malloc(16 * K4);
    for (uint32_t i = 0; i < 16 * K4; i++)
        data[i] = (uint8_t)(i * 31 + i / K4);
    CHECK(khib_pwrite_all(t.fd, data, 16 * K4, 0, dev, err, sizeof err) == 0, "write the whole file: %s", err);
    CHECK(khib_pwrite_all(t.fd, data, 1, 16 * K4, dev, err, sizeof err) != 0 && strstr(err, "past the end"),
          "a write past the map fails: %s", err);
    memset(back, 0, 16 * K4);
    CHECK(khib_pread_all(t.fd, back, 12 * K4, 2 * K4, dev, err, sizeof err) == 0 &&
              !memcmp(back, data + 2 * K4, 12 * K4), "read across extents: %s", err);
    khib_target_close(&t);
    fd = open(dev, O_RDONLY);
    uint8_t *all = malloc(1u << 20);
    CHECK(pread(fd, all, 1u << 20, 0) == 1 << 20, "read the device");
    close(fd);
    CHECK(!memcmp(all + 64 * K4, data, 8 * K4) && !memcmp(all + 16 * K4, data + 8 * K4, 4 * K4) &&
              !memcmp(all + 200 * K4, data + 12 * K4, 4 * K4), "the bytes are where the map says");
    size_t outside = 0;
    for (uint32_t i = 0; i < (1u << 20); i++) {
        uint32_t page = i / K4;
        int in = (page >= 64 && page < 72) || (page >= 16 && page < 20) || (page >= 200 && page < 204);
        outside += !in && all[i] != 0xEE;
    }
    CHECK(outside == 0, "nothing outside the extents changed (%zu bytes did)", outside);
    /* A map that does not fit the device is refused before any write. */
    struct khib_extent far[] = {{0, 1u << 20, 4 * K4}};
    m = map_of(far, 1);
    CHECK_ERR(khib_target_open_mapped(&t, dev, &m, KHIB_OPEN_WRITE, err, sizeof err) != 0, err,
              "lies outside the device");

    /* The superblock of an image in a file, at the file's first block. */
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    memcpy(sb.magic, KHIB_MAGIC, 8);
    sb.version = KHIB_VERSION;
    sb.sb_size = KHIB_SB_SIZE;
    sb.page_size = KHIB_PAGE_SIZE;
    sb.state = KHIB_STATE_WRITING;
    sb.chunk_pages = 256;
    sb.compression = KHIB_COMP_ZSTD;
    sb.window_size = 192u << 20;
    snprintf(sb.kernel_release, sizeof sb.kernel_release, "6.12.0-test");
    sb.extmap_offset = KHIB_EXTMAP_OFFSET;
    sb.extmap_count = 3;
    sb.file_base = 64 * K4;
    sb.data_offset = khib_extmap_data_offset(3);
    uint8_t enc[KHIB_EXTMAP_HEADER + 3 * KHIB_EXTENT_SIZE];
    m = map_of(three, 3);
    khib_extmap_encode(&m, enc);
    sb.extmap_checksum = khib_hash64(enc, sizeof enc, 0);
    uint8_t sbuf[KHIB_SB_SIZE];
    khib_superblock_encode(&sb, sbuf);
    struct khib_superblock d;
    CHECK(khib_superblock_decode(sbuf, &d, err, sizeof err) == KHIB_SB_OK && d.extmap_count == 3 &&
              d.file_base == 64 * K4 && d.extmap_checksum == sb.extmap_checksum && d.extmap_offset == 4096,
          "superblock extent fields round trip: %s", err);
    struct khib_superblock bad = sb;
    bad.extmap_offset = 8192;
    khib_superblock_encode(&bad, sbuf);
    CHECK_ERR(khib_superblock_decode(sbuf, &d, err, sizeof err) == KHIB_SB_BAD, err, "extent map fields");
    bad = sb;
    bad.extmap_count = 0;
    khib_superblock_encode(&bad, sbuf);
    CHECK_ERR(khib_superblock_decode(sbuf, &d, err, sizeof err) == KHIB_SB_BAD, err, "extent map fields");
    bad = sb;
    bad.cipher = KHIB_CIPHER_XCHACHA20POLY1305;
    khib_superblock_encode(&bad, sbuf);
    CHECK_ERR(khib_superblock_decode(sbuf, &d, err, sizeof err) == KHIB_SB_BAD, err, "encrypted");

    /* Written at the file's first block with its map: opened by device and
     * offset, refused at any other offset and without one. */
    fd = open(dev, O_RDWR);
    khib_superblock_encode(&sb, sbuf);
    CHECK(pwrite(fd, sbuf, sizeof sbuf, 64 * K4) == KHIB_SB_SIZE &&
              pwrite(fd, enc, sizeof enc, 64 * K4 + KHIB_EXTMAP_OFFSET) == (ssize_t)sizeof enc, "write the head");
    close(fd);
    struct khib_image img;
    CHECK(khib_image_open_at(&img, dev, 64 * K4, KHIB_OPEN_READ, err, sizeof err) == KHIB_IMG_OK &&
              img.t.mapped && img.t.size == 16 * K4, "open by device and offset: %s", err);
    if (img.t.fd >= 0) {
        CHECK(khib_pread_all(img.t.fd, back, 16 * K4, 0, dev, err, sizeof err) == 0 &&
                  !memcmp(back + 3 * K4, data + 3 * K4, 13 * K4), "the image reads through the map: %s", err);
    }
    khib_image_close(&img);
    CHECK_ERR(khib_image_open_at(&img, dev, 68 * K4, KHIB_OPEN_READ, err, sizeof err) == KHIB_IMG_NONE, err,
              "no KHIBIMG1 magic at byte 278528");
    khib_image_close(&img);
    CHECK_ERR(khib_image_open(&img, dev, KHIB_OPEN_READ, err, sizeof err) != KHIB_IMG_OK, err, "no KHIBIMG1");
    khib_image_close(&img);
    /* A map that does not match the superblock's checksum. */
    fd = open(dev, O_RDWR);
    uint8_t flip = enc[KHIB_EXTMAP_HEADER + 8] ^ 1;
    CHECK(pwrite(fd, &flip, 1, 64 * K4 + KHIB_EXTMAP_OFFSET + KHIB_EXTMAP_HEADER + 8) == 1, "flip a map byte");
    close(fd);
    CHECK_ERR(khib_image_open_at(&img, dev, 64 * K4, KHIB_OPEN_READ, err, sizeof err) == KHIB_IMG_BAD, err,
              "extent map checksum mismatch");
    khib_image_close(&img);
    free(fill);
    free(data);
    free(back);
    free(all);
}

int main(void)
{
    char dir[] = "/tmp/khib-extents.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_check();
    test_locate_codec();
    test_flags();
    test_mapped_io(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
