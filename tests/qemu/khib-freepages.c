/* khib-freepages: the free page finder (lib/freepages.h) over an ELF core of
 * a stopped guest (QEMU's dump-guest-memory, physical addresses), for
 * tests/qemu/freepages.sh.
 *
 *   khib-freepages CORE VMCOREINFO_PADDR NOTE_SIZE [--expect N]
 *                  [--keep SEED:MIB] [--gone SEED:MIB] [--save-vmcoreinfo FILE]
 *                  [--window BYTES]
 *
 * VMCOREINFO_PADDR and NOTE_SIZE are the hex pair of the guest's
 * /sys/kernel/vmcoreinfo.  --expect passes a free page count (the guest's
 * MemFree) for the cross-check instead of the zones' counters.  --keep and
 * --gone name the memory patterns of tests/qemu/testload.c `hold MIB SEED`:
 * every page of the core holding a page of the pattern is found; a --keep
 * page (still held by the guest) must not be in a free run; of the --gone
 * pages (their process was killed) the tool says how many are.
 * --save-vmcoreinfo writes the guest's VMCOREINFO text to FILE.  --window
 * makes every read below BYTES fail, as in B before A's window contents
 * can be found (docs/freepages.md "What remains").
 *
 * Prints "key=value" lines and exits 0 when the finder succeeded and no
 * --keep page is reported free, 1 otherwise, 2 on a usage or I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "elfcore.h"
#include "freepages.h"
#include "le.h"
#include "vmcoreinfo.h"

#define PAGE 4096u

struct core {
    int fd;
    struct khib_elfcore elf;
    uint64_t window;    /* reads below fail */
};

/* The read callback: the bytes may span segments that touch. */
static int core_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
    struct core *c = ctx;
    uint8_t *out = buf;
    if (paddr < c->window)
        return -1;
    while (len > 0) {
        const struct khib_segment *s = NULL;
        for (uint32_t i = 0; i < c->elf.nseg && !s; i++)
            if (paddr >= c->elf.seg[i].paddr && paddr - c->elf.seg[i].paddr < c->elf.seg[i].size)
                s = &c->elf.seg[i];
        if (!s)
            return -1;
        uint64_t in = paddr - s->paddr;
        size_t n = s->size - in < len ? (size_t)(s->size - in) : len;
        if (in + n > s->filesz)
            return -1;
        ssize_t got = pread(c->fd, out, n, (off_t)(s->offset + in));
        if (got < 0 || (size_t)got != n)
            return -1;
        out += n;
        paddr += n;
        len -= n;
    }
    return 0;
}

/* One testload pattern: MIB MiB of xorshift64* words from SEED|1, pages
 * indexed by their first word. */
struct pattern {
    const char *name;
    uint64_t pages;
    uint64_t *words;
    uint64_t *slot;          /* open addressing: page index + 1, 0 empty */
    uint64_t nslot;
    uint64_t found, found_free, copies;
    uint8_t *seen;
};

static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int pattern_init(struct pattern *p, const char *name, const char *arg)
{
    uint64_t seed, mib;
    if (sscanf(arg, "%" SCNu64 ":%" SCNu64, &seed, &mib) != 2 || mib == 0 || mib > 4096)
        return -1;
    memset(p, 0, sizeof *p);
    p->name = name;
    p->pages = mib * 256;
    p->nslot = p->pages * 4;
    p->words = malloc(p->pages * PAGE);
    p->slot = calloc(p->nslot, sizeof *p->slot);
    p->seen = calloc(p->pages, 1);
    if (!p->words || !p->slot || !p->seen)
        return -1;
    uint64_t s = seed | 1;
    for (uint64_t i = 0; i < p->pages * (PAGE / 8); i++)
        p->words[i] = next(&s);
    for (uint64_t k = 0; k < p->pages; k++) {
        uint64_t h = p->words[k * (PAGE / 8)] % p->nslot;
        while (p->slot[h])
            h = (h + 1) % p->nslot;
        p->slot[h] = k + 1;
    }
    return 0;
}

static void pattern_page(struct pattern *p, const uint8_t *page, uint64_t pfn, const struct khib_freepages *fp)
{
    uint64_t first = khib_get64(page);
    for (uint64_t h = first % p->nslot; p->slot[h]; h = (h + 1) % p->nslot) {
        uint64_t k = p->slot[h] - 1;
        if (p->words[k * (PAGE / 8)] != first || memcmp(page, &p->words[k * (PAGE / 8)], PAGE) != 0)
            continue;
        if (p->seen[k])
            p->copies++;
        else
            p->found++;
        p->seen[k] = 1;
        if (fp && khib_freepages_contains(fp, pfn))
            p->found_free++;
        return;
    }
}

static int scan(struct core *c, struct pattern **pats, int npat, const struct khib_freepages *fp)
{
    size_t blk = 1u << 20;
    uint8_t *buf = malloc(blk);
    if (!buf)
        return -1;
    for (uint32_t i = 0; i < c->elf.nseg; i++) {
        const struct khib_segment *s = &c->elf.seg[i];
        for (uint64_t off = 0; off + PAGE <= s->filesz; off += blk) {
            size_t n = s->filesz - off < blk ? (size_t)(s->filesz - off) : blk;
            n &= ~(size_t)(PAGE - 1);
            ssize_t got = pread(c->fd, buf, n, (off_t)(s->offset + off));
            if (got < 0 || (size_t)got != n) {
                free(buf);
                return -1;
            }
            for (size_t at = 0; at < n; at += PAGE)
                for (int j = 0; j < npat; j++)
                    pattern_page(pats[j], buf + at, (s->paddr + off + at) / PAGE, fp);
        }
    }
    free(buf);
    return 0;
}

static int save_text(const char *path, const struct khib_vmcoreinfo *vi)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (uint32_t i = 0; i < vi->count; i++)
        fprintf(f, "%s=%s\n", vi->entry[i].key, vi->entry[i].value);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: khib-freepages CORE VMCOREINFO_PADDR NOTE_SIZE [--expect N] [--keep SEED:MIB] "
                        "[--gone SEED:MIB]\n");
        return 2;
    }
    struct khib_freepages_opts opts = {.expected_free = -1};
    struct pattern keep, gone, *pats[2];
    int npat = 0, has_keep = 0;
    const char *save_to = NULL;
    uint64_t window = 0;
    for (int i = 4; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--window") == 0) {
            window = strtoull(argv[++i], NULL, 0);
        } else if (i + 1 < argc && strcmp(argv[i], "--save-vmcoreinfo") == 0) {
            save_to = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--expect") == 0) {
            opts.expected_free = strtoll(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--keep") == 0 && pattern_init(&keep, "keep", argv[i + 1]) == 0) {
            pats[npat++] = &keep;
            has_keep = 1;
            i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--gone") == 0 && pattern_init(&gone, "gone", argv[i + 1]) == 0) {
            pats[npat++] = &gone;
            i++;
        } else {
            fprintf(stderr, "khib-freepages: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    struct core c;
    char err[300];
    if (khib_elfcore_load(argv[1], &c.elf, err, sizeof err) != 0) {
        fprintf(stderr, "khib-freepages: %s: %s\n", argv[1], err);
        return 2;
    }
    c.window = 0;   /* the note is read first, as A's front end would pass it */
    c.fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (c.fd < 0) {
        fprintf(stderr, "khib-freepages: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    uint64_t note_pa = strtoull(argv[2], NULL, 16), note_len = strtoull(argv[3], NULL, 16);
    uint8_t *note = note_len > 0 && note_len <= (1u << 20) ? malloc(note_len) : NULL;
    if (!note || core_read(&c, note_pa, note, note_len) != 0) {
        fprintf(stderr, "khib-freepages: the VMCOREINFO note at 0x%" PRIx64 " (%" PRIu64 " bytes) cannot be read\n",
                note_pa, note_len);
        return 2;
    }
    struct khib_vmcoreinfo vi;
    if (khib_vmcoreinfo_from_note(note, note_len, &vi, err, sizeof err) != 0) {
        fprintf(stderr, "khib-freepages: %s\n", err);
        return 2;
    }
    if (save_to && save_text(save_to, &vi) != 0) {
        fprintf(stderr, "khib-freepages: %s: %s\n", save_to, strerror(errno));
        return 2;
    }
    const char *rel = khib_vmci_get(&vi, "OSRELEASE");
    printf("osrelease=%s\n", rel ? rel : "?");
    struct khib_freepages fp;
    struct timespec t0, t1;
    c.window = window;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = khib_freepages_find(&vi, core_read, &c, &opts, &fp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("layout=%s\ncompound_field=%s\n", fp.layout_name ? fp.layout_name : "?",
           fp.compound_field ? fp.compound_field : "?");
    printf("free_pages=%" PRIu64 " runs=%" PRIu64 " zone_free=%" PRId64 " expected=%" PRId64 " margin=%" PRIu64
           " walked=%" PRIu64 " unmapped=%" PRIu64 " sections=%" PRIu64 " mem_map=0x%" PRIx64 "\n",
           fp.free_pages, fp.nrun, fp.zone_free, fp.expected, fp.margin, fp.pages_walked, fp.pages_unmapped,
           fp.sections, fp.mem_map);
    printf("walk_ms=%.1f\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    printf("result=%s %s\n", rc == 0 ? "ok" : "fallback", fp.reason);
    int status = rc == 0 ? 0 : 1;
    if (npat > 0) {
        if (scan(&c, pats, npat, rc == 0 ? &fp : NULL) != 0) {
            fprintf(stderr, "khib-freepages: %s: read error\n", argv[1]);
            return 2;
        }
        for (int j = 0; j < npat; j++)
            printf("%s_pages=%" PRIu64 " found=%" PRIu64 " copies=%" PRIu64 " in_free_runs=%" PRIu64 "\n",
                   pats[j]->name, pats[j]->pages, pats[j]->found, pats[j]->copies, pats[j]->found_free);
        if (has_keep && keep.found_free != 0)
            status = 1;
    }
    khib_freepages_free(&fp);
    khib_vmcoreinfo_free(&vi);
    khib_elfcore_free(&c.elf);
    close(c.fd);
    return status;
}
