#define _GNU_SOURCE
#include "elfcore.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff_codec.h"
#include "le.h"

#define EHDR_SIZE 64u
#define PHDR_SIZE 56u
#define NOTE_HDR  12u
#define NOTE_NAME_PADDED 8u    /* "KHIB\0" padded to 4 bytes */
#define PAGE      4096ull

/* Where the bytes come from: a buffer, or a file read on demand. */
struct src {
    const uint8_t *buf;
    int fd;
    uint64_t size;
};

static int src_read(const struct src *s, uint64_t off, size_t len, void *out, const char *what, char *err,
                    size_t errlen)
{
    if (off > s->size || len > s->size - off) {
        snprintf(err, errlen, "truncated core header: the %s (bytes %" PRIu64 "..%" PRIu64 ") lies past its end (%"
                 PRIu64 " bytes)", what, off, off + len, s->size);
        return -1;
    }
    if (s->buf) {
        memcpy(out, s->buf + off, len);
        return 0;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, (uint8_t *)out + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read the %s: %s", what, n < 0 ? strerror(errno) : "unexpected end of file");
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static int cmp_seg(const void *a, const void *b)
{
    const struct khib_segment *x = a, *y = b;
    return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

/* Walk the notes of one PT_NOTE segment; decode a khib note if there is one. */
static int parse_notes(const uint8_t *p, size_t len, struct khib_elfcore *core, char *err, size_t errlen)
{
    size_t off = 0;
    while (off + NOTE_HDR <= len) {
        uint32_t namesz = khib_get32(p + off), descsz = khib_get32(p + off + 4), type = khib_get32(p + off + 8);
        size_t name_off = off + NOTE_HDR;
        size_t name_pad = ((size_t)namesz + 3) & ~(size_t)3;
        size_t desc_pad = ((size_t)descsz + 3) & ~(size_t)3;
        if (name_pad > len - name_off || desc_pad > len - name_off - name_pad) {
            snprintf(err, errlen, "malformed ELF note at byte %zu of a PT_NOTE (name %" PRIu32 ", descriptor %"
                     PRIu32 " bytes, segment %zu bytes)", off, namesz, descsz, len);
            return -1;
        }
        const uint8_t *name = p + name_off, *desc = name + name_pad;
        if (namesz == sizeof KHIB_NOTE_NAME && memcmp(name, KHIB_NOTE_NAME, sizeof KHIB_NOTE_NAME) == 0 &&
            type == KHIB_NOTE_TYPE) {
            if (core->has_note) {
                snprintf(err, errlen, "the core header has two khib notes");
                return -1;
            }
            if (khib_note_decode(desc, descsz, &core->note, err, errlen) != 0)
                return -1;
            core->has_note = 1;
        }
        off = name_off + name_pad + desc_pad;
    }
    return 0;
}

static int parse(const struct src *s, struct khib_elfcore *core, char *err, size_t errlen)
{
    uint8_t eh[EHDR_SIZE];
    memset(core, 0, sizeof *core);
    if (s->size < EHDR_SIZE) {
        snprintf(err, errlen, "not an ELF core header: %" PRIu64 " bytes, too short for an ELF header", s->size);
        return -1;
    }
    if (src_read(s, 0, EHDR_SIZE, eh, "ELF header", err, errlen) != 0)
        return -1;
    if (memcmp(eh, ELFMAG, SELFMAG) != 0) {
        snprintf(err, errlen, "not an ELF file (bad magic)");
        return -1;
    }
    if (eh[EI_CLASS] != ELFCLASS64 || eh[EI_DATA] != ELFDATA2LSB || eh[EI_VERSION] != EV_CURRENT) {
        snprintf(err, errlen, "not a 64-bit little-endian ELF file (class %u, data %u, version %u)", eh[EI_CLASS],
                 eh[EI_DATA], eh[EI_VERSION]);
        return -1;
    }
    uint16_t type = khib_get16(eh + 16), machine = khib_get16(eh + 18);
    if (type != ET_CORE || machine != EM_X86_64) {
        snprintf(err, errlen, "not an x86_64 ELF core (e_type %u, e_machine %u)", type, machine);
        return -1;
    }
    uint64_t phoff = khib_get64(eh + 32);
    uint16_t phentsize = khib_get16(eh + 54), phnum = khib_get16(eh + 56);
    if (phentsize != PHDR_SIZE) {
        snprintf(err, errlen, "ELF program header size %u, expected %u", phentsize, PHDR_SIZE);
        return -1;
    }
    if (phnum == 0 || phnum == PN_XNUM || phnum > KHIB_ELF_MAX_PHDRS) {
        snprintf(err, errlen, "ELF core has %s program headers (%u)", phnum == 0 ? "no" : "too many", phnum);
        return -1;
    }
    size_t phlen = (size_t)phnum * PHDR_SIZE;
    if (phoff < EHDR_SIZE || phoff > s->size || phlen > s->size - phoff) {
        snprintf(err, errlen, "truncated core header: %u program headers at byte %" PRIu64 " need %" PRIu64
                 " bytes, the header has %" PRIu64, phnum, phoff, phoff + phlen, s->size);
        return -1;
    }
    uint8_t *ph = malloc(phlen);
    core->seg = calloc(phnum, sizeof *core->seg);
    uint8_t *note = NULL;
    if (!ph || !core->seg) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (src_read(s, phoff, phlen, ph, "program headers", err, errlen) != 0)
        goto fail;
    core->header_end = phoff + phlen;
    for (uint32_t i = 0; i < phnum; i++) {
        const uint8_t *q = ph + (size_t)i * PHDR_SIZE;
        uint32_t ptype = khib_get32(q);
        uint64_t offset = khib_get64(q + 8), paddr = khib_get64(q + 24);
        uint64_t filesz = khib_get64(q + 32), memsz = khib_get64(q + 40);
        if (ptype == PT_NOTE) {
            if (filesz > KHIB_ELF_MAX_NOTE) {
                snprintf(err, errlen, "PT_NOTE %" PRIu32 " is %" PRIu64 " bytes long (at most %u)", i, filesz,
                         KHIB_ELF_MAX_NOTE);
                goto fail;
            }
            note = malloc(filesz ? filesz : 1);
            if (!note) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            if (src_read(s, offset, filesz, note, "PT_NOTE segment", err, errlen) != 0 ||
                parse_notes(note, filesz, core, err, errlen) != 0)
                goto fail;
            free(note);
            note = NULL;
            continue;
        }
        if (ptype != PT_LOAD || memsz == 0)
            continue;
        if (paddr % PAGE || memsz % PAGE) {
            snprintf(err, errlen, "PT_LOAD %" PRIu32 " (paddr 0x%" PRIx64 ", size 0x%" PRIx64 ") is not"
                     " page-aligned: khib saves whole 4 KiB pages", i, paddr, memsz);
            goto fail;
        }
        if (paddr > UINT64_MAX - memsz || (paddr + memsz) >> 12 > (1ULL << 52)) {
            snprintf(err, errlen, "PT_LOAD %" PRIu32 " (paddr 0x%" PRIx64 ", size 0x%" PRIx64 ") runs past the"
                     " end of the physical address space", i, paddr, memsz);
            goto fail;
        }
        if (filesz > memsz) {
            snprintf(err, errlen, "PT_LOAD %" PRIu32 " (paddr 0x%" PRIx64 ") has p_filesz 0x%" PRIx64
                     " > p_memsz 0x%" PRIx64, i, paddr, filesz, memsz);
            goto fail;
        }
        struct khib_segment *sg = &core->seg[core->nseg++];
        sg->paddr = paddr;
        sg->size = memsz;
        sg->offset = offset;
        sg->filesz = filesz;
    }
    if (core->nseg == 0) {
        snprintf(err, errlen, "the core header has no PT_LOAD segment: no memory to save");
        goto fail;
    }
    qsort(core->seg, core->nseg, sizeof *core->seg, cmp_seg);
    for (uint32_t i = 0; i < core->nseg; i++) {
        if (i > 0 && core->seg[i].paddr < core->seg[i - 1].paddr + core->seg[i - 1].size) {
            snprintf(err, errlen, "PT_LOAD segments overlap: [0x%" PRIx64 ", 0x%" PRIx64 ") and [0x%" PRIx64
                     ", 0x%" PRIx64 ")", core->seg[i - 1].paddr, core->seg[i - 1].paddr + core->seg[i - 1].size,
                     core->seg[i].paddr, core->seg[i].paddr + core->seg[i].size);
            goto fail;
        }
        core->total_bytes += core->seg[i].size;
    }
    free(ph);
    return 0;
fail:
    free(note);
    free(ph);
    khib_elfcore_free(core);
    return -1;
}

int khib_elfcore_parse(const void *buf, size_t len, struct khib_elfcore *core, char *err, size_t errlen)
{
    struct src s = {.buf = buf, .fd = -1, .size = len};
    return parse(&s, core, err, errlen);
}

int khib_elfcore_load(const char *path, struct khib_elfcore *core, char *err, size_t errlen)
{
    memset(core, 0, sizeof *core);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    struct src s = {.buf = NULL, .fd = fd, .size = (uint64_t)st.st_size};
    char why[400];
    int rc = parse(&s, core, why, sizeof why);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    close(fd);
    return rc;
}

int khib_elfcore_check_data(const struct khib_elfcore *core, uint64_t file_size, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < core->nseg; i++) {
        const struct khib_segment *s = &core->seg[i];
        if (s->filesz == 0)
            continue;
        if (s->offset % PAGE) {
            snprintf(err, errlen, "PT_LOAD at paddr 0x%" PRIx64 " has its data at file offset 0x%" PRIx64
                     ", not page-aligned (the data is mapped page by page)", s->paddr, s->offset);
            return -1;
        }
        if (s->offset > file_size || s->filesz > file_size - s->offset) {
            snprintf(err, errlen, "truncated core: PT_LOAD at paddr 0x%" PRIx64 " needs file bytes up to %" PRIu64
                     ", the file has %" PRIu64, s->paddr, s->offset + s->filesz, file_size);
            return -1;
        }
        if (s->offset < core->header_end) {
            snprintf(err, errlen, "PT_LOAD at paddr 0x%" PRIx64 " has its data at file offset %" PRIu64
                     ", inside the headers", s->paddr, s->offset);
            return -1;
        }
    }
    return 0;
}

void khib_elfcore_free(struct khib_elfcore *core)
{
    free(core->seg);
    memset(core, 0, sizeof *core);
}

size_t khib_elfcore_header_size(uint32_t nranges, int with_note)
{
    size_t n = EHDR_SIZE + ((size_t)nranges + (with_note ? 1 : 0)) * PHDR_SIZE;
    if (with_note)
        n += NOTE_HDR + NOTE_NAME_PADDED + KHIB_NOTE_SIZE;
    return n;
}

static void put_phdr(uint8_t *q, uint32_t type, uint32_t flags, uint64_t offset, uint64_t paddr, uint64_t filesz,
                     uint64_t memsz, uint64_t align)
{
    memset(q, 0, PHDR_SIZE);
    khib_put32(q, type);
    khib_put32(q + 4, flags);
    khib_put64(q + 8, offset);
    khib_put64(q + 16, 0);       /* p_vaddr: physical memory has none */
    khib_put64(q + 24, paddr);
    khib_put64(q + 32, filesz);
    khib_put64(q + 40, memsz);
    khib_put64(q + 48, align);
}

int khib_elfcore_build(const struct khib_range *ranges, uint32_t nranges, const struct khib_note *note,
                       uint64_t data_start, void *out, size_t outlen, char *err, size_t errlen)
{
    int with_note = note != NULL;
    size_t need = khib_elfcore_header_size(nranges, with_note);
    if (nranges == 0 || nranges + 1u > KHIB_ELF_MAX_PHDRS) {
        snprintf(err, errlen, "cannot describe %" PRIu32 " memory ranges in an ELF core header", nranges);
        return -1;
    }
    if (outlen < need) {
        snprintf(err, errlen, "core header needs %zu bytes, buffer has %zu", need, outlen);
        return -1;
    }
    if (data_start && (data_start % PAGE || data_start < need)) {
        snprintf(err, errlen, "core data start %" PRIu64 " must be page-aligned and after the %zu header bytes",
                 data_start, need);
        return -1;
    }
    for (uint32_t i = 0; i < nranges; i++) {
        const struct khib_range *r = &ranges[i];
        if (r->pages == 0 || r->start_pfn >= (1ULL << 52) || r->pages > (1ULL << 52) - r->start_pfn ||
            (i > 0 && r->start_pfn < ranges[i - 1].start_pfn + ranges[i - 1].pages)) {
            snprintf(err, errlen, "memory range %" PRIu32 " (pfn 0x%" PRIx64 ", %" PRIu64 " pages) is empty,"
                     " out of range, or not after the one before", i, r->start_pfn, r->pages);
            return -1;
        }
    }
    uint8_t *p = out;
    memset(p, 0, need);
    memcpy(p, ELFMAG, SELFMAG);
    p[EI_CLASS] = ELFCLASS64;
    p[EI_DATA] = ELFDATA2LSB;
    p[EI_VERSION] = EV_CURRENT;
    p[EI_OSABI] = ELFOSABI_NONE;
    khib_put16(p + 16, ET_CORE);
    khib_put16(p + 18, EM_X86_64);
    khib_put32(p + 20, EV_CURRENT);
    khib_put64(p + 24, 0);              /* e_entry */
    khib_put64(p + 32, EHDR_SIZE);      /* e_phoff */
    khib_put64(p + 40, 0);              /* e_shoff */
    khib_put32(p + 48, 0);              /* e_flags */
    khib_put16(p + 52, EHDR_SIZE);
    khib_put16(p + 54, PHDR_SIZE);
    khib_put16(p + 56, (uint16_t)(nranges + (with_note ? 1 : 0)));
    uint8_t *q = p + EHDR_SIZE;
    size_t note_off = EHDR_SIZE + ((size_t)nranges + (with_note ? 1 : 0)) * PHDR_SIZE;
    if (with_note) {
        size_t note_len = NOTE_HDR + NOTE_NAME_PADDED + KHIB_NOTE_SIZE;
        put_phdr(q, PT_NOTE, 0, note_off, 0, note_len, note_len, 4);
        q += PHDR_SIZE;
        uint8_t *n = p + note_off;
        khib_put32(n, sizeof KHIB_NOTE_NAME);
        khib_put32(n + 4, KHIB_NOTE_SIZE);
        khib_put32(n + 8, KHIB_NOTE_TYPE);
        memcpy(n + NOTE_HDR, KHIB_NOTE_NAME, sizeof KHIB_NOTE_NAME);
        khib_note_encode(note, n + NOTE_HDR + NOTE_NAME_PADDED);
    }
    uint64_t off = data_start;
    for (uint32_t i = 0; i < nranges; i++, q += PHDR_SIZE) {
        uint64_t bytes = ranges[i].pages * PAGE;
        put_phdr(q, PT_LOAD, PF_R | PF_W | PF_X, data_start ? off : 0, ranges[i].start_pfn * PAGE, bytes, bytes,
                 PAGE);
        off += bytes;
    }
    return 0;
}

void *khib_elfcore_build_header(const struct khib_range_list *ram, const struct khib_note *note, size_t *len,
                                char *err, size_t errlen)
{
    size_t need = khib_elfcore_header_size(ram->count, note != NULL);
    void *buf = malloc(need);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (khib_elfcore_build(ram->range, ram->count, note, 0, buf, need, err, errlen) != 0) {
        free(buf);
        return NULL;
    }
    *len = need;
    return buf;
}
