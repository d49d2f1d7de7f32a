/* ELF64 core headers (little-endian, x86_64), as A hands them to B: PT_LOAD
 * segments describe physical memory (p_paddr, p_memsz), one PT_NOTE holds the
 * khib note (handoff.h).  Two uses:
 *   - headers only (the real case): data is read from /dev/mem at p_paddr,
 *     all p_memsz bytes; p_offset (0) and p_filesz are not used;
 *   - a core file with the data after the headers (tests, benchmarks): a
 *     segment's bytes are at p_offset; bytes past p_filesz read as zero.
 *
 * The parser rejects: truncated or garbage headers, another class, byte
 * order, machine or type, extended numbering (e_phnum 0xffff), more than
 * KHIB_ELF_MAX_PHDRS headers, PT_LOADs not page-aligned in p_paddr or
 * p_memsz, p_filesz > p_memsz, addresses past 2^64, overlapping PT_LOADs,
 * no PT_LOAD, a malformed note, two khib notes.  Unsorted PT_LOADs are
 * sorted; empty ones (p_memsz 0) are ignored.
 */
#ifndef KHIB_ELFCORE_H
#define KHIB_ELFCORE_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"
#include "ranges.h"

#define KHIB_ELF_MAX_PHDRS 65534u
#define KHIB_ELF_MAX_NOTE  (1u << 20)  /* bytes of one PT_NOTE segment, at most */

/* One PT_LOAD: physical [paddr, paddr + size), the first filesz bytes of it
 * at file offset offset. */
struct khib_segment {
    uint64_t paddr;
    uint64_t size;
    uint64_t offset;
    uint64_t filesz;
};

struct khib_elfcore {
    uint32_t nseg;
    struct khib_segment *seg;   /* sorted by paddr, non-overlapping */
    uint64_t total_bytes;       /* sum of the segments' sizes */
    uint64_t header_end;        /* end of the ELF and program headers in the file */
    int has_note;               /* a khib note was found and decoded */
    struct khib_note note;
};

/* Parse a core header from memory (len bytes: at least all headers and
 * notes).  Returns 0, or -1 with err; core is then empty. */
int khib_elfcore_parse(const void *buf, size_t len, struct khib_elfcore *core, char *err, size_t errlen);

/* Parse the headers of the file at path (its data is not read).  On failure
 * core is zeroed (has_note 0) and -1 returned with err. */
int khib_elfcore_load(const char *path, struct khib_elfcore *core, char *err, size_t errlen);

/* For a core with data: every segment's file bytes lie within file_size and
 * start at a page-aligned offset (they are mmapped).  Returns 0 or -1. */
int khib_elfcore_check_data(const struct khib_elfcore *core, uint64_t file_size, char *err, size_t errlen);

void khib_elfcore_free(struct khib_elfcore *core);

/* Bytes of a header with nranges PT_LOADs and, when with_note, the khib
 * note (Ehdr, program headers, note). */
size_t khib_elfcore_header_size(uint32_t nranges, int with_note);

/* Write a core header into out (outlen >= khib_elfcore_header_size()): one
 * PT_NOTE holding note (none when note is NULL), then one PT_LOAD per range
 * in the order given.  data_start 0: headers only (p_offset 0, p_filesz =
 * p_memsz).  Otherwise data_start (page-aligned, >= the header's size) is
 * where the first range's bytes begin, the others following back to back;
 * p_offset and p_filesz say so.  Ranges must be sorted and non-overlapping.
 * Returns 0 or -1 with err. */
int khib_elfcore_build(const struct khib_range *ranges, uint32_t nranges, const struct khib_note *note,
                       uint64_t data_start, void *out, size_t outlen, char *err, size_t errlen);

/* Headers only for ram, in a malloc'd buffer of *len bytes (the front end's
 * /khib/elfcorehdr).  Returns NULL with err on failure. */
void *khib_elfcore_build_header(const struct khib_range_list *ram, const struct khib_note *note, size_t *len,
                                char *err, size_t errlen);

#endif
