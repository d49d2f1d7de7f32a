/* An image on its target, as the restorer and the saver's --verify-after see
 * it: the superblock and the index (the chunks are read back by the chunk
 * walker, walk.h). */
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

struct khib_seal;

struct khib_image {
    struct khib_target t;
    struct khib_superblock sb;
    struct khib_index idx;   /* after khib_image_load_index */
    const struct khib_seal *seal; /* an encrypted image's keys, the caller's (seal.h); NULL: none */
};

/* Open path and decode its superblock (any state).  For KHIB_IMG_NONE err
 * says why without naming the path. */
int khib_image_open(struct khib_image *img, const char *path, enum khib_open_mode mode, char *err, size_t errlen);
/* The same for an image in a file (docs/file-target.md) when offset is not
 * 0: path is the device under the file system, offset the device byte of
 * the file's first block, which must hold a superblock saying so, followed
 * by the file's extent map; all further I/O goes through that map.  With
 * offset 0, a superblock of an image in a file is refused (KHIB_IMG_BAD). */
int khib_image_open_at(struct khib_image *img, const char *path, uint64_t offset, enum khib_open_mode mode,
                       char *err, size_t errlen);
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
int khib_image_abandon_at(const char *path, uint64_t offset, const char *reason, uint8_t uuid[16], char *err,
                          size_t errlen);

#endif
