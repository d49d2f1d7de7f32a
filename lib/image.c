#define _GNU_SOURCE
#include "image.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xxhash64.h"

/* An index larger than this is not believed (a 1 TiB machine needs 18 MiB). */
#define INDEX_MAX (512u << 20)

/* No khib superblock at byte 0: "never written" unless the data behind it
 * says otherwise.  A khib image's chunks are zstd frames back to back from
 * KHIB_SB_SIZE, so a zstd frame there (magic 28 B5 2F FD and a frame header
 * descriptor without the reserved bit) means a superblock destroyed, by a
 * zeroed or overwritten first block.  A blank target, another file system
 * or random bytes have no frame there (random: 1 in 2^33). */
static int no_superblock(struct khib_image *img, char *err, size_t errlen)
{
    static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    uint8_t head[5];
    char why[300];
    if (img->t.size >= KHIB_SB_SIZE + sizeof head &&
        khib_pread_all(img->t.fd, head, sizeof head, KHIB_SB_SIZE, img->t.path, why, sizeof why) == 0 &&
        !memcmp(head, zstd_magic, 4) && !(head[4] & 0x08)) {
        snprintf(err, errlen, "%s: the superblock is damaged: no %s magic at byte 0, but a zstd frame at byte %u,"
                 " where a khib image's data begins; a committed image may have been destroyed (the disk may be"
                 " failing)", img->t.path, KHIB_MAGIC, KHIB_SB_SIZE);
        return KHIB_IMG_BAD;
    }
    snprintf(err, errlen, "no %s magic at byte 0: never written, or not a khib image", KHIB_MAGIC);
    return KHIB_IMG_NONE;
}

/* The image in a file whose first byte is at device byte offset of path:
 * the superblock there, the extent map after it (in the file's first
 * extent, which holds both), checked against the superblock's checksum of
 * it and against the device; then the target reads and writes through the
 * map.  Results as khib_image_open. */
static int open_in_file(struct khib_image *img, const char *path, uint64_t offset, enum khib_open_mode mode,
                        char *err, size_t errlen)
{
    if (khib_target_open(&img->t, path, mode == KHIB_OPEN_READ ? KHIB_OPEN_READ : KHIB_OPEN_WRITE, err,
                         errlen) != 0)
        return KHIB_IMG_IO;
    if (offset % KHIB_PAGE_SIZE || offset > img->t.size || img->t.size - offset < KHIB_SB_SIZE) {
        snprintf(err, errlen, "%s: offset %" PRIu64 " is not a page-aligned place inside its %" PRIu64 " bytes",
                 path, offset, img->t.size);
        return KHIB_IMG_BAD;
    }
    uint8_t buf[KHIB_SB_SIZE];
    if (khib_pread_all(img->t.fd, buf, sizeof buf, offset, path, err, errlen) != 0)
        return KHIB_IMG_IO;
    char why[400];
    int rc = khib_superblock_decode(buf, &img->sb, why, sizeof why);
    if (rc == KHIB_SB_NONE) {
        snprintf(err, errlen, "no %s magic at byte %" PRIu64 " (the image file's first block): never written,"
                 " or not a khib image", KHIB_MAGIC, offset);
        return KHIB_IMG_NONE;
    }
    if (rc != KHIB_SB_OK) {
        snprintf(err, errlen, "%s at byte %" PRIu64 ": %s", path, offset, why);
        return KHIB_IMG_BAD;
    }
    const struct khib_superblock *sb = &img->sb;
    if (!sb->extmap_count || sb->file_base != offset) {
        snprintf(err, errlen, "%s at byte %" PRIu64 ": the superblock there is not that of an image in a file"
                 " beginning at that byte (%s %" PRIu64 "): not using it", path, offset,
                 sb->extmap_count ? "its file begins at" : "it has no extent map; file base", sb->file_base);
        return KHIB_IMG_BAD;
    }
    uint64_t bytes = khib_extmap_bytes(sb->extmap_count);
    uint8_t *raw = malloc(bytes);
    if (!raw) {
        snprintf(err, errlen, "out of memory for an extent map of %" PRIu32 " extents", sb->extmap_count);
        return KHIB_IMG_IO;
    }
    struct khib_extmap map = {0};
    rc = KHIB_IMG_IO;
    if (khib_pread_all(img->t.fd, raw, bytes, offset + sb->extmap_offset, path, err, errlen) != 0)
        goto out;
    rc = KHIB_IMG_BAD;
    if (khib_hash64(raw, bytes, 0) != sb->extmap_checksum) {
        snprintf(err, errlen, "%s at byte %" PRIu64 ": extent map checksum mismatch: the map is damaged", path,
                 offset);
        goto out;
    }
    if (khib_extmap_decode(raw, bytes, &map, why, sizeof why) != 0 || map.e[0].physical != offset) {
        snprintf(err, errlen, "%s at byte %" PRIu64 ": bad extent map: %s", path, offset,
                 map.count ? "its first extent is not at that byte" : why);
        goto out;
    }
    khib_target_close(&img->t);
    if (khib_target_open_mapped(&img->t, path, &map, mode == KHIB_OPEN_READ ? KHIB_OPEN_READ : KHIB_OPEN_WRITE,
                                err, errlen) != 0)
        goto out;
    rc = KHIB_IMG_OK;
out:
    khib_extmap_free(&map);
    free(raw);
    return rc;
}

int khib_image_open(struct khib_image *img, const char *path, enum khib_open_mode mode, char *err, size_t errlen)
{
    return khib_image_open_at(img, path, 0, mode, err, errlen);
}

int khib_image_open_at(struct khib_image *img, const char *path, uint64_t offset, enum khib_open_mode mode,
                       char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    img->t.fd = -1;
    if (offset)
        return open_in_file(img, path, offset, mode, err, errlen);
    img->t.fd = -1;
    if (khib_target_open(&img->t, path, mode, err, errlen) != 0)
        return KHIB_IMG_IO;
    if (img->t.size < KHIB_SB_SIZE) {
        snprintf(err, errlen, "it holds only %" PRIu64 " bytes, less than a superblock", img->t.size);
        return KHIB_IMG_NONE;
    }
    uint8_t buf[KHIB_SB_SIZE];
    if (khib_pread_all(img->t.fd, buf, sizeof buf, 0, path, err, errlen) != 0)
        return KHIB_IMG_IO;
    char why[400];
    int rc = khib_superblock_decode(buf, &img->sb, why, sizeof why);
    if (rc == KHIB_SB_NONE)
        return no_superblock(img, err, errlen);
    if (rc != KHIB_SB_OK) {
        snprintf(err, errlen, "%s: %s", path, why);
        return KHIB_IMG_BAD;
    }
    if (img->sb.extmap_count) {
        snprintf(err, errlen, "%s: the image lives in a file whose first block is at byte %" PRIu64 " of its"
                 " device: open the device with that offset (khib-restore --offset, khib.offset=)", path,
                 img->sb.file_base);
        return KHIB_IMG_BAD;
    }
    return KHIB_IMG_OK;
}

void khib_image_close(struct khib_image *img)
{
    khib_index_free(&img->idx);
    khib_target_close(&img->t);
}

int khib_image_load_index(struct khib_image *img, char *err, size_t errlen)
{
    const struct khib_superblock *sb = &img->sb;
    const char *path = img->t.path;
    char why[400];
    if (khib_superblock_check_layout(sb, img->t.size, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return KHIB_IMG_BAD;
    }
    if (sb->index_bytes > INDEX_MAX) {
        snprintf(err, errlen, "%s: index of %" PRIu64 " bytes is not believable", path, sb->index_bytes);
        return KHIB_IMG_BAD;
    }
    uint8_t *buf = malloc(sb->index_bytes);
    if (!buf) {
        snprintf(err, errlen, "out of memory for an index of %" PRIu64 " bytes", sb->index_bytes);
        return KHIB_IMG_IO;
    }
    int rc = KHIB_IMG_IO;
    if (khib_pread_all(img->t.fd, buf, sb->index_bytes, sb->index_offset, path, err, errlen) != 0)
        goto out;
    rc = KHIB_IMG_BAD;
    uint64_t sum = khib_hash64(buf, sb->index_bytes, 0);
    if (sum != sb->index_checksum) {
        snprintf(err, errlen, "%s: index checksum mismatch (superblock %016" PRIx64 ", index %016" PRIx64
                 "): the index is damaged", path, sb->index_checksum, sum);
        goto out;
    }
    khib_index_free(&img->idx);
    if (khib_index_decode(buf, sb->index_bytes, &img->idx, why, sizeof why) != 0 ||
        khib_index_check(sb, &img->idx, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: bad index: %s", path, why);
        khib_index_free(&img->idx);
        goto out;
    }
    rc = KHIB_IMG_OK;
out:
    free(buf);
    return rc;
}

int khib_superblock_write(int fd, const char *path, const struct khib_superblock *sb, char *err, size_t errlen)
{
    uint8_t buf[KHIB_SB_SIZE];
    khib_superblock_encode(sb, buf);
    if (khib_pwrite_all(fd, buf, sizeof buf, 0, path, err, errlen) != 0)
        return -1;
    return khib_datasync(fd, path, err, errlen);
}

int khib_image_mark(struct khib_image *img, uint32_t state, uint64_t consumed_ns, char *err, size_t errlen)
{
    struct khib_superblock sb = img->sb;
    sb.state = state;
    sb.consumed_ns = consumed_ns;
    if (khib_superblock_write(img->t.fd, img->t.path, &sb, err, errlen) != 0)
        return -1;
    img->sb = sb;
    return 0;
}

int khib_image_abandon(const char *path, const char *reason, uint8_t uuid[16], char *err, size_t errlen)
{
    return khib_image_abandon_at(path, 0, reason, uuid, err, errlen);
}

int khib_image_abandon_at(const char *path, uint64_t offset, const char *reason, uint8_t uuid[16], char *err,
                          size_t errlen)
{
    struct khib_image img;
    /* Read first: with nothing to retire the device is never opened for
     * writing, which a kernel without CONFIG_BLK_DEV_WRITE_MOUNTED refuses
     * (EBUSY) while a file system on it is mounted (bdev_may_open(),
     * block/bdev.c): an image file on the root, as khib-retire.service
     * sees it at every boot. */
    int rc = khib_image_open_at(&img, path, offset, KHIB_OPEN_READ, err, errlen);
    int committed = rc == KHIB_IMG_OK && img.sb.state == KHIB_STATE_COMMITTED;
    khib_image_close(&img);
    if (rc == KHIB_IMG_IO)
        return -1;
    if (!committed)
        return 0;
    rc = khib_image_open_at(&img, path, offset, KHIB_OPEN_WRITE, err, errlen);
    if (rc == KHIB_IMG_NONE || rc == KHIB_IMG_BAD) {
        khib_image_close(&img);
        return 0;
    }
    if (rc != KHIB_IMG_OK)
        return -1;
    rc = 0;
    if (img.sb.state == KHIB_STATE_COMMITTED) {
        struct khib_superblock sb = img.sb;
        sb.state = KHIB_STATE_ABANDONED;
        sb.abandoned_ns = khib_realtime_ns();
        memset(sb.abandon_reason, 0, sizeof sb.abandon_reason);
        snprintf(sb.abandon_reason, sizeof sb.abandon_reason, "%s", reason);
        rc = khib_superblock_write(img.t.fd, img.t.path, &sb, err, errlen) != 0 ? -1 : 1;
        memcpy(uuid, sb.uuid, 16);
    }
    khib_image_close(&img);
    return rc;
}
