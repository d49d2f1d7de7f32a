/* The saver's work between the WRITING and COMMITTED superblocks: compress
 * every chunk and append its frame to the image; and the --verify-after
 * pass that checks the image against the memory it came from. */
#ifndef KHIB_SAVE_H
#define KHIB_SAVE_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "image.h"
#include "physmem.h"
#include "progress.h"
#include "writer.h"

/* save_chunks() results besides 0. */
#define SAVE_INPUT_ERROR  (-2)   /* the memory could not be read */
#define SAVE_TARGET_ERROR (-3)   /* the image could not be written */

struct save_totals {
    uint64_t pages_zero;
    uint64_t pages_stored;
    uint64_t data_bytes;
};

/* Compress chunks[0..n) (first_pfn and pages planned) from src, append the
 * frames through w, fill in each chunk's entry.  The chunks' offsets follow
 * w's position; once w overflows nothing more is written, but everything is
 * still compressed and counted. */
int save_chunks(struct khib_physmem *src, struct khib_chunk *chunks, uint32_t n, struct khib_coder *cd,
                struct writer *w, struct khib_progress *prog, struct save_totals *tot, char *err, size_t errlen);

/* Re-read the committed image at path, check every chunk, and compare its
 * pages with src.  Returns KHIB_IMG_OK or a KHIB_IMG_* error with err. */
int save_verify(const char *path, const uint8_t uuid[16], struct khib_physmem *src, struct khib_progress *prog,
                char *err, size_t errlen);

#endif
