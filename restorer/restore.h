/* Writing every chunk's pages back to their physical addresses, and
 * checking every chunk (--verify): a bounded pipeline.
 *
 *   the caller         reads the frames in order into RESTORE_BLOCK-byte
 *                      blocks (O_DIRECT if the image's device allows it),
 *                      up to restore_blocks() blocks ahead of the workers;
 *   N worker threads   take the chunks in order, decompress and check each
 *                      (XXH64), and write its pages: memcpy into mmap
 *                      windows of a memory device (/dev/mem), pwrite into a
 *                      memory file; chunks are disjoint, so they write
 *                      directly, in any order.
 *
 * A chunk that fails stops the pipeline; the error names the failing chunk
 * with the lowest index. */
#ifndef KHIB_RESTORE_RESTORE_H
#define KHIB_RESTORE_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "elfcore.h"
#include "image.h"
#include "progress.h"

#define RESTORE_MEM_ERROR (-4)      /* the destination memory could not be mapped or written */
#define RESTORE_BLOCK (4u << 20)    /* bytes of one read */

static inline unsigned restore_blocks(unsigned threads)
{
    return 4 + threads / 2;
}

/* Where the pages go. */
struct restore_dest {
    int fd;
    const char *name;
    int by_mmap;                    /* 1: a memory device (mmap windows); 0: a file or block device (pwrite) */
    const struct khib_segment *seg; /* by_mmap: identity segments of the image's ranges */
    uint32_t nseg;
    uint64_t zero_from;             /* pwrite: bytes from this offset on are known to read zero */
};

/* Bytes of buffers the pipeline allocates (dst NULL: verifying only). */
size_t restore_mem(unsigned threads, const struct restore_dest *dst);

/* Decompress, check and write every chunk of img (index loaded) to dst, or
 * only check them when dst is NULL.  *direct (if not NULL) tells whether the
 * image was read with O_DIRECT.  Returns KHIB_IMG_OK, KHIB_IMG_BAD (a chunk
 * failed: err names it; what was written before stays), KHIB_IMG_IO or
 * RESTORE_MEM_ERROR. */
int restore_memory(struct khib_image *img, const struct restore_dest *dst, unsigned threads,
                   struct khib_progress *prog, int *direct, char *err, size_t errlen);

#endif
