/* One chunk of an image: planning the chunks of a range table, compressing a
 * chunk's pages into a zstd frame, expanding and checking a frame.
 *
 * The functions keep no state of their own: a coder or decoder (zstd context
 * plus scratch) belongs to one caller, so a thread pool can give each worker
 * its own and compress chunks in parallel. */
#ifndef KHIB_CHUNK_CODEC_H
#define KHIB_CHUNK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"

#define KHIB_CHUNK_RAW_MAX ((size_t)KHIB_CHUNK_PAGES_MAX * KHIB_PAGE_SIZE)

/* Chunks of at most chunk_pages pages that tile the ranges in order and never
 * cross a range boundary: first_pfn and pages set, the rest zero.  *chunks is
 * malloc'd.  Returns 0 or -1 with err. */
int khib_plan_chunks(const struct khib_range *ranges, uint32_t nranges, uint32_t chunk_pages,
                     struct khib_chunk **chunks, uint32_t *count, char *err, size_t errlen);

/* The number of chunks khib_plan_chunks would make. */
uint64_t khib_plan_count(const struct khib_range *ranges, uint32_t nranges, uint32_t chunk_pages);

/* 1 when the 4 KiB page at p is all zero. */
int khib_page_is_zero(const void *p);

/* Largest frame of a chunk. */
size_t khib_frame_bound(void);

struct khib_coder {
    void *cctx;          /* ZSTD_CCtx */
    int level;
    uint8_t *scratch;    /* KHIB_CHUNK_RAW_MAX: the nonzero pages gathered */
};

/* "auto" (KHIB_LEVEL_AUTO), "store" (KHIB_LEVEL_STORE) or a nonzero integer
 * into *level; zstd's range is khib_coder_init's to check.  Returns 0 or -1. */
int khib_level_parse(const char *s, int *level);
/* "auto", "store", or the zstd level as a number. */
void khib_level_format(int level, char *buf, size_t len);

/* Level auto: the fraction of the raw bytes to store uncompressed so that n
 * workers' CPU time and the disk's take as long (0 when compressing
 * everything keeps up with the disk), at most 15/16.  vc, vs: bytes a
 * second one worker compresses, stores; q: compressed size over raw size;
 * rate: bytes a second the disk takes. */
double khib_store_fraction(unsigned n, double vc, double vs, double q, double rate);

/* A coder for a zstd level, or for KHIB_LEVEL_AUTO and KHIB_LEVEL_STORE (it
 * compresses with level 1 whenever the caller does not ask it to store). */
int khib_coder_init(struct khib_coder *cd, int level, char *err, size_t errlen);
void khib_coder_free(struct khib_coder *cd);
/* Bytes a coder of this level allocates (zstd context and scratch), at most. */
size_t khib_coder_mem(int level);

/* Compress the c->pages pages at pages (c->first_pfn, c->pages and
 * c->excluded_bitmap set by the caller: excluded pages are neither read nor
 * stored) into dst (capacity dst_cap >= khib_frame_bound()).  Sets c's
 * zero_bitmap, flags, raw_len, stored_len and checksum (offset is the
 * caller's).  With store, the nonzero pages go into the frame uncompressed
 * (KHIB_CHUNK_STORED).  A chunk of zero and excluded pages yields
 * stored_len 0 and writes nothing.  Returns 0 or -1 with err. */
int khib_chunk_compress(struct khib_coder *cd, const void *pages, struct khib_chunk *c, void *dst, size_t dst_cap,
                        int store, char *err, size_t errlen);

/* The same, for pages in a buffer of the caller's that it may overwrite: the
 * nonzero pages are gathered at its start instead of in the scratch. */
int khib_chunk_compress_in_place(struct khib_coder *cd, void *pages, struct khib_chunk *c, void *dst,
                                 size_t dst_cap, int store, char *err, size_t errlen);

struct khib_decoder {
    void *dctx;          /* ZSTD_DCtx */
};

int khib_decoder_init(struct khib_decoder *dd, char *err, size_t errlen);
void khib_decoder_free(struct khib_decoder *dd);
/* Bytes a decoder allocates (zstd context). */
size_t khib_decoder_mem(void);

/* Decompress the frame of c (stored_len bytes) into raw (c->raw_len bytes:
 * the chunk's nonzero pages in order) and check the checksum.  Returns 0, or
 * -1 with err saying what is wrong (without naming the chunk). */
int khib_chunk_expand(struct khib_decoder *dd, const struct khib_chunk *c, const void *frame, void *raw, char *err,
                      size_t errlen);

/* "chunk 17 (pfn 0x12300-0x123ff)" */
void khib_chunk_name(uint32_t index, const struct khib_chunk *c, char *buf, size_t len);

#endif
