/* Physical memory through mmap windows of a file descriptor: the one layer
 * every program reads and writes physical memory through (khib-save reads
 * A's memory in B, khib-restore writes it in R, both use files in tests).
 *
 * The memory is a set of segments (elfcore.h's struct khib_segment): the
 * physical bytes [paddr, paddr + size) are at file offset offset, of which
 * the first filesz exist in the file and the rest read as zero.  Three uses:
 *   - a core file: the segments of its PT_LOADs;
 *   - /dev/mem: offset = paddr, filesz = size (khib_segments_identity);
 *   - a sparse "memory file" for restore tests: the same.
 * Only mmap reaches /dev/mem above a confined kernel's high_memory (read()
 * fails with EFAULT there), and it is the fast path anyway.  A mapping never
 * crosses a segment boundary: on x86 a /dev/mem mapping that mixes RAM and
 * non-RAM pages can be refused or made uncached by PAT.
 */
#ifndef KHIB_PHYSMEM_H
#define KHIB_PHYSMEM_H

#include <stddef.h>
#include <stdint.h>

#include "elfcore.h"
#include "image_format.h"

#define KHIB_PHYSMEM_WINDOW (64u << 20)

struct khib_physmem {
    int fd;
    int writable;
    const char *name;              /* for messages */
    const struct khib_segment *seg;
    uint32_t nseg;
    uint64_t window;               /* bytes per mapping, at most */
    uint8_t *map;                  /* current mapping, or NULL */
    uint64_t map_paddr, map_len;
    uint32_t cur;                  /* segment of the last request */
    uint8_t *bounce;               /* requests reaching past a segment's filesz */
    size_t bounce_len;
};

/* Segments where file offset = physical address (for /dev/mem and memory
 * files), from a range table.  Returns a malloc'd array or NULL. */
struct khib_segment *khib_segments_identity(const struct khib_range *ranges, uint32_t n);

/* Set up access; fd stays owned by the caller.  writable maps PROT_WRITE
 * (then every segment must have filesz == size).  Returns 0 or -1. */
int khib_physmem_open(struct khib_physmem *pm, int fd, const char *name, const struct khib_segment *seg,
                      uint32_t nseg, int writable, uint64_t window, char *err, size_t errlen);

/* A pointer to the physical bytes [paddr, paddr + len), which must lie in one
 * segment (len at most window).  Valid until the next call or close.  NULL
 * with err on failure. */
void *khib_physmem_map(struct khib_physmem *pm, uint64_t paddr, size_t len, char *err, size_t errlen);

void khib_physmem_close(struct khib_physmem *pm);

/* Of the len bytes at rel into segment s, how many the file holds (the rest
 * lies past p_filesz and reads as zero); their file offset in *off. */
size_t khib_segment_in_file(const struct khib_segment *s, uint64_t rel, uint64_t len, uint64_t *off);

/* A read window the caller owns (khib-save's pipeline keeps several): the
 * len file bytes of segment s from rel (a multiple of the page size) on,
 * mapped and faulted in.  Unmap with munmap.  NULL with err. */
void *khib_physmem_map_read(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, size_t len,
                            char *err, size_t errlen);

/* The file fallback: the len bytes at rel into segment s read into buf with
 * pread (zeros past the file).  0 or -1 with err. */
int khib_physmem_read(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel, void *buf,
                      size_t len, char *err, size_t errlen);

/* Ask the kernel to read the file bytes [rel, rel + len) of segment s ahead. */
void khib_physmem_read_ahead(const struct khib_physmem *pm, const struct khib_segment *s, uint64_t rel,
                             uint64_t len);

#endif
