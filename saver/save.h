/* The saver's work between the WRITING and COMMITTED superblocks: compress
 * every chunk and append its frame to the image; and the --verify-after
 * pass that checks the image against the memory it came from.
 *
 * save_chunks() is a bounded pipeline:
 *
 *   reader thread      maps a memory device in windows of SAVE_WINDOW bytes
 *                      and faults them in (for a file: asks the kernel to
 *                      read them ahead), at most SAVE_DEPTH windows ahead
 *                      of the oldest window still being compressed;
 *   N worker threads   take the chunks in order (reading a file's with
 *                      pread into a buffer of their own), find the zero
 *                      pages, compress (or store) the rest into one of 2N + 4 frame
 *                      slots;
 *   the caller         collects the frames in chunk order, sets each chunk's
 *                      offset, and appends it to the writer, whose I/O
 *                      thread writes 8 MiB at a time (O_DIRECT if allowed).
 *
 * At a fixed level the output does not depend on the number of threads; at
 * level auto it depends on the timing (store_chunk). */
#ifndef KHIB_SAVE_H
#define KHIB_SAVE_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "elfcore.h"
#include "image.h"
#include "physmem.h"
#include "progress.h"
#include "seal.h"
#include "writer.h"

/* save_chunks() results besides 0. */
#define SAVE_INPUT_ERROR  (-2)   /* the memory could not be read */
#define SAVE_TARGET_ERROR (-3)   /* the image could not be written */

#define SAVE_WINDOW (32u << 20)  /* bytes of memory per window, at most */
#define SAVE_DEPTH 4u            /* windows at once: those being compressed and read ahead */

/* The memory to save: range i lies in segment i of src (lib/physmem.h).  A
 * memory device is mapped (by_mmap: the workers compress from the
 * mapping); a file is read with pread: faulting in freshly mapped
 * page-cache pages costs more than copying them (docs/performance.md). */
struct save_input {
    const struct khib_physmem *src;
    int by_mmap;
    const struct khib_seal *seal;   /* encrypt every frame (seal.h); NULL: in clear */
};

struct save_totals {
    uint64_t pages_zero;
    uint64_t pages_excluded;
    uint64_t pages_stored;
    uint64_t data_bytes;
    uint32_t chunks_stored;  /* uncompressed (KHIB_LEVEL_AUTO) */
};

/* Bytes the pipeline allocates besides the chunk table
 * (khib_save_buffers(), lib/save_budget.h), with the workers' buffers when
 * save_needs_bounce(). */
size_t save_mem(const struct save_input *in, unsigned threads, int level);

/* Bytes of the chunk table, the mapping plan and the encoded index of
 * chunks chunks (about 200 bytes per MiB of memory saved). */
size_t save_table_mem(uint32_t chunks, uint64_t index_bytes);

/* 1 when the workers need a buffer of their own: the input is read, or
 * mapped with some segment having fewer bytes in the file than in memory. */
int save_needs_bounce(const struct save_input *in);

/* Compress chunks[0..n) (first_pfn, pages and excluded_bitmap planned,
 * tiling the input's segments in order; excluded pages are not read) with threads workers at level, append the frames
 * through w (writer_init done; writer_finish done here on success), fill in
 * each chunk's entry.  Once w overflows nothing more is written, but
 * everything is still compressed and counted. */
int save_chunks(const struct save_input *in, unsigned threads, int level, struct khib_chunk *chunks, uint32_t n,
                struct writer *w, struct khib_progress *prog, struct save_totals *tot, char *err, size_t errlen);

/* Re-read the committed image at path, check every chunk, and compare its
 * pages with in's memory (the chunk walker, lib/walk.h, with threads
 * workers).  Returns KHIB_IMG_OK or a KHIB_IMG_* error with err. */
int save_verify(const char *path, uint64_t offset, const uint8_t uuid[16], const struct save_input *in, unsigned threads,
                struct khib_progress *prog, char *err, size_t errlen);

#endif
