#define _GNU_SOURCE
#include "commit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultpoint.h"
#include "image.h"
#include "progress.h"
#include "xxhash64.h"

static uint64_t align_page(uint64_t x)
{
    return (x + KHIB_PAGE_SIZE - 1) & ~(uint64_t)(KHIB_PAGE_SIZE - 1);
}

static void too_small(char *err, size_t errlen, const char *target, uint64_t need, uint64_t have, int at_least)
{
    char a[32], b[32];
    khib_fmt_size(need, a, sizeof a);
    khib_fmt_size(have, b, sizeof b);
    snprintf(err, errlen, "target %s is too small: the image needs %s%s, the target holds %s"
             " (use a larger partition, or a higher --level)", target, at_least ? "at least " : "", a, b);
}

int commit_begin(struct commit *c, const char *path, const struct khib_superblock *sb, uint64_t index_bytes,
                 char *err, size_t errlen)
{
    return commit_begin_at(c, path, NULL, sb, index_bytes, err, errlen);
}

/* The extent map of an image in a file, after its superblock. */
static int write_extmap(struct commit *c, const struct khib_extmap *map, const struct khib_superblock *sb,
                        char *err, size_t errlen)
{
    uint64_t bytes = khib_extmap_bytes(map->count);
    uint8_t *buf = malloc(bytes);
    if (!buf) {
        snprintf(err, errlen, "out of memory for the extent map");
        return -1;
    }
    khib_extmap_encode(map, buf);
    int rc = 0;
    if (khib_hash64(buf, bytes, 0) != sb->extmap_checksum || sb->extmap_count != map->count) {
        snprintf(err, errlen, "the superblock does not describe the extent map given (internal error)");
        rc = -1;
    } else {
        rc = khib_pwrite_all(c->t.fd, buf, bytes, sb->extmap_offset, c->path, err, errlen);
    }
    free(buf);
    return rc;
}

int commit_begin_at(struct commit *c, const char *path, const struct khib_extmap *map,
                    const struct khib_superblock *sb, uint64_t index_bytes, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->t.fd = -1;
    c->path = path;
    c->index_bytes = index_bytes;
    if (map ? khib_target_open_mapped(&c->t, path, map, KHIB_OPEN_CREATE, err, errlen)
            : khib_target_open(&c->t, path, KHIB_OPEN_CREATE, err, errlen))
        return -1;
    if (c->t.capacity < KHIB_SB_SIZE) {
        too_small(err, errlen, path, KHIB_SB_SIZE + align_page(index_bytes), c->t.capacity, 1);
        return -1;
    }
    if (khib_superblock_write(c->t.fd, path, sb, err, errlen) != 0)
        return -1;
    if (map && write_extmap(c, map, sb, err, errlen) != 0)
        return -1;
    khib_faultpoint(KHIB_FP_SAVE_WRITING);
    uint64_t head = sb->data_offset > KHIB_SB_SIZE ? sb->data_offset : KHIB_SB_SIZE;
    if (c->t.capacity < head + index_bytes) {
        too_small(err, errlen, path, head + index_bytes, c->t.capacity, 1);
        return -1;
    }
    return 0;
}

uint64_t commit_data_limit(const struct commit *c)
{
    if (c->t.capacity == UINT64_MAX)
        return UINT64_MAX;
    return (c->t.capacity - c->index_bytes) & ~(uint64_t)(KHIB_PAGE_SIZE - 1);
}

uint64_t commit_image_bytes(const struct khib_superblock *sb)
{
    return sb->index_offset + sb->index_bytes;
}

int commit_index(struct commit *c, struct khib_superblock *sb, const struct khib_index *idx, int overflow,
                 char *err, size_t errlen)
{
    sb->index_offset = align_page(sb->data_offset + sb->data_bytes);
    c->idx = *idx;
    sb->index_bytes = c->index_bytes;
    if (overflow || commit_image_bytes(sb) > c->t.capacity) {
        too_small(err, errlen, c->path, commit_image_bytes(sb), c->t.capacity, 0);
        return -1;
    }
    uint8_t *index = malloc(c->index_bytes);
    if (!index) {
        snprintf(err, errlen, "out of memory for the index");
        return -1;
    }
    khib_index_encode(idx, index);
    sb->index_checksum = khib_hash64(index, c->index_bytes, 0);
    char why[400];
    int rc = khib_pwrite_all(c->t.fd, index, c->index_bytes, sb->index_offset, c->path, why, sizeof why);
    free(index);
    if (rc == 0) {
        khib_faultpoint(KHIB_FP_SAVE_INDEX);
        /* The data and the index, synced together: the end of step 2. */
        rc = khib_datasync(c->t.fd, c->path, why, sizeof why);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s; no image was committed", why);
        return -1;
    }
    khib_faultpoint(KHIB_FP_SAVE_SYNCED);
    return 0;
}

int commit_revoke(struct commit *c, struct khib_superblock *sb, char *err, size_t errlen)
{
    sb->state = KHIB_STATE_WRITING;
    return khib_superblock_write(c->t.fd, c->path, sb, err, errlen);
}

int commit_finish(struct commit *c, struct khib_superblock *sb, char *err, size_t errlen)
{
    sb->state = KHIB_STATE_COMMITTED;
    sb->saved_ns = khib_realtime_ns();
    if (c->seal && khib_seal_superblock(c->seal, sb, &c->idx, err, errlen) != 0)
        return -1;
    if (khib_superblock_write(c->t.fd, c->path, sb, err, errlen) != 0)
        return -1;
    khib_faultpoint(KHIB_FP_SAVE_COMMITTED);
    return 0;
}

void commit_close(struct commit *c)
{
    khib_target_close(&c->t);
}
