/* khib-gencore: deterministic test memory for khib-save and khib-restore.
 *
 *   khib-gencore --out CORE --size SIZE [--seed N] [--ranges N] [--window SIZE]
 *                [--note] [--target PATH] [--level N] [--mailbox] [--fs TYPE:PATH]...
 *                [--memfile FILE]
 *       Write an ELF core whose PT_LOAD ranges (with holes between them) hold
 *       SIZE bytes of a realistic page mix: runs of zero pages, pages repeated
 *       from a few templates, text, random bytes, and mostly-zero "struct"
 *       pages.  The same seed always gives the same bytes.  With --note the
 *       core carries a khib note (window, target, level, file systems, and with
 *       --mailbox a mailbox page placed in memory).  With --memfile the core is
 *       headers only (p_offset 0) and the memory goes to FILE at offset =
 *       physical address (sparse), as /dev/mem would show it.
 *       Prints one line per range and, with --mailbox, "mailbox 0xADDR NONCE".
 *       --file-map TEXT:OUT (with --note): an image in a file
 *       (docs/file-target.md): TEXT holds its extents, one "LOGICAL PHYSICAL
 *       LENGTH" line each (bytes); OUT gets them encoded (lib/extents.h), as
 *       khib hibernate writes /khib/extents, and the note their count,
 *       checksum and the first extent's device byte.
 *
 *   khib-gencore --extract CORE --raw FILE [--aligned FILE2]
 *       Write the memory bytes of CORE's PT_LOAD segments (in address order,
 *       zeros past p_filesz) back to back into FILE, zero pages as holes: the
 *       raw memory that general-purpose compressors get in the benchmarks.
 *       With --aligned, when some segment's data does not start at a
 *       page-aligned file offset (khib-save maps it page by page), also write
 *       FILE2: the same core (PT_NOTEs and PT_LOADs, zero pages as holes) with
 *       page-aligned data.  Prints "aligned FILE2" or "aligned: not needed".
 *
 *   khib-gencore --compare CORE --memory FILE [--except ADDR]...
 *       Check that every PT_LOAD range of CORE (a core with data) is
 *       byte-identical in FILE at offset = physical address, except the pages
 *       at the given addresses.  Exit 0 when identical, 1 with the first
 *       difference.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcore.h"
#include "extents.h"
#include "fsstate.h"
#include "handoff_codec.h"
#include "image_format.h"
#include "xxhash64.h"

#define PAGE 4096u
#define BUF_PAGES 1024u
#define TEMPLATES 16
#define MAX_EXCEPT 16

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int parse_size(const char *t, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(t, &end, 0);
    if (errno || end == t)
        return -1;
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static const char *const words[] = {
    "the", "kernel", "memory", "page", "process", "file", "system", "return", "struct", "static", "int", "void",
    "const", "char", "unsigned", "long", "if", "else", "for", "while", "error", "buffer", "length", "offset",
    "device", "driver", "interrupt", "schedule", "task", "thread", "lock", "mutex", "read", "write", "open",
    "close", "mount", "inode", "dentry", "cache", "network", "socket", "packet", "address", "physical",
    "virtual", "mapping", "table", "entry", "value", "count", "index", "data", "node", "list", "head", "next",
    "prev", "size", "flags", "state", "user", "root", "home"};

static void text_page(uint8_t *p, uint64_t *s)
{
    size_t off = 0;
    while (off < PAGE) {
        const char *w = words[rnd(s) % (sizeof words / sizeof *words)];
        size_t n = strlen(w);
        for (size_t i = 0; i < n && off < PAGE; i++)
            p[off++] = (uint8_t)w[i];
        if (off < PAGE)
            p[off++] = (rnd(s) % 8 == 0) ? '\n' : ' ';
    }
}

static void random_page(uint8_t *p, uint64_t *s)
{
    for (size_t i = 0; i < PAGE; i += 8) {
        uint64_t v = rnd(s);
        memcpy(p + i, &v, 8);
    }
}

static void struct_page(uint8_t *p, uint64_t *s)
{
    memset(p, 0, PAGE);
    unsigned n = 16 + (unsigned)(rnd(s) % 48);
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = 0xffff888000000000ULL | (rnd(s) & 0x3fffffff8ULL);
        memcpy(p + (rnd(s) % (PAGE / 8)) * 8, &v, 8);
    }
}

enum kind { ZERO, TEMPLATE, TEXT, RANDOM, STRUCT };

struct gen {
    uint64_t s;
    enum kind kind;
    uint64_t left;          /* pages left in the current run */
    uint8_t tmpl[TEMPLATES][PAGE];
};

static void gen_init(struct gen *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    if (!g->s)
        g->s = 1;
    for (int i = 0; i < TEMPLATES; i++) {
        if (i % 2)
            text_page(g->tmpl[i], &g->s);
        else
            struct_page(g->tmpl[i], &g->s);
    }
}

/* The next page; returns 0 for a zero page (p untouched). */
static int gen_page(struct gen *g, uint8_t *p)
{
    if (g->left == 0) {
        unsigned r = (unsigned)(rnd(&g->s) % 100);
        g->kind = r < 25 ? ZERO : r < 42 ? TEMPLATE : r < 70 ? TEXT : r < 87 ? RANDOM : STRUCT;
        g->left = 1 + rnd(&g->s) % (g->kind == ZERO ? 128 : 64);
    }
    g->left--;
    switch (g->kind) {
    case ZERO: return 0;
    case TEMPLATE: memcpy(p, g->tmpl[rnd(&g->s) % TEMPLATES], PAGE); return 1;
    case TEXT: text_page(p, &g->s); return 1;
    case RANDOM: random_page(p, &g->s); return 1;
    case STRUCT: struct_page(p, &g->s); return 1;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *path)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "khib-gencore: cannot write %s: %s\n", path, n < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

struct genopts {
    const char *out, *memfile, *target;
    uint64_t size, seed, window;
    uint32_t nranges;
    int note, mailbox, level;
    const char *fs[KHIB_FS_MAX];
    uint32_t nfs;
    const char *file_map;   /* --file-map TEXT:OUT */
};

/* --file-map TEXT:OUT: the extents into OUT and the note (see the top). */
static int file_map(const char *arg, struct khib_note *note)
{
    char text[512];
    snprintf(text, sizeof text, "%s", arg);
    char *out = strchr(text, ':');
    if (!out) {
        fprintf(stderr, "khib-gencore: --file-map TEXT:OUT\n");
        return -1;
    }
    *out++ = 0;
    FILE *in = fopen(text, "r");
    struct khib_extent e[64];
    struct khib_extmap m = {0, e};
    unsigned long long l, p, n;
    while (in && m.count < 64 && fscanf(in, "%llu %llu %llu", &l, &p, &n) == 3)
        e[m.count++] = (struct khib_extent){l, p, n};
    if (in)
        fclose(in);
    uint8_t buf[KHIB_EXTMAP_HEADER + 64 * KHIB_EXTENT_SIZE];
    size_t len = khib_extmap_bytes(m.count);
    FILE *o = m.count ? fopen(out, "w") : NULL;
    khib_extmap_encode(&m, buf);
    if (!o || fwrite(buf, 1, len, o) != len || fclose(o) != 0) {
        fprintf(stderr, "khib-gencore: --file-map: no extents in %s, or cannot write %s\n", text, out);
        return -1;
    }
    note->file_base = e[0].physical;
    note->extent_count = m.count;
    note->extmap_checksum = khib_hash64(buf, len, 0);
    return 0;
}

/* --fs TYPE:PATH: a record as khib would make it for a file system of TYPE
 * on PATH mounted at /mnt/testN (the uuid read from PATH when it holds one). */
static void note_fs(struct khib_fs_record *r, const char *arg, uint32_t i)
{
    const char *colon = strchr(arg, ':');
    char type[32];
    snprintf(type, sizeof type, "%.*s", colon ? (int)(colon - arg) : 0, arg);
    const char *path = colon ? colon + 1 : arg;
    r->kind = khib_fs_kind_of(type);
    snprintf(r->dev, sizeof r->dev, "%s", path);
    snprintf(r->mnt, sizeof r->mnt, "/mnt/test%" PRIu32, i);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        char err[300];
        r->dev_bytes = (uint64_t)st.st_size;
        if (khib_fs_probe(fd, r->kind, r->uuid, r->state, err, sizeof err) != KHIB_FS_OK)
            memset(r->uuid, 0, sizeof r->uuid);
        memset(r->state, 0, sizeof r->state);
    }
    if (fd >= 0)
        close(fd);
}

static int generate(const struct genopts *o)
{
    if (o->size < PAGE || o->nranges == 0 || o->nranges > 64 || o->size / PAGE < o->nranges) {
        fprintf(stderr, "khib-gencore: --size must hold at least one page per range (1..64 ranges)\n");
        return 2;
    }
    /* Ranges: random shares of the size, holes of 1-8 MiB between them. */
    struct khib_range ranges[64];
    uint64_t s = o->seed ^ 0xA5A5A5A5DEADBEEFULL, pages = o->size / PAGE, left = pages;
    uint64_t pfn = (o->window ? o->window : (1u << 20)) / PAGE;
    for (uint32_t i = 0; i < o->nranges; i++) {
        uint64_t share = i + 1 == o->nranges ? left : 1 + rnd(&s) % (2 * left / (o->nranges - i));
        if (share > left - (o->nranges - i - 1))
            share = left - (o->nranges - i - 1);
        ranges[i].start_pfn = pfn;
        ranges[i].pages = share;
        left -= share;
        pfn += share + 256 + rnd(&s) % 1792;
    }
    struct khib_note note;
    memset(&note, 0, sizeof note);
    note.version = KHIB_NOTE_VERSION;
    note.window_start = 0;
    note.window_size = o->window;
    note.memmap_digest = rnd(&s);
    note.level = o->level;
    snprintf(note.kernel_release, sizeof note.kernel_release, "6.12.0-khib-test");
    snprintf(note.host_name, sizeof note.host_name, "khibtest-gen");
    note.build_id_len = 20;
    for (int i = 0; i < 20; i++)
        note.build_id[i] = (uint8_t)rnd(&s);
    if (o->target)
        snprintf(note.target, sizeof note.target, "%s", o->target);
    note.fs_count = o->nfs;
    for (uint32_t i = 0; i < o->nfs; i++)
        note_fs(&note.fs[i], o->fs[i], i);
    if (o->file_map && file_map(o->file_map, &note) != 0)
        return 2;
    uint64_t mailbox = 0;
    if (o->mailbox) {
        const struct khib_range *r = &ranges[o->nranges > 1 ? 1 : 0];
        mailbox = (r->start_pfn + r->pages / 2) * PAGE;
        note.mailbox_addr = mailbox;
        note.nonce = rnd(&s) | 1;
    }

    size_t hlen = khib_elfcore_header_size(o->nranges, o->note);
    uint64_t data_start = o->memfile ? 0 : (hlen + PAGE - 1) / PAGE * PAGE;
    uint8_t *hdr = calloc(1, hlen);
    char err[300];
    if (!hdr || khib_elfcore_build(ranges, o->nranges, o->note ? &note : NULL, data_start, hdr, hlen, err,
                                   sizeof err) != 0) {
        fprintf(stderr, "khib-gencore: %s\n", hdr ? err : "out of memory");
        free(hdr);
        return 2;
    }
    int fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "khib-gencore: cannot create %s: %s\n", o->out, strerror(errno));
        free(hdr);
        return 2;
    }
    int rc = 2;
    int mfd = -1;
    const char *dpath = o->out;
    uint8_t *buf = malloc((size_t)BUF_PAGES * PAGE);
    struct gen *g = malloc(sizeof *g);
    if (!buf || !g) {
        fprintf(stderr, "khib-gencore: out of memory\n");
        goto out;
    }
    if (pwrite_all(fd, hdr, hlen, 0, o->out) != 0)
        goto out;
    uint64_t end = data_start + pages * PAGE;
    if (o->memfile) {
        mfd = open(o->memfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (mfd < 0) {
            fprintf(stderr, "khib-gencore: cannot create %s: %s\n", o->memfile, strerror(errno));
            goto out;
        }
        dpath = o->memfile;
        const struct khib_range *last = &ranges[o->nranges - 1];
        end = (last->start_pfn + last->pages) * PAGE;
    }
    int dfd = o->memfile ? mfd : fd;
    if (ftruncate(dfd, (off_t)end) != 0) {
        fprintf(stderr, "khib-gencore: cannot size %s: %s\n", dpath, strerror(errno));
        goto out;
    }
    gen_init(g, o->seed);
    uint64_t off = data_start;
    for (uint32_t i = 0; i < o->nranges; i++) {
        if (o->memfile)
            off = ranges[i].start_pfn * PAGE;
        printf("range 0x%" PRIx64 " 0x%" PRIx64 "\n", ranges[i].start_pfn * PAGE, ranges[i].pages * PAGE);
        /* Nonzero pages are gathered and written in runs; zero pages stay holes. */
        uint64_t run_off = off;
        size_t n = 0;
        for (uint64_t p = 0; p < ranges[i].pages; p++) {
            uint64_t paddr = (ranges[i].start_pfn + p) * PAGE;
            uint8_t *page = buf + n * PAGE;
            int nonzero = gen_page(g, page);
            if (paddr == mailbox && mailbox) {
                struct khib_mailbox m;
                memset(&m, 0, sizeof m);
                memcpy(m.magic, KHIB_MAILBOX_MAGIC, 8);
                m.nonce = note.nonce;
                memset(page, 0, PAGE);
                khib_mailbox_encode(&m, page);
                nonzero = 1;
            }
            if (nonzero) {
                if (n == 0)
                    run_off = off;
                n++;
            }
            off += PAGE;
            if (n && (!nonzero || n == BUF_PAGES || p + 1 == ranges[i].pages)) {
                if (pwrite_all(dfd, buf, n * PAGE, run_off, dpath) != 0)
                    goto out;
                n = 0;
            }
        }
    }
    if (mailbox)
        printf("mailbox 0x%" PRIx64 " 0x%" PRIx64 "\n", mailbox, note.nonce);
    rc = 0;
out:
    free(g);
    free(buf);
    free(hdr);
    if (mfd >= 0 && close(mfd) != 0 && rc == 0) {
        fprintf(stderr, "khib-gencore: closing %s: %s\n", o->memfile, strerror(errno));
        rc = 2;
    }
    if (close(fd) != 0 && rc == 0) {
        fprintf(stderr, "khib-gencore: closing %s: %s\n", o->out, strerror(errno));
        rc = 2;
    }
    return rc;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* past the end of a sparse file: zeros */
            memset((uint8_t *)buf + done, 0, len - done);
            return 0;
        }
        done += (size_t)n;
    }
    return 0;
}

static int compare(const char *core_path, const char *mem_path, const uint64_t *except, int nexcept)
{
    struct khib_elfcore core;
    char err[400];
    if (khib_elfcore_load(core_path, &core, err, sizeof err) != 0) {
        fprintf(stderr, "khib-gencore: %s\n", err);
        return 2;
    }
    int cfd = open(core_path, O_RDONLY | O_CLOEXEC), mfd = open(mem_path, O_RDONLY | O_CLOEXEC);
    size_t blk = (size_t)BUF_PAGES * PAGE;
    uint8_t *a = malloc(blk), *b = malloc(blk);
    int rc = 2;
    if (cfd < 0 || mfd < 0 || !a || !b) {
        fprintf(stderr, "khib-gencore: cannot open %s or %s: %s\n", core_path, mem_path, strerror(errno));
        goto out;
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < core.nseg; i++) {
        const struct khib_segment *s = &core.seg[i];
        for (uint64_t rel = 0; rel < s->size; rel += blk) {
            size_t n = s->size - rel < blk ? (size_t)(s->size - rel) : blk;
            memset(a, 0, n);
            if (rel < s->filesz) {
                size_t m = s->filesz - rel < n ? (size_t)(s->filesz - rel) : n;
                if (pread_all(cfd, a, m, s->offset + rel) != 0)
                    goto io;
            }
            if (pread_all(mfd, b, n, s->paddr + rel) != 0)
                goto io;
            for (size_t p = 0; p < n; p += PAGE) {
                uint64_t paddr = s->paddr + rel + p;
                int skip = 0;
                for (int e = 0; e < nexcept; e++)
                    skip |= except[e] == paddr;
                if (!skip && memcmp(a + p, b + p, PAGE) != 0) {
                    fprintf(stderr, "khib-gencore: page 0x%" PRIx64 " differs between %s and %s\n", paddr,
                            core_path, mem_path);
                    rc = 1;
                    goto out;
                }
            }
            bytes += n;
        }
    }
    printf("identical: %" PRIu64 " bytes in %" PRIu32 " ranges\n", bytes, core.nseg);
    rc = 0;
    goto out;
io:
    fprintf(stderr, "khib-gencore: read error: %s\n", strerror(errno));
out:
    free(a);
    free(b);
    if (cfd >= 0)
        close(cfd);
    if (mfd >= 0)
        close(mfd);
    khib_elfcore_free(&core);
    return rc;
}

/* Copy len bytes of in at off into out at out_off, leaving zero pages as
 * holes (out is sized by the caller); bytes past the input's end are zero. */
static int copy_sparse(int in, uint64_t off, uint64_t len, int out, uint64_t out_off, const char *out_path,
                       uint8_t *buf, size_t cap)
{
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < cap ? (size_t)(len - done) : cap;
        if (pread_all(in, buf, n, off + done) != 0) {
            fprintf(stderr, "khib-gencore: read error: %s\n", strerror(errno));
            return -1;
        }
        for (size_t p = 0; p < n; p += PAGE) {
            size_t k = n - p < PAGE ? n - p : PAGE;
            size_t z = 0;
            while (z < k && buf[p + z] == 0)
                z++;
            if (z < k && pwrite_all(out, buf + p, k, out_off + done + p, out_path) != 0)
                return -1;
        }
        done += n;
    }
    return 0;
}

static int extract(const char *core_path, const char *raw_path, const char *aligned_path)
{
    struct khib_elfcore core;
    char err[400];
    if (khib_elfcore_load(core_path, &core, err, sizeof err) != 0) {
        fprintf(stderr, "khib-gencore: %s\n", err);
        return 2;
    }
    int rc = 2, in = open(core_path, O_RDONLY | O_CLOEXEC), out = -1, al = -1;
    size_t cap = (size_t)BUF_PAGES * PAGE;
    uint8_t *buf = malloc(cap);
    Elf64_Phdr *ph = NULL;
    Elf64_Ehdr eh;
    if (in < 0 || !buf) {
        fprintf(stderr, "khib-gencore: cannot open %s: %s\n", core_path, strerror(errno));
        goto out;
    }
    out = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "khib-gencore: cannot create %s: %s\n", raw_path, strerror(errno));
        goto out;
    }
    uint64_t pos = 0;
    int unaligned = 0;
    for (uint32_t i = 0; i < core.nseg; i++) {
        const struct khib_segment *sg = &core.seg[i];
        if (copy_sparse(in, sg->offset, sg->filesz, out, pos, raw_path, buf, cap) != 0)
            goto out;
        pos += sg->size;
        unaligned |= sg->offset % PAGE != 0;
    }
    if (ftruncate(out, (off_t)pos) != 0) {
        fprintf(stderr, "khib-gencore: cannot size %s: %s\n", raw_path, strerror(errno));
        goto out;
    }
    printf("raw %s %" PRIu64 "\n", raw_path, pos);
    if (!aligned_path || !unaligned) {
        if (aligned_path)
            printf("aligned: not needed\n");
        rc = 0;
        goto out;
    }
    /* The same core with its data page-aligned: notes after the headers,
     * each PT_LOAD's bytes from the next page boundary. */
    if (pread_all(in, &eh, sizeof eh, 0) != 0 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        fprintf(stderr, "khib-gencore: %s: cannot read the ELF header again\n", core_path);
        goto out;
    }
    ph = calloc(eh.e_phnum ? eh.e_phnum : 1, sizeof *ph);
    if (!ph || pread_all(in, ph, (size_t)eh.e_phnum * sizeof *ph, eh.e_phoff) != 0) {
        fprintf(stderr, "khib-gencore: %s: cannot read the program headers\n", core_path);
        goto out;
    }
    uint16_t keep = 0;
    for (uint16_t i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_NOTE || (ph[i].p_type == PT_LOAD && ph[i].p_memsz))
            ph[keep++] = ph[i];
    al = open(aligned_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (al < 0) {
        fprintf(stderr, "khib-gencore: cannot create %s: %s\n", aligned_path, strerror(errno));
        goto out;
    }
    uint64_t off = sizeof eh + (uint64_t)keep * sizeof *ph;
    for (uint16_t i = 0; i < keep; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        if (ph[i].p_filesz > cap || pread_all(in, buf, ph[i].p_filesz, ph[i].p_offset) != 0 ||
            pwrite_all(al, buf, ph[i].p_filesz, off, aligned_path) != 0) {
            fprintf(stderr, "khib-gencore: cannot copy a PT_NOTE of %s\n", core_path);
            goto out;
        }
        ph[i].p_offset = off;
        off += ph[i].p_filesz;
    }
    for (uint16_t i = 0; i < keep; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        off = (off + PAGE - 1) / PAGE * PAGE;
        if (copy_sparse(in, ph[i].p_offset, ph[i].p_filesz, al, off, aligned_path, buf, cap) != 0)
            goto out;
        ph[i].p_offset = off;
        ph[i].p_filesz = ph[i].p_memsz;
        off += ph[i].p_memsz;
    }
    eh.e_phoff = sizeof eh;
    eh.e_phnum = keep;
    eh.e_shoff = 0;
    eh.e_shnum = 0;
    eh.e_shstrndx = 0;
    if (pwrite_all(al, &eh, sizeof eh, 0, aligned_path) != 0 ||
        pwrite_all(al, ph, (size_t)keep * sizeof *ph, sizeof eh, aligned_path) != 0)
        goto out;
    if (ftruncate(al, (off_t)off) != 0) {
        fprintf(stderr, "khib-gencore: cannot size %s: %s\n", aligned_path, strerror(errno));
        goto out;
    }
    printf("aligned %s\n", aligned_path);
    rc = 0;
out:
    if (al >= 0 && close(al) != 0 && rc == 0) {
        fprintf(stderr, "khib-gencore: closing %s: %s\n", aligned_path, strerror(errno));
        rc = 2;
    }
    if (out >= 0 && close(out) != 0 && rc == 0) {
        fprintf(stderr, "khib-gencore: closing %s: %s\n", raw_path, strerror(errno));
        rc = 2;
    }
    if (in >= 0)
        close(in);
    free(ph);
    free(buf);
    khib_elfcore_free(&core);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: khib-gencore --out CORE --size SIZE [--seed N] [--ranges N] [--window SIZE] [--note]\n"
               "                    [--target PATH] [--level N] [--mailbox] [--fs TYPE:PATH]... [--memfile FILE]\n"
               "                    [--file-map TEXT:OUT]\n"
               "       khib-gencore --extract CORE --raw FILE [--aligned FILE2]\n"
               "       khib-gencore --compare CORE --memory FILE [--except ADDR]...\n"
               "Write a deterministic test core, or compare a core's ranges with a memory file.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"size", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},    {"ranges", required_argument, 0, 'r'},
        {"window", required_argument, 0, 'w'},  {"note", no_argument, 0, 'n'},
        {"target", required_argument, 0, 't'},  {"level", required_argument, 0, 'l'},
        {"mailbox", no_argument, 0, 'M'},       {"fs", required_argument, 0, 'f'},
        {"memfile", required_argument, 0, 'F'}, {"compare", required_argument, 0, 'c'},
        {"memory", required_argument, 0, 'm'},  {"except", required_argument, 0, 'x'},
        {"extract", required_argument, 0, 'E'}, {"raw", required_argument, 0, 'R'},
        {"aligned", required_argument, 0, 'A'}, {"help", no_argument, 0, 'h'},
        {"file-map", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    struct genopts o;
    memset(&o, 0, sizeof o);
    o.nranges = 3;
    const char *cmp = NULL, *mem = NULL, *ext = NULL, *raw = NULL, *aligned = NULL;
    uint64_t except[MAX_EXCEPT];
    int nexcept = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint64_t v = 0;
        switch (c) {
        case 'o': o.out = optarg; break;
        case 's': if (parse_size(optarg, &o.size)) goto bad; break;
        case 'S': if (parse_size(optarg, &o.seed)) goto bad; break;
        case 'r': if (parse_size(optarg, &v)) goto bad; o.nranges = (uint32_t)v; break;
        case 'w': if (parse_size(optarg, &o.window) || o.window % PAGE) goto bad; break;
        case 'n': o.note = 1; break;
        case 't': o.target = optarg; break;
        case 'l': o.level = atoi(optarg); break;
        case 'M': o.mailbox = 1; break;
        case 'f': if (o.nfs == KHIB_FS_MAX) goto bad; o.fs[o.nfs++] = optarg; break;
        case 'F': o.memfile = optarg; break;
        case 'X': o.file_map = optarg; break;
        case 'c': cmp = optarg; break;
        case 'E': ext = optarg; break;
        case 'R': raw = optarg; break;
        case 'A': aligned = optarg; break;
        case 'm': mem = optarg; break;
        case 'x':
            if (nexcept == MAX_EXCEPT || parse_size(optarg, &except[nexcept]))
                goto bad;
            nexcept++;
            break;
        case 'h': usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (ext && raw && !cmp && !o.out)
        return extract(ext, raw, aligned);
    if (cmp && mem)
        return compare(cmp, mem, except, nexcept);
    if (o.out && o.size && !cmp)
        return generate(&o);
bad:
    usage(stderr);
    return 2;
}
