/* The commit protocol of docs/image-format.md, as khib-save writes an image
 * (the mirror of lib/image.c, which opens and validates one):
 *
 *   commit_begin   open the target, check it can hold the superblock and
 *                  the index, write the superblock WRITING and sync: an
 *                  older image on the target is invalid from here on;
 *   (the data)     the chunks, appended by the caller (save.h, writer.h)
 *                  from commit.data_offset up to commit_data_limit();
 *   commit_index   check the whole image fits, encode the index, write it
 *                  after the data, sync data and index together;
 *   commit_finish  write the superblock COMMITTED and sync.
 *
 * commit_revoke takes a commit back (state WRITING, synced).  Every step
 * stops at its fault point (faultpoint.h).  The functions print nothing:
 * they return 0, or -1 with err. */
#ifndef KHIB_SAVE_COMMIT_H
#define KHIB_SAVE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "image_codec.h"
#include "seal.h"
#include "target.h"

struct commit {
    struct khib_target t;
    const char *path;
    uint64_t index_bytes;
    const struct khib_seal *seal;   /* encrypted: commit_finish sets the MAC (seal.h) */
    struct khib_index idx;          /* as commit_index wrote it (the caller's tables) */
};

/* Step 1 for sb (state WRITING; index of index_bytes bytes). */
int commit_begin(struct commit *c, const char *path, const struct khib_superblock *sb, uint64_t index_bytes,
                 char *err, size_t errlen);
/* The same for an image in a file when map is not NULL: path is the device
 * under its file system, every write goes through the map (target.h), and
 * the map is written after the WRITING superblock, at sb->extmap_offset
 * (synced with the data by commit_index).  sb's extent fields must
 * describe map. */
int commit_begin_at(struct commit *c, const char *path, const struct khib_extmap *map,
                    const struct khib_superblock *sb, uint64_t index_bytes, char *err, size_t errlen);

/* Where the chunks must end: room left for the index (page-aligned). */
uint64_t commit_data_limit(const struct commit *c);

/* Step 2's end: sb's data figures set, overflow whether the data passed the
 * limit; sets sb's index offset, size and checksum. */
int commit_index(struct commit *c, struct khib_superblock *sb, const struct khib_index *idx, int overflow,
                 char *err, size_t errlen);

/* Step 3: COMMITTED (sb->state and saved_ns set here, and with c->seal
 * the MAC of superblock and index).  A failure may or
 * may not have reached the disk: the caller revokes the commit. */
int commit_finish(struct commit *c, struct khib_superblock *sb, char *err, size_t errlen);

/* Back to WRITING. */
int commit_revoke(struct commit *c, struct khib_superblock *sb, char *err, size_t errlen);

/* The bytes the image takes on the target (after commit_index). */
uint64_t commit_image_bytes(const struct khib_superblock *sb);

void commit_close(struct commit *c);

#endif
