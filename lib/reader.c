#define _GNU_SOURCE
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

int reader_block_alloc(struct reader_block *b)
{
    void *m;
    memset(b, 0, sizeof *b);
    if (posix_memalign(&m, KHIB_DIRECT_ALIGN, READER_BLOCK) != 0)
        return -1;
    b->buf = m;
    return 0;
}

int reader_init(struct reader *r, const struct khib_image *img, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    memset(r, 0, sizeof *r);
    r->fd = img->t.fd;
    r->path = img->t.path;
    r->chunks = img->idx.chunks;
    r->n = img->idx.chunk_count;
    /* Large aligned reads straight from the device; a refusal is no error. */
    r->direct = khib_direct_io(r->fd, 1) == 0;
    if (!r->direct)
        (void)posix_fadvise(r->fd, (off_t)img->sb.data_offset, (off_t)img->sb.data_bytes, POSIX_FADV_SEQUENTIAL);
    return 0;
}

static uint64_t align_down(uint64_t x)
{
    return x & ~(uint64_t)(KHIB_DIRECT_ALIGN - 1);
}

static uint64_t align_up(uint64_t x)
{
    return align_down(x + KHIB_DIRECT_ALIGN - 1);
}

/* The chunks [a, *b) whose frames fit one block, and the aligned image
 * bytes [*start, *end) holding them. */
static void plan_block(const struct reader *r, uint32_t a, uint32_t *b, uint64_t *start, uint64_t *end)
{
    uint32_t i = a;
    int any = 0;
    *start = *end = 0;
    for (; i < r->n; i++) {
        const struct khib_chunk *c = &r->chunks[i];
        if (!c->stored_len)
            continue;
        uint64_t s = any ? *start : align_down(c->offset), e = align_up(c->offset + c->stored_len);
        if (any && e - s > READER_BLOCK)
            break;
        *start = s;
        *end = e;
        any = 1;
    }
    *b = i;
}

int reader_fill(struct reader *r, struct reader_block *b, uint32_t a, char *err, size_t errlen)
{
    uint32_t end_chunk;
    uint64_t start, end;
    plan_block(r, a, &end_chunk, &start, &end);
    char why[400];
    int rc = 0;
    if (end > start && end - start > READER_BLOCK) {
        snprintf(why, sizeof why, "frame of %" PRIu32 " bytes is larger than a read", r->chunks[a].stored_len);
        rc = -1;
    } else if (end > start) {
        rc = khib_pread_direct(r->fd, b->buf, (size_t)(end - start), start, r->path, &r->direct, why, sizeof why);
    }
    if (rc != 0) {
        char name[80];
        khib_chunk_name(a, &r->chunks[a], name, sizeof name);
        snprintf(err, errlen, "%s: %s", name, why);
        return -1;
    }
    b->start = start;
    b->a = a;
    b->b = end_chunk;
    return 0;
}

int reader_finish(struct reader *r, char *err, size_t errlen)
{
    int was = r->direct;
    r->direct = 0;
    if (was && khib_direct_io(r->fd, 0) != 0) {
        snprintf(err, errlen, "cannot turn O_DIRECT off on %s: %s", r->path, strerror(errno));
        return -1;
    }
    return 0;
}
