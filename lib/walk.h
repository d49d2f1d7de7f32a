/* The chunk walker: every chunk of an image read back in order (reader.h),
 * decompressed and checked (XXH64) by N worker threads, and then one
 * action done with its pages:
 *
 *   KHIB_WALK_CHECK    nothing more (khib-restore --verify);
 *   KHIB_WALK_WRITE    written to their physical addresses (the restore):
 *                      memcpy into mmap windows of a memory device
 *                      (/dev/mem), pwrite into a memory file; chunks are
 *                      disjoint, so the workers write directly, in any order;
 *   KHIB_WALK_COMPARE  compared with the memory they were saved from
 *                      (khib-save --verify-after);
 *   KHIB_WALK_AUTH     an encrypted image's chunks authenticated only (its
 *                      AEAD tags: khib-restore's pass before it writes).
 *
 * An encrypted image's frames (img->seal set) are authenticated and
 * decrypted first (seal.h).
 *
 *   the caller         reads the frames in order into READER_BLOCK-byte
 *                      blocks, up to reader_blocks() blocks ahead of the
 *                      workers;
 *   N worker threads   take the chunks in order and do the above.
 *
 * A chunk that fails stops the walk; the error names the failing chunk with
 * the lowest index. */
#ifndef KHIB_WALK_H
#define KHIB_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "elfcore.h"
#include "image.h"
#include "progress.h"

#define KHIB_WALK_MEM_ERROR (-4)    /* the memory could not be mapped or written */

enum khib_walk_action { KHIB_WALK_CHECK, KHIB_WALK_WRITE, KHIB_WALK_COMPARE, KHIB_WALK_AUTH };

/* The memory written to or compared with (lib/physmem.h's segments). */
struct khib_walk_memory {
    int fd;
    const char *name;
    int by_mmap;                    /* writing: 1 mmap windows (a memory device), 0 pwrite; comparing: mapped */
    const struct khib_segment *seg;
    uint32_t nseg;
    uint64_t zero_from;             /* pwrite: bytes from this offset on are known to read zero */
};

/* Bytes of buffers a walk allocates (mem NULL for KHIB_WALK_CHECK). */
size_t khib_walk_buffers(unsigned threads, enum khib_walk_action action, const struct khib_walk_memory *mem);

/* Walk every chunk of img (index loaded) with threads workers doing action
 * on mem.  *direct (if not NULL) tells whether the image was read with
 * O_DIRECT.  Returns KHIB_IMG_OK, KHIB_IMG_BAD (a chunk failed or differs:
 * err names it; what was written before stays), KHIB_IMG_IO or
 * KHIB_WALK_MEM_ERROR. */
int khib_walk(struct khib_image *img, enum khib_walk_action action, const struct khib_walk_memory *mem,
              unsigned threads, struct khib_progress *prog, int *direct, char *err, size_t errlen);

#endif
