/* (d) ELF core headers with the khib note: khib_elfcore_parse on the input
 * in memory (khib-save --core, khib-gencore), khib_elfcore_load on the same
 * bytes in a memfd (khib-save --elfcorehdr, khib jump-back), which must agree,
 * khib_elfcore_check_data, and a round trip of what parsed through
 * khib_elfcore_build (the front end's writer). */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "elfcore.h"
#include "handoff_codec.h"

static int memfd = -1;

static void check_note(const struct khib_note *n)
{
    khib_fuzz_assert(n->version == KHIB_NOTE_VERSION);
    khib_fuzz_assert(n->fs_count <= KHIB_FS_MAX && n->build_id_len <= KHIB_BUILD_ID_MAX);
    khib_fuzz_assert(memchr(n->kernel_release, 0, KHIB_RELEASE_LEN) && memchr(n->target, 0, KHIB_TARGET_LEN));
    for (uint32_t i = 0; i < n->fs_count; i++)
        khib_fuzz_assert(n->fs[i].dev[0] && memchr(n->fs[i].dev, 0, KHIB_FS_DEV_LEN) && memchr(n->fs[i].mnt, 0, KHIB_FS_MNT_LEN));
    khib_fuzz_assert((n->mailbox_addr | n->window_start | n->window_size) % 4096 == 0);
    khib_fuzz_assert(n->window_size <= UINT64_MAX - n->window_start);
}

/* What a parsed core promises khib-save: sorted, disjoint, page-aligned
 * segments inside the physical address space, their total, a note that
 * checked out. */
static void check_core(const struct khib_elfcore *core, size_t size)
{
    khib_fuzz_assert(core->nseg >= 1 && core->seg != NULL);
    khib_fuzz_assert(core->header_end >= 64 && core->header_end <= size);
    uint64_t total = 0;
    for (uint32_t i = 0; i < core->nseg; i++) {
        const struct khib_segment *s = &core->seg[i];
        khib_fuzz_assert(s->size > 0 && s->size % 4096 == 0 && s->paddr % 4096 == 0);
        khib_fuzz_assert(s->paddr <= UINT64_MAX - s->size && s->filesz <= s->size);
        if (i > 0)
            khib_fuzz_assert(s->paddr >= core->seg[i - 1].paddr + core->seg[i - 1].size);
        total += s->size;
    }
    khib_fuzz_assert(total == core->total_bytes);
    if (core->has_note)
        check_note(&core->note);
}

static void same_note(const struct khib_note *a, const struct khib_note *b)
{
    uint8_t ea[KHIB_NOTE_SIZE], eb[KHIB_NOTE_SIZE];
    khib_note_encode(a, ea);
    khib_note_encode(b, eb);
    khib_fuzz_assert(memcmp(ea, eb, sizeof ea) == 0);
}

/* Write the parsed segments and note as a header again and parse that. */
static void round_trip(const struct khib_elfcore *core)
{
    if (core->nseg + 1u > KHIB_ELF_MAX_PHDRS)
        return;
    struct khib_range *r = malloc(core->nseg * sizeof *r);
    if (!r)
        return;
    for (uint32_t i = 0; i < core->nseg; i++) {
        r[i].start_pfn = core->seg[i].paddr / 4096;
        r[i].pages = core->seg[i].size / 4096;
    }
    const struct khib_note *note = core->has_note ? &core->note : NULL;
    size_t len = khib_elfcore_header_size(core->nseg, note != NULL);
    uint8_t *buf = malloc(len);
    char err[600];
    if (buf) {
        khib_fuzz_assert(khib_elfcore_build(r, core->nseg, note, 0, buf, len, err, sizeof err) == 0);
        struct khib_elfcore again;
        khib_fuzz_assert(khib_elfcore_parse(buf, len, &again, err, sizeof err) == 0);
        khib_fuzz_assert(again.nseg == core->nseg && again.total_bytes == core->total_bytes);
        for (uint32_t i = 0; i < core->nseg; i++)
            khib_fuzz_assert(again.seg[i].paddr == core->seg[i].paddr && again.seg[i].size == core->seg[i].size &&
                             again.seg[i].offset == 0 && again.seg[i].filesz == core->seg[i].size);
        khib_fuzz_assert(again.has_note == core->has_note);
        if (note)
            same_note(&again.note, note);
        khib_elfcore_free(&again);
        free(buf);
    }
    free(r);
}

int khib_fuzz_elfcore(const uint8_t *data, size_t size)
{
    struct khib_elfcore a, b;
    char err[600];
    err[0] = 0;
    int ra = khib_elfcore_parse(data, size, &a, err, sizeof err);
    if (ra != 0) {
        khib_fuzz_assert(ra == -1 && err[0] != 0);
        khib_fuzz_assert(a.seg == NULL && a.nseg == 0 && !a.has_note);
    } else {
        check_core(&a, size);
        (void)khib_elfcore_check_data(&a, size, err, sizeof err);
        round_trip(&a);
    }

    char path[64];
    if (khib_fuzz_memfd(&memfd, data, size, path, sizeof path) == 0) {
        int fd0 = khib_fuzz_lowest_fd();
        int rb = khib_elfcore_load(path, &b, err, sizeof err);
        khib_fuzz_assert(khib_fuzz_lowest_fd() == fd0);
        khib_fuzz_assert(rb == ra);
        if (rb == 0) {
            khib_fuzz_assert(b.nseg == a.nseg && b.total_bytes == a.total_bytes && b.header_end == a.header_end);
            khib_fuzz_assert(memcmp(a.seg, b.seg, a.nseg * sizeof *a.seg) == 0);
            khib_fuzz_assert(b.has_note == a.has_note);
            if (a.has_note)
                same_note(&a.note, &b.note);
        } else {
            khib_fuzz_assert(b.seg == NULL && b.nseg == 0 && !b.has_note);
        }
        khib_elfcore_free(&b);
    }
    khib_elfcore_free(&a);
    return 0;
}
