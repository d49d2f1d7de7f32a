/* (a) The superblock: khib_superblock_decode, khib-restore --info's
 * print_info on whatever decodes, and khib_superblock_check_layout.
 *
 * Input: bytes [0, 4096) are the superblock (zero-padded when shorter); the
 * 8 bytes after it, when present, the image size for the layout check
 * (little-endian; absent: 2^40).  Each input is tried as it is and, so that
 * mutations get past the checksum, once more with its checksum fixed. */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

#include "../../restorer/info.h"
#include "extents.h"
#include "image.h"
#include "image_codec.h"
#include "le.h"
#include "xxhash64.h"

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

/* What a decoded superblock promises its users. */
static void check_decoded(const struct khib_superblock *sb)
{
    khib_fuzz_assert(memcmp(sb->magic, KHIB_MAGIC, 8) == 0);
    khib_fuzz_assert(sb->version == KHIB_VERSION && sb->sb_size == KHIB_SB_SIZE && sb->page_size == KHIB_PAGE_SIZE);
    khib_fuzz_assert(sb->state <= KHIB_STATE_ABANDONED && sb->compression == KHIB_COMP_ZSTD);
    khib_fuzz_assert(memchr(sb->abandon_reason, 0, KHIB_ABANDON_LEN) != NULL);
    khib_fuzz_assert(sb->chunk_pages >= 1 && sb->chunk_pages <= KHIB_CHUNK_PAGES_MAX);
    khib_fuzz_assert(sb->fs_count <= KHIB_FS_MAX && sb->build_id_len <= KHIB_BUILD_ID_MAX);
    khib_fuzz_assert(memchr(sb->kernel_release, 0, KHIB_RELEASE_LEN) != NULL);
    for (uint32_t i = 0; i < sb->fs_count; i++)
        khib_fuzz_assert(sb->fs[i].dev[0] && memchr(sb->fs[i].dev, 0, KHIB_FS_DEV_LEN) != NULL &&
                         sb->fs[i].kind >= KHIB_FS_EXT && sb->fs[i].kind <= KHIB_FS_VFAT);
    /* The restorer's window check rounds the end up to a page. */
    khib_fuzz_assert((sb->window_start | sb->window_size) % KHIB_PAGE_SIZE == 0);
    khib_fuzz_assert(sb->window_size <= UINT64_MAX - sb->window_start);
    /* khib_mailbox_post takes only a page. */
    khib_fuzz_assert(sb->mailbox_addr % KHIB_PAGE_SIZE == 0);
}

/* What a layout check that passed promises khib_image_load_index and the
 * frame reader: every offset and end computed without overflow. */
static void check_layout_ok(const struct khib_superblock *sb, uint64_t image_size)
{
    uint64_t data_end, index_end;
    khib_fuzz_assert(sb->range_count >= 1 && sb->chunk_count >= sb->range_count);
    khib_fuzz_assert(sb->pages_zero <= sb->pages_total && sb->pages_excluded <= sb->pages_total - sb->pages_zero &&
                     sb->pages_zero + sb->pages_excluded + sb->pages_stored == sb->pages_total);
    /* The data start after the superblock, a key header, or an image
     * file's extent map (lib/extents.h), which must end before them. */
    if (sb->extmap_count)
        khib_fuzz_assert(sb->extmap_offset == KHIB_EXTMAP_OFFSET &&
                         sb->data_offset == khib_extmap_data_offset(sb->extmap_count) &&
                         sb->extmap_offset + khib_extmap_bytes(sb->extmap_count) <= sb->data_offset);
    else
        khib_fuzz_assert(sb->data_offset == KHIB_SB_SIZE || sb->data_offset == KHIB_DATA_OFFSET_KEYED);
    khib_fuzz_assert(sb->index_offset % KHIB_PAGE_SIZE == 0);
    khib_fuzz_assert(!__builtin_add_overflow(sb->data_offset, sb->data_bytes, &data_end));
    khib_fuzz_assert(data_end <= sb->index_offset);
    khib_fuzz_assert(sb->index_bytes == khib_index_size(sb->range_count, sb->chunk_count));
    khib_fuzz_assert(!__builtin_add_overflow(sb->index_offset, sb->index_bytes, &index_end));
    khib_fuzz_assert(index_end <= image_size);
}

static void one(const uint8_t *buf, uint64_t image_size)
{
    struct khib_superblock sb;
    char err[512];
    err[0] = 0;
    int rc = khib_superblock_decode(buf, &sb, err, sizeof err);
    khib_fuzz_assert(rc == KHIB_SB_OK || rc == KHIB_SB_NONE || rc == KHIB_SB_BAD);
    if (rc != KHIB_SB_OK) {
        khib_fuzz_assert(err[0] != 0);
        return;
    }
    check_decoded(&sb);

    /* Encoding what was decoded gives a superblock that decodes the same. */
    uint8_t enc[KHIB_SB_SIZE], enc2[KHIB_SB_SIZE];
    struct khib_superblock sb2;
    khib_superblock_encode(&sb, enc);
    khib_fuzz_assert(khib_superblock_decode(enc, &sb2, err, sizeof err) == KHIB_SB_OK);
    khib_superblock_encode(&sb2, enc2);
    khib_fuzz_assert(memcmp(enc, enc2, sizeof enc) == 0);

    /* khib-restore --info shows a superblock in any state. */
    struct khib_image img;
    memset(&img, 0, sizeof img);
    img.t.fd = -1;
    img.t.path = "fuzz.img";
    img.t.size = image_size;
    img.sb = sb;
    if (devnull())
        print_info(devnull(), &img);

    if (khib_superblock_check_layout(&sb, image_size, err, sizeof err) == 0)
        check_layout_ok(&sb, image_size);
    else
        khib_fuzz_assert(err[0] != 0);
}

int khib_fuzz_superblock(const uint8_t *data, size_t size)
{
    uint8_t buf[KHIB_SB_SIZE];
    memset(buf, 0, sizeof buf);
    memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
    uint64_t image_size = size >= KHIB_SB_SIZE + 8 ? khib_get64(data + KHIB_SB_SIZE) : 1ull << 40;
    one(buf, image_size);
    uint64_t sum = khib_hash64(buf, KHIB_SB_SIZE - 8, 0);
    if (khib_get64(buf + KHIB_SB_SIZE - 8) != sum) {
        khib_put64(buf + KHIB_SB_SIZE - 8, sum);
        one(buf, image_size);
    }
    return 0;
}
