/* An image on its target, as the restorer and the saver's --verify-after see
 * it: the superblock, the index, the chunks read back in order. */
#ifndef KHIB_IMAGE_H
#define KHIB_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "image_codec.h"
#include "progress.h"
#include "target.h"

/* Results of the functions below. */
#define KHIB_IMG_OK   0
#define KHIB_IMG_NONE 1     /* no khib superblock */
#define KHIB_IMG_BAD  (-1)  /* damaged or inconsistent */
#define KHIB_IMG_IO   (-2)  /* cannot read or write the target */

#define KHIB_READ_BUFFER (8u << 20)

struct khib_image {
    struct khib_target t;
    struct khib_superblock sb;
    struct khib_index idx;   /* after khib_image_load_index */
};

/* Open path and decode its superblock (any state).  For KHIB_IMG_NONE err
 * says why without naming the path. */
int khib_image_open(struct khib_image *img, const char *path, enum khib_open_mode mode, char *err, size_t errlen);
void khib_image_close(struct khib_image *img);

/* Check the layout, read the index, check its checksum, decode and check it. */
int khib_image_load_index(struct khib_image *img, char *err, size_t errlen);

/* Encode sb, write it at byte 0 and fdatasync.  0 or -1. */
int khib_superblock_write(int fd, const char *path, const struct khib_superblock *sb, char *err, size_t errlen);

/* Change the image's state (and consumed_ns) on disk, synced. */
int khib_image_mark(struct khib_image *img, uint32_t state, uint64_t consumed_ns, char *err, size_t errlen);

/* Mark a COMMITTED image on path ABANDONED, with the time and reason
 * (synced): a normal boot is about to change the disks.  1 when it did (uuid
 * set), 0 when path holds no committed image, -1 with err when it cannot. */
int khib_image_abandon(const char *path, const char *reason, uint8_t uuid[16], char *err, size_t errlen);

/* Reads the chunks' frames in order through one large buffer. */
struct khib_frame_reader {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap;
    uint64_t start;  /* image offset of buf[0] */
    size_t len;      /* valid bytes in buf */
    uint64_t end;    /* read nothing at or past this offset */
};

int khib_frame_reader_init(struct khib_frame_reader *r, const struct khib_image *img, char *err, size_t errlen);
/* The len bytes at image offset off, valid until the next call; NULL with err. */
const void *khib_frame_get(struct khib_frame_reader *r, uint64_t off, size_t len, char *err, size_t errlen);
void khib_frame_reader_free(struct khib_frame_reader *r);

/* Called with each chunk's checked, decompressed nonzero pages (raw_len
 * bytes).  Nonzero return stops the walk and is returned. */
typedef int (*khib_chunk_fn)(void *ctx, uint32_t index, const struct khib_chunk *c, const uint8_t *raw, char *err,
                             size_t errlen);

/* Decompress and check every chunk (after khib_image_load_index); call fn
 * (may be NULL) for each.  A bad chunk gives KHIB_IMG_BAD with err naming its
 * index and pfn range. */
int khib_image_verify(struct khib_image *img, khib_chunk_fn fn, void *ctx, struct khib_progress *prog, char *err,
                      size_t errlen);

#endif
