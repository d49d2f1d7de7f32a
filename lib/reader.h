/* The image's data area, read back in order in large aligned blocks: the
 * twin of saver/writer.c.  O_DIRECT when the image's device allows it
 * (buffered otherwise, or from the first read it refuses).  A block holds
 * the frames of consecutive chunks [a, b); the chunk walker (walk.h) hands
 * each block to its workers and reuses it once they are done with it. */
#ifndef KHIB_READER_H
#define KHIB_READER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define READER_BLOCK (4u << 20)     /* bytes of one read */

struct reader_block {
    uint8_t *buf;
    uint64_t start;                 /* image offset of buf[0] */
    uint32_t a, b;                  /* chunks [a, b) */
};

struct reader {
    int fd;
    const char *path;
    const struct khib_chunk *chunks;
    uint32_t n;
    int direct;                     /* O_DIRECT in use */
};

/* Blocks a walk with threads workers reads ahead. */
static inline unsigned reader_blocks(unsigned threads)
{
    return 4 + threads / 2;
}

/* Allocate a block's buffer (aligned for O_DIRECT).  0 or -1. */
int reader_block_alloc(struct reader_block *b);

/* Start reading img's chunks (index loaded): tries O_DIRECT.  0 or -1 with err. */
int reader_init(struct reader *r, const struct khib_image *img, char *err, size_t errlen);

/* Read the frames of the chunks from a on, as many as fit one block, into b.
 * 0, or -1 with err naming chunk a. */
int reader_fill(struct reader *r, struct reader_block *b, uint32_t a, char *err, size_t errlen);

/* The frame of chunk i in b (NULL for a chunk without one). */
static inline const uint8_t *reader_frame(const struct reader_block *b, const struct khib_chunk *c)
{
    return c->stored_len ? b->buf + (c->offset - b->start) : NULL;
}

/* Turn O_DIRECT off again.  0 or -1 with err. */
int reader_finish(struct reader *r, char *err, size_t errlen);

#endif
