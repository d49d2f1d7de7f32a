#define _GNU_SOURCE
#include "image_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extents.h"
#include "le.h"
#include "xxhash64.h"

#define SB_CHECKSUM_OFF (KHIB_SB_SIZE - 8)
#define FS_OFF 272u

/* Physical addresses must stay below 2^64: pfns below 2^52. */
#define PFN_LIMIT (1ULL << 52)

const char *khib_state_name(uint32_t state)
{
    switch (state) {
    case KHIB_STATE_EMPTY: return "EMPTY";
    case KHIB_STATE_WRITING: return "WRITING";
    case KHIB_STATE_COMMITTED: return "COMMITTED";
    case KHIB_STATE_CONSUMED: return "CONSUMED";
    case KHIB_STATE_ABANDONED: return "ABANDONED";
    default: return "UNKNOWN";
    }
}

void khib_fs_record_encode(const struct khib_fs_record *r, void *buf)
{
    uint8_t *p = buf;
    memset(p, 0, KHIB_FS_RECORD_SIZE);
    memcpy(p, r->dev, KHIB_FS_DEV_LEN);
    p[KHIB_FS_DEV_LEN - 1] = 0;
    memcpy(p + 64, r->mnt, KHIB_FS_MNT_LEN);
    p[64 + KHIB_FS_MNT_LEN - 1] = 0;
    khib_put32(p + 128, r->kind);
    khib_put32(p + 132, r->major);
    khib_put32(p + 136, r->minor);
    khib_put32(p + 140, r->flags);
    khib_put64(p + 144, r->dev_bytes);
    memcpy(p + 152, r->uuid, 16);
    for (unsigned i = 0; i < KHIB_FS_STATE_WORDS; i++)
        khib_put64(p + 168 + 8 * i, r->state[i]);
}

void khib_fs_record_decode(const void *buf, struct khib_fs_record *r)
{
    const uint8_t *p = buf;
    memcpy(r->dev, p, KHIB_FS_DEV_LEN);
    memcpy(r->mnt, p + 64, KHIB_FS_MNT_LEN);
    r->kind = khib_get32(p + 128);
    r->major = khib_get32(p + 132);
    r->minor = khib_get32(p + 136);
    r->flags = khib_get32(p + 140);
    r->dev_bytes = khib_get64(p + 144);
    memcpy(r->uuid, p + 152, 16);
    for (unsigned i = 0; i < KHIB_FS_STATE_WORDS; i++)
        r->state[i] = khib_get64(p + 168 + 8 * i);
}

int khib_fs_records_check(const struct khib_fs_record *fs, uint32_t count, char *err, size_t errlen)
{
    if (count > KHIB_FS_MAX) {
        snprintf(err, errlen, "%" PRIu32 " file system records, at most %u", count, KHIB_FS_MAX);
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        const struct khib_fs_record *r = &fs[i];
        if (!memchr(r->dev, 0, KHIB_FS_DEV_LEN) || !r->dev[0] || !memchr(r->mnt, 0, KHIB_FS_MNT_LEN) ||
            !r->mnt[0]) {
            snprintf(err, errlen, "file system record %" PRIu32 " has no valid device name or mount point", i);
            return -1;
        }
        /* A kernel name is opened as /dev/NAME: no "..", no further slash. */
        if (r->dev[0] != '/' && (strchr(r->dev, '/') || !strcmp(r->dev, "..") || !strcmp(r->dev, "."))) {
            snprintf(err, errlen, "file system record %" PRIu32 " names device '%s', not a kernel name", i, r->dev);
            return -1;
        }
        if (r->kind < KHIB_FS_EXT || r->kind > KHIB_FS_VFAT || r->flags & ~KHIB_FSREC_RDONLY) {
            snprintf(err, errlen, "file system record %" PRIu32 " has unknown kind %" PRIu32 " or flags 0x%" PRIx32,
                     i, r->kind, r->flags);
            return -1;
        }
    }
    return 0;
}

int khib_handoff_check(const char *what, const struct khib_handoff_fields *f, char *err, size_t errlen)
{
    if (f->fs_count > KHIB_FS_MAX || f->build_id_len > KHIB_BUILD_ID_MAX) {
        snprintf(err, errlen, "%s counts out of range (fs_count %" PRIu32 ", build_id_len %u)", what, f->fs_count,
                 f->build_id_len);
        return -1;
    }
    /* The restorer rounds the window's end up to a page: a window that
     * wraps, or ends in the last page, would pass for an empty one and let a
     * restore overwrite the restore kernel. */
    if ((f->window_start | f->window_size) % KHIB_PAGE_SIZE || f->window_size > UINT64_MAX - f->window_start) {
        snprintf(err, errlen, "%s window 0x%" PRIx64 "+0x%" PRIx64 " is not page-aligned or wraps around", what,
                 f->window_start, f->window_size);
        return -1;
    }
    /* Posting to a mailbox that is not page-aligned fails, and in R only
     * after the memory was written. */
    if (f->mailbox_addr % KHIB_PAGE_SIZE) {
        snprintf(err, errlen, "%s mailbox address 0x%" PRIx64 " is not page-aligned", what, f->mailbox_addr);
        return -1;
    }
    if (!memchr(f->kernel_release, 0, KHIB_RELEASE_LEN)) {
        snprintf(err, errlen, "%s kernel release is not NUL-terminated", what);
        return -1;
    }
    char why[300];
    if (khib_fs_records_check(f->fs, f->fs_count, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", what, why);
        return -1;
    }
    return 0;
}

uint32_t khib_window_overlap(const struct khib_range *r, uint32_t n, uint64_t start, uint64_t size)
{
    uint64_t ws = start >> KHIB_PAGE_SHIFT, we = (start + size + KHIB_PAGE_SIZE - 1) >> KHIB_PAGE_SHIFT;
    for (uint32_t i = 0; i < n; i++)
        if (r[i].start_pfn < we && r[i].start_pfn + r[i].pages > ws)
            return i;
    return n;
}

void khib_superblock_encode(const struct khib_superblock *sb, void *buf)
{
    uint8_t *p = buf;
    memset(p, 0, KHIB_SB_SIZE);
    memcpy(p, sb->magic, 8);
    khib_put32(p + 8, sb->version);
    khib_put32(p + 12, sb->sb_size);
    khib_put32(p + 16, sb->state);
    khib_put32(p + 20, sb->page_size);
    memcpy(p + 24, sb->uuid, 16);
    khib_put64(p + 40, sb->created_ns);
    memcpy(p + 48, sb->kernel_release, KHIB_RELEASE_LEN);
    p[113] = sb->build_id_len;
    memcpy(p + 114, sb->build_id, KHIB_BUILD_ID_MAX);
    khib_put64(p + 136, sb->memmap_digest);
    khib_put64(p + 144, sb->jump_back_entry);
    khib_put64(p + 152, sb->mailbox_addr);
    khib_put64(p + 160, sb->window_start);
    khib_put64(p + 168, sb->window_size);
    khib_put64(p + 176, sb->pages_total);
    khib_put64(p + 184, sb->pages_zero);
    khib_put64(p + 192, sb->pages_stored);
    khib_put64(p + 200, sb->data_offset);
    khib_put64(p + 208, sb->data_bytes);
    khib_put64(p + 216, sb->index_offset);
    khib_put64(p + 224, sb->index_bytes);
    khib_put64(p + 232, sb->index_checksum);
    khib_put32(p + 240, sb->range_count);
    khib_put32(p + 244, sb->chunk_count);
    khib_put32(p + 248, sb->chunk_pages);
    khib_put32(p + 252, sb->compression);
    khib_put32(p + 256, (uint32_t)sb->level);
    khib_put32(p + 260, sb->fs_count);
    khib_put64(p + 264, sb->saved_ns);
    for (unsigned i = 0; i < KHIB_FS_MAX; i++)
        khib_fs_record_encode(&sb->fs[i], p + FS_OFF + i * KHIB_FS_RECORD_SIZE);
    khib_put64(p + 3600, sb->mailbox_nonce);
    khib_put64(p + 3608, sb->consumed_ns);
    khib_put64(p + 3616, sb->abandoned_ns);
    memcpy(p + 3624, sb->abandon_reason, KHIB_ABANDON_LEN);
    p[3624 + KHIB_ABANDON_LEN - 1] = 0;
    khib_put64(p + 3752, sb->pages_excluded);
    khib_put64(p + 3760, sb->extmap_offset);                /* an image in a file: lib/extents.h */
    khib_put32(p + 3768, sb->extmap_count);
    khib_put64(p + 3776, sb->extmap_checksum);
    khib_put64(p + 3784, sb->file_base);
    memcpy(p + 3960, sb->host_name, KHIB_HOST_LEN);
    p[3960 + KHIB_HOST_LEN - 1] = 0;
    khib_put64(p + 4024, sb->locked_ns);
    khib_put32(p + 3840, sb->cipher);                       /* encryption: docs/encryption.md */
    memcpy(p + 3848, sb->sealed_key, KHIB_SEALED_KEY_LEN);
    memcpy(p + 3928, sb->mac, KHIB_MAC_LEN);
    khib_put64(p + SB_CHECKSUM_OFF, khib_hash64(p, SB_CHECKSUM_OFF, 0));
}

static int nul_terminated(const char *s, size_t len)
{
    return memchr(s, 0, len) != NULL;
}

/* No magic at byte 0: never written, or a khib superblock whose magic was
 * damaged.  The evidence for damage (docs/image-format.md): the checksum
 * verifies once the magic is put back, or at least 6 of its 8 bytes are
 * there (by chance: about 1 in 10^13). */
static int magic_damage(const uint8_t *p, uint64_t want, char *err, size_t errlen)
{
    uint8_t copy[SB_CHECKSUM_OFF];
    memcpy(copy, p, sizeof copy);
    memcpy(copy, KHIB_MAGIC, 8);
    int same = 0, first = -1;
    for (int i = 0; i < 8; i++) {
        same += p[i] == (uint8_t)KHIB_MAGIC[i];
        if (p[i] != (uint8_t)KHIB_MAGIC[i] && first < 0)
            first = i;
    }
    int verifies = khib_hash64(copy, sizeof copy, 0) == want;
    if (!verifies && same < 6) {
        snprintf(err, errlen, "no khib image (no %s magic at byte 0)", KHIB_MAGIC);
        return KHIB_SB_NONE;
    }
    snprintf(err, errlen, "the superblock is damaged: its magic has byte %d = 0x%02x, not 0x%02x ('%c')%s; a"
             " committed image may have been destroyed (the disk may be failing)", first, p[first],
             (uint8_t)KHIB_MAGIC[first], KHIB_MAGIC[first],
             verifies ? ", and the rest of it verifies" : "");
    return KHIB_SB_BAD;
}

int khib_superblock_decode(const void *buf, struct khib_superblock *sb, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    memset(sb, 0, sizeof *sb);
    uint64_t want = khib_get64(p + SB_CHECKSUM_OFF), got;
    if (memcmp(p, KHIB_MAGIC, 8) != 0)
        return magic_damage(p, want, err, errlen);
    got = khib_hash64(p, SB_CHECKSUM_OFF, 0);
    if (want != got) {
        snprintf(err, errlen, "superblock checksum mismatch (stored %016" PRIx64 ", computed %016" PRIx64
                 "): the superblock is damaged", want, got);
        return KHIB_SB_BAD;
    }
    memcpy(sb->magic, p, 8);
    sb->version = khib_get32(p + 8);
    sb->sb_size = khib_get32(p + 12);
    sb->state = khib_get32(p + 16);
    sb->page_size = khib_get32(p + 20);
    memcpy(sb->uuid, p + 24, 16);
    sb->created_ns = khib_get64(p + 40);
    memcpy(sb->kernel_release, p + 48, KHIB_RELEASE_LEN);
    sb->build_id_len = p[113];
    memcpy(sb->build_id, p + 114, KHIB_BUILD_ID_MAX);
    sb->memmap_digest = khib_get64(p + 136);
    sb->jump_back_entry = khib_get64(p + 144);
    sb->mailbox_addr = khib_get64(p + 152);
    sb->window_start = khib_get64(p + 160);
    sb->window_size = khib_get64(p + 168);
    sb->pages_total = khib_get64(p + 176);
    sb->pages_zero = khib_get64(p + 184);
    sb->pages_stored = khib_get64(p + 192);
    sb->data_offset = khib_get64(p + 200);
    sb->data_bytes = khib_get64(p + 208);
    sb->index_offset = khib_get64(p + 216);
    sb->index_bytes = khib_get64(p + 224);
    sb->index_checksum = khib_get64(p + 232);
    sb->range_count = khib_get32(p + 240);
    sb->chunk_count = khib_get32(p + 244);
    sb->chunk_pages = khib_get32(p + 248);
    sb->compression = khib_get32(p + 252);
    sb->level = (int32_t)khib_get32(p + 256);
    sb->fs_count = khib_get32(p + 260);
    sb->saved_ns = khib_get64(p + 264);
    for (unsigned i = 0; i < KHIB_FS_MAX; i++)
        khib_fs_record_decode(p + FS_OFF + i * KHIB_FS_RECORD_SIZE, &sb->fs[i]);
    sb->mailbox_nonce = khib_get64(p + 3600);
    sb->consumed_ns = khib_get64(p + 3608);
    sb->abandoned_ns = khib_get64(p + 3616);
    memcpy(sb->abandon_reason, p + 3624, KHIB_ABANDON_LEN);
    sb->pages_excluded = khib_get64(p + 3752);
    sb->extmap_offset = khib_get64(p + 3760);               /* an image in a file: lib/extents.h */
    sb->extmap_count = khib_get32(p + 3768);
    sb->extmap_checksum = khib_get64(p + 3776);
    sb->file_base = khib_get64(p + 3784);
    memcpy(sb->host_name, p + 3960, KHIB_HOST_LEN);
    sb->locked_ns = khib_get64(p + 4024);
    sb->cipher = khib_get32(p + 3840);                      /* encryption: docs/encryption.md */
    memcpy(sb->sealed_key, p + 3848, KHIB_SEALED_KEY_LEN);
    memcpy(sb->mac, p + 3928, KHIB_MAC_LEN);
    sb->checksum = want;

    if (sb->version != KHIB_VERSION) {
        snprintf(err, errlen, "image format version %" PRIu32 " is not supported (this khib reads version %u%s)",
                 sb->version, KHIB_VERSION,
                 sb->version < KHIB_VERSION ? ": the image was written by an older khib, whose index and file"
                                              " system records this khib cannot read; it is not restored" : "");
        return KHIB_SB_BAD;
    }
    if (sb->sb_size != KHIB_SB_SIZE || sb->page_size != KHIB_PAGE_SIZE) {
        snprintf(err, errlen, "superblock size %" PRIu32 " / page size %" PRIu32 " unsupported (need %u / %u)",
                 sb->sb_size, sb->page_size, KHIB_SB_SIZE, KHIB_PAGE_SIZE);
        return KHIB_SB_BAD;
    }
    if (sb->state > KHIB_STATE_ABANDONED) {
        snprintf(err, errlen, "superblock state %" PRIu32 " is unknown", sb->state);
        return KHIB_SB_BAD;
    }
    if (sb->compression != KHIB_COMP_ZSTD) {
        snprintf(err, errlen, "compression %" PRIu32 " is unknown (1 = zstd)", sb->compression);
        return KHIB_SB_BAD;
    }
    if (sb->chunk_pages == 0 || sb->chunk_pages > KHIB_CHUNK_PAGES_MAX) {
        snprintf(err, errlen, "chunk_pages %" PRIu32 " is out of range (1..%u)", sb->chunk_pages,
                 KHIB_CHUNK_PAGES_MAX);
        return KHIB_SB_BAD;
    }
    struct khib_handoff_fields f = {sb->window_start, sb->window_size, sb->mailbox_addr, sb->fs_count,
                                    sb->build_id_len, sb->kernel_release, sb->fs};
    if (khib_handoff_check("superblock", &f, err, errlen) != 0)
        return KHIB_SB_BAD;
    if (!nul_terminated(sb->abandon_reason, KHIB_ABANDON_LEN) || !nul_terminated(sb->host_name, KHIB_HOST_LEN)) {
        snprintf(err, errlen, "superblock abandon reason or host name is not NUL-terminated");
        return KHIB_SB_BAD;
    }
    if (sb->extmap_count ? (sb->extmap_offset != KHIB_EXTMAP_OFFSET || sb->extmap_count > KHIB_EXTMAP_MAX ||
                            sb->file_base == 0 || sb->file_base % KHIB_PAGE_SIZE || sb->cipher)
                         : (sb->extmap_offset || sb->extmap_checksum || sb->file_base)) {
        snprintf(err, errlen, "superblock extent map fields are inconsistent (map at %" PRIu64 ", %" PRIu32
                 " extents, file at device byte %" PRIu64 "%s)", sb->extmap_offset, sb->extmap_count, sb->file_base,
                 sb->cipher ? ", encrypted" : "");
        return KHIB_SB_BAD;
    }
    if (sb->cipher > KHIB_CIPHER_AES256GCM) {
        snprintf(err, errlen, "cipher %" PRIu32 " is unknown (1 = XChaCha20-Poly1305, 2 = AES-256-GCM)", sb->cipher);
        return KHIB_SB_BAD;
    }
    return KHIB_SB_OK;
}

int khib_superblock_check_layout(const struct khib_superblock *sb, uint64_t image_size, char *err,
                                 size_t errlen)
{
    if (sb->range_count == 0 || sb->chunk_count < sb->range_count) {
        snprintf(err, errlen, "superblock counts are inconsistent: %" PRIu32 " ranges, %" PRIu32 " chunks",
                 sb->range_count, sb->chunk_count);
        return -1;
    }
    if (sb->pages_zero > sb->pages_total || sb->pages_excluded > sb->pages_total - sb->pages_zero ||
        sb->pages_total - sb->pages_zero - sb->pages_excluded != sb->pages_stored) {
        snprintf(err, errlen, "page counts do not add up: %" PRIu64 " total != %" PRIu64 " zero + %" PRIu64
                 " stored + %" PRIu64 " excluded", sb->pages_total, sb->pages_zero, sb->pages_stored,
                 sb->pages_excluded);
        return -1;
    }
    /* KHIB_DATA_OFFSET_KEYED: a key header lies between (docs/encryption.md);
     * in a file, the extent map. */
    if (sb->extmap_count && sb->data_offset != khib_extmap_data_offset(sb->extmap_count)) {
        snprintf(err, errlen, "data offset %" PRIu64 " is not %" PRIu64 ", right after an extent map of %" PRIu32
                 " extents", sb->data_offset, khib_extmap_data_offset(sb->extmap_count), sb->extmap_count);
        return -1;
    }
    if (!sb->extmap_count && sb->data_offset != KHIB_SB_SIZE && sb->data_offset != KHIB_DATA_OFFSET_KEYED) {
        snprintf(err, errlen, "data offset %" PRIu64 " is not %u (or %u after a key header)", sb->data_offset,
                 KHIB_SB_SIZE, KHIB_DATA_OFFSET_KEYED);
        return -1;
    }
    if (sb->index_offset % KHIB_PAGE_SIZE) {
        snprintf(err, errlen, "index offset %" PRIu64 " is not page-aligned", sb->index_offset);
        return -1;
    }
    if (sb->data_bytes > UINT64_MAX / 2 || sb->index_offset < sb->data_offset + sb->data_bytes) {
        snprintf(err, errlen, "index offset %" PRIu64 " lies inside the data (%" PRIu64 " bytes from %" PRIu64 ")",
                 sb->index_offset, sb->data_bytes, sb->data_offset);
        return -1;
    }
    uint64_t want = khib_index_size(sb->range_count, sb->chunk_count);
    if (sb->index_bytes != want) {
        snprintf(err, errlen, "index is %" PRIu64 " bytes long but %" PRIu32 " ranges and %" PRIu32
                 " chunks need %" PRIu64, sb->index_bytes, sb->range_count, sb->chunk_count, want);
        return -1;
    }
    if (sb->index_offset > UINT64_MAX / 2 || sb->index_offset + sb->index_bytes > image_size) {
        snprintf(err, errlen, "the image ends at byte %" PRIu64 " but only %" PRIu64
                 " bytes are there (truncated image, or the wrong device?)",
                 sb->index_offset + sb->index_bytes, image_size);
        return -1;
    }
    return 0;
}

void khib_index_encode(const struct khib_index *idx, void *buf)
{
    uint8_t *p = buf;
    memcpy(p, KHIB_INDEX_MAGIC, 8);
    khib_put32(p + 8, idx->range_count);
    khib_put32(p + 12, idx->chunk_count);
    p += KHIB_INDEX_HEADER_SIZE;
    for (uint32_t i = 0; i < idx->range_count; i++, p += KHIB_RANGE_SIZE) {
        khib_put64(p, idx->ranges[i].start_pfn);
        khib_put64(p + 8, idx->ranges[i].pages);
    }
    for (uint32_t i = 0; i < idx->chunk_count; i++, p += KHIB_CHUNK_SIZE) {
        const struct khib_chunk *c = &idx->chunks[i];
        khib_put64(p, c->first_pfn);
        khib_put32(p + 8, c->pages);
        khib_put32(p + 12, c->flags);
        khib_put64(p + 16, c->offset);
        khib_put32(p + 24, c->stored_len);
        khib_put32(p + 28, c->raw_len);
        khib_put64(p + 32, c->checksum);
        memcpy(p + 40, c->zero_bitmap, KHIB_BITMAP_BYTES);
        memcpy(p + 72, c->excluded_bitmap, KHIB_BITMAP_BYTES);
    }
}

int khib_index_decode(const void *buf, size_t len, struct khib_index *idx, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    memset(idx, 0, sizeof *idx);
    if (len < KHIB_INDEX_HEADER_SIZE || memcmp(p, KHIB_INDEX_MAGIC, 8) != 0) {
        snprintf(err, errlen, "index header is missing (no %s magic)", KHIB_INDEX_MAGIC);
        return -1;
    }
    uint32_t rc = khib_get32(p + 8), cc = khib_get32(p + 12);
    if (khib_index_size(rc, cc) != len) {
        snprintf(err, errlen, "index says %" PRIu32 " ranges and %" PRIu32 " chunks but is %zu bytes long"
                 " (they need %" PRIu64 ")", rc, cc, len, khib_index_size(rc, cc));
        return -1;
    }
    idx->ranges = calloc(rc ? rc : 1, sizeof *idx->ranges);
    idx->chunks = calloc(cc ? cc : 1, sizeof *idx->chunks);
    if (!idx->ranges || !idx->chunks) {
        khib_index_free(idx);
        snprintf(err, errlen, "out of memory for an index of %" PRIu32 " chunks", cc);
        return -1;
    }
    idx->range_count = rc;
    idx->chunk_count = cc;
    p += KHIB_INDEX_HEADER_SIZE;
    for (uint32_t i = 0; i < rc; i++, p += KHIB_RANGE_SIZE) {
        idx->ranges[i].start_pfn = khib_get64(p);
        idx->ranges[i].pages = khib_get64(p + 8);
    }
    for (uint32_t i = 0; i < cc; i++, p += KHIB_CHUNK_SIZE) {
        struct khib_chunk *c = &idx->chunks[i];
        c->first_pfn = khib_get64(p);
        c->pages = khib_get32(p + 8);
        c->flags = khib_get32(p + 12);
        c->offset = khib_get64(p + 16);
        c->stored_len = khib_get32(p + 24);
        c->raw_len = khib_get32(p + 28);
        c->checksum = khib_get64(p + 32);
        memcpy(c->zero_bitmap, p + 40, KHIB_BITMAP_BYTES);
        memcpy(c->excluded_bitmap, p + 72, KHIB_BITMAP_BYTES);
    }
    return 0;
}

void khib_index_free(struct khib_index *idx)
{
    free(idx->ranges);
    free(idx->chunks);
    idx->ranges = NULL;
    idx->chunks = NULL;
    idx->range_count = idx->chunk_count = 0;
}

uint32_t khib_bitmap_count(const uint8_t *bitmap, uint32_t pages)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < pages; i++)
        n += (uint32_t)khib_bitmap_test(bitmap, i);
    return n;
}

static int check_ranges(const struct khib_superblock *sb, const struct khib_index *idx, char *err,
                        size_t errlen)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < idx->range_count; i++) {
        const struct khib_range *r = &idx->ranges[i];
        if (r->pages == 0 || r->start_pfn >= PFN_LIMIT || r->pages > PFN_LIMIT - r->start_pfn) {
            snprintf(err, errlen, "range %" PRIu32 " (pfn 0x%" PRIx64 ", %" PRIu64 " pages) is empty or beyond"
                     " any physical address", i, r->start_pfn, r->pages);
            return -1;
        }
        if (i > 0) {
            const struct khib_range *q = &idx->ranges[i - 1];
            if (r->start_pfn < q->start_pfn + q->pages) {
                snprintf(err, errlen, "ranges %" PRIu32 " and %" PRIu32 " overlap or are unsorted"
                         " (pfn 0x%" PRIx64 "+%" PRIu64 ", then 0x%" PRIx64 ")",
                         i - 1, i, q->start_pfn, q->pages, r->start_pfn);
                return -1;
            }
        }
        total += r->pages;
    }
    if (total != sb->pages_total) {
        snprintf(err, errlen, "the ranges hold %" PRIu64 " pages but the superblock says %" PRIu64,
                 total, sb->pages_total);
        return -1;
    }
    return 0;
}

int khib_index_check(const struct khib_superblock *sb, const struct khib_index *idx, char *err,
                     size_t errlen)
{
    if (idx->range_count != sb->range_count || idx->chunk_count != sb->chunk_count) {
        snprintf(err, errlen, "index has %" PRIu32 " ranges and %" PRIu32 " chunks, the superblock says %"
                 PRIu32 " and %" PRIu32, idx->range_count, idx->chunk_count, sb->range_count, sb->chunk_count);
        return -1;
    }
    if (check_ranges(sb, idx, err, errlen) != 0)
        return -1;

    uint32_t r = 0;
    uint64_t next_pfn = idx->ranges[0].start_pfn, pos = sb->data_offset, zeros = 0, excluded = 0;
    for (uint32_t i = 0; i < idx->chunk_count; i++) {
        const struct khib_chunk *c = &idx->chunks[i];
        if (r == idx->range_count) {
            snprintf(err, errlen, "chunk %" PRIu32 " (pfn 0x%" PRIx64 ") lies outside the ranges: they are"
                     " all covered by the chunks before it", i, c->first_pfn);
            return -1;
        }
        uint64_t range_end = idx->ranges[r].start_pfn + idx->ranges[r].pages;
        if (c->first_pfn != next_pfn) {
            snprintf(err, errlen, "chunk %" PRIu32 " starts at pfn 0x%" PRIx64 " but the ranges continue at"
                     " pfn 0x%" PRIx64, i, c->first_pfn, next_pfn);
            return -1;
        }
        if (c->pages == 0 || c->pages > sb->chunk_pages) {
            snprintf(err, errlen, "chunk %" PRIu32 " has %" PRIu32 " pages (allowed 1..%" PRIu32 ")", i,
                     c->pages, sb->chunk_pages);
            return -1;
        }
        if (c->first_pfn + c->pages > range_end) {
            snprintf(err, errlen, "chunk %" PRIu32 " (pfn 0x%" PRIx64 "+%" PRIu32 ") crosses the end of range %"
                     PRIu32 " (pfn 0x%" PRIx64 ")", i, c->first_pfn, c->pages, r, range_end);
            return -1;
        }
        if (c->flags & ~KHIB_CHUNK_STORED) {
            snprintf(err, errlen, "chunk %" PRIu32 " has unknown flags 0x%" PRIx32, i, c->flags);
            return -1;
        }
        for (uint32_t b = c->pages; b < KHIB_CHUNK_PAGES_MAX; b++) {
            if (khib_bitmap_test(c->zero_bitmap, b) || khib_bitmap_test(c->excluded_bitmap, b)) {
                snprintf(err, errlen, "chunk %" PRIu32 " marks page %" PRIu32 " zero or excluded but has only %"
                         PRIu32 " pages", i, b, c->pages);
                return -1;
            }
        }
        for (uint32_t b = 0; b < KHIB_BITMAP_BYTES; b++) {
            if (c->zero_bitmap[b] & c->excluded_bitmap[b]) {
                snprintf(err, errlen, "chunk %" PRIu32 " marks a page both zero and excluded", i);
                return -1;
            }
        }
        uint32_t z = khib_bitmap_count(c->zero_bitmap, c->pages), x = khib_bitmap_count(c->excluded_bitmap, c->pages);
        if (c->raw_len != (c->pages - z - x) * KHIB_PAGE_SIZE) {
            snprintf(err, errlen, "chunk %" PRIu32 " has %" PRIu32 " stored pages but raw_len %" PRIu32,
                     i, c->pages - z - x, c->raw_len);
            return -1;
        }
        /* An encrypted frame carries its checksum and tag (docs/encryption.md). */
        uint32_t frame_len = c->stored_len;
        if (sb->cipher && c->stored_len)
            frame_len = c->stored_len > KHIB_SEAL_OVERHEAD ? c->stored_len - KHIB_SEAL_OVERHEAD : 0;
        if ((c->raw_len == 0) != (frame_len == 0) || (sb->cipher && c->stored_len && c->checksum) ||
            frame_len > c->raw_len + c->raw_len / 128 + 4096 ||
            ((c->flags & KHIB_CHUNK_STORED) && frame_len != khib_stored_frame_len(c->raw_len))) {
            snprintf(err, errlen, "chunk %" PRIu32 " has stored_len %" PRIu32 " for raw_len %" PRIu32, i,
                     c->stored_len, c->raw_len);
            return -1;
        }
        if (c->offset != pos) {
            snprintf(err, errlen, "chunk %" PRIu32 " is at offset %" PRIu64 " but the chunks before it end at %"
                     PRIu64, i, c->offset, pos);
            return -1;
        }
        pos += c->stored_len;
        zeros += z;
        excluded += x;
        next_pfn = c->first_pfn + c->pages;
        if (next_pfn == range_end && ++r < idx->range_count)
            next_pfn = idx->ranges[r].start_pfn;
    }
    if (r != idx->range_count) {
        snprintf(err, errlen, "the chunks end at pfn 0x%" PRIx64 " but range %" PRIu32 " is not covered",
                 next_pfn, r);
        return -1;
    }
    if (pos - sb->data_offset != sb->data_bytes) {
        snprintf(err, errlen, "the chunks hold %" PRIu64 " bytes but the superblock says %" PRIu64,
                 pos - sb->data_offset, sb->data_bytes);
        return -1;
    }
    if (zeros != sb->pages_zero) {
        snprintf(err, errlen, "the chunks mark %" PRIu64 " zero pages but the superblock says %" PRIu64,
                 zeros, sb->pages_zero);
        return -1;
    }
    if (excluded != sb->pages_excluded) {
        snprintf(err, errlen, "the chunks mark %" PRIu64 " excluded pages but the superblock says %" PRIu64,
                 excluded, sb->pages_excluded);
        return -1;
    }
    return 0;
}
