/* Fuzz harnesses of khib's parsers: one function per entry point, called by
 * libFuzzer through entry.c (build/fuzz/fuzz_NAME) and, without libFuzzer,
 * by the unit test tests/unit/test_fuzz_replay.c on the kept crashers
 * (tests/fuzz/crashers/NAME/).  docs/fuzzing.md.
 *
 * Each function returns 0 and never fails on a bad input: it must be
 * rejected cleanly.  A crash, a sanitizer report, a leak, or an abort() on a
 * broken invariant (khib_fuzz_assert) is a bug. */
#ifndef KHIB_FUZZ_H
#define KHIB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* (a) khib_superblock_decode + khib_superblock_check_layout (+ print_info). */
int khib_fuzz_superblock(const uint8_t *data, size_t size);
/* (b) khib_index_decode + khib_index_check against a decoded superblock. */
int khib_fuzz_index(const uint8_t *data, size_t size);
/* (c) a whole image in a memfd: open, --info, load index, verify each chunk. */
int khib_fuzz_image(const uint8_t *data, size_t size);
/* (d) khib_elfcore_parse (buffer and file) with its khib note. */
int khib_fuzz_elfcore(const uint8_t *data, size_t size);
/* (e) khib_note_decode and khib_mailbox_decode. */
int khib_fuzz_handoff(const uint8_t *data, size_t size);

/* abort() with a message when cond is false: a broken invariant. */
#define khib_fuzz_assert(cond) khib_fuzz_check((cond), #cond, __FILE__, __LINE__)
void khib_fuzz_check(int ok, const char *what, const char *file, int line);

/* Put data into a memfd (created once in *slot, -1 at first, then reused)
 * and name it in path (/proc/self/fd/N): the programs open images and core
 * headers by path.  Returns 0, or -1 when no memfd can be had (the harness
 * then skips its file part). */
int khib_fuzz_memfd(int *slot, const uint8_t *data, size_t size, char *path, size_t pathlen);

/* The lowest free descriptor: the same before and after a run, or a
 * descriptor leaked. */
int khib_fuzz_lowest_fd(void);

#endif
