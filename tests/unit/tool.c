/* A helper for the shell scenarios (tests/unit/scenarios.sh):
 *
 *   tool sb-set IMG FIELD VALUE   set a superblock field, keep the checksum valid
 *                                 (state, version, window_start, window_size,
 *                                 memmap_digest, jump_back_entry, mailbox_nonce)
 *   tool memmap-digest DIR [EFIDIR]  print khib_memmap_digest(DIR, EFIDIR)
 *   tool mailbox FILE ADDR        print the mailbox at ADDR of a memory file
 *   tool stored-chunk IMG N       print "INDEX OFFSET LEN FIRST LAST" of the Nth
 *                                 chunk that has stored data (pfns in hex)
 *   tool flip FILE OFFSET         invert the byte at OFFSET
 *   tool fs-probe KIND FILE       khib_fs_probe() of FILE as KIND (a /proc/mounts
 *                                 type): "uuid U" and "state W0 W1 W2 W3 W4" (hex),
 *                                 or the error; exit status the result (2: error)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsstate.h"
#include "handoff_codec.h"
#include "image.h"
#include "le.h"
#include "memmap.h"
#include "uuid.h"
#include "xxhash64.h"

static int die(const char *msg)
{
    fprintf(stderr, "tool: %s\n", msg);
    return 2;
}

static int sb_set(const char *path, const char *field, uint64_t value)
{
    static const struct {
        const char *name;
        unsigned off, size;
    } fields[] = {{"version", 8, 4},        {"state", 16, 4},           {"memmap_digest", 136, 8},
                  {"jump_back_entry", 144, 8}, {"window_start", 160, 8}, {"window_size", 168, 8},
                  {"mailbox_nonce", 3600, 8}};
    int fd = open(path, O_RDWR);
    uint8_t sb[KHIB_SB_SIZE];
    if (fd < 0 || pread(fd, sb, sizeof sb, 0) != (ssize_t)sizeof sb)
        return die("cannot read the superblock");
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (strcmp(fields[i].name, field) != 0)
            continue;
        if (fields[i].size == 4)
            khib_put32(sb + fields[i].off, (uint32_t)value);
        else
            khib_put64(sb + fields[i].off, value);
        khib_put64(sb + KHIB_SB_SIZE - 8, khib_hash64(sb, KHIB_SB_SIZE - 8, 0));
        if (pwrite(fd, sb, sizeof sb, 0) != (ssize_t)sizeof sb || close(fd) != 0)
            return die("cannot write the superblock");
        return 0;
    }
    return die("unknown field");
}

static int stored_chunk(const char *path, unsigned nth)
{
    struct khib_image img;
    char err[400];
    if (khib_image_open(&img, path, KHIB_OPEN_READ, err, sizeof err) != KHIB_IMG_OK ||
        khib_image_load_index(&img, err, sizeof err) != KHIB_IMG_OK)
        return die(err);
    for (uint32_t i = 0; i < img.idx.chunk_count; i++) {
        const struct khib_chunk *c = &img.idx.chunks[i];
        if (c->stored_len && nth-- == 0) {
            printf("%" PRIu32 " %" PRIu64 " %" PRIu32 " 0x%" PRIx64 " 0x%" PRIx64 "\n", i, c->offset, c->stored_len,
                   c->first_pfn, c->first_pfn + c->pages - 1);
            khib_image_close(&img);
            return 0;
        }
    }
    khib_image_close(&img);
    return die("no such chunk");
}

static int fs_probe(const char *type, const char *path)
{
    char err[400], u[40];
    uint8_t uuid[16];
    uint64_t st[KHIB_FS_STATE_WORDS];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return die("cannot open the file");
    int rc = khib_fs_probe(fd, khib_fs_kind_of(type), uuid, st, err, sizeof err);
    close(fd);
    if (rc != KHIB_FS_OK) {
        printf("%s: %s\n", rc == KHIB_FS_NOT_KIND ? "not-kind" : rc == KHIB_FS_UNSUPPORTED ? "unsupported" : "error",
               err);
        return rc < 0 ? 2 : rc;
    }
    khib_uuid_format(uuid, u, sizeof u);
    printf("uuid %s\nstate", u);
    for (unsigned i = 0; i < KHIB_FS_STATE_WORDS; i++)
        printf(" %016" PRIx64, st[i]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    char err[400];
    if (argc == 5 && !strcmp(argv[1], "sb-set"))
        return sb_set(argv[2], argv[3], strtoull(argv[4], NULL, 0));
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "memmap-digest")) {
        uint64_t d;
        if (khib_memmap_digest(argv[2], argc == 4 ? argv[3] : NULL, &d, err, sizeof err) != 0)
            return die(err);
        printf("0x%016" PRIx64 "\n", d);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "mailbox")) {
        uint8_t page[KHIB_MAILBOX_SIZE];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0 || pread(fd, page, sizeof page, (off_t)strtoull(argv[3], NULL, 0)) != (ssize_t)sizeof page)
            return die("cannot read the mailbox");
        struct khib_mailbox m;
        khib_mailbox_decode(page, &m);
        printf("magic %.8s nonce 0x%" PRIx64 " status %" PRIu32 " bytes %" PRIu64 " msg %s\n", m.magic, m.nonce,
               m.status, m.image_bytes, m.msg);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "stored-chunk"))
        return stored_chunk(argv[2], (unsigned)strtoul(argv[3], NULL, 0));
    if (argc == 4 && !strcmp(argv[1], "flip")) {
        int fd = open(argv[2], O_RDWR);
        off_t off = (off_t)strtoull(argv[3], NULL, 0);
        uint8_t b;
        if (fd < 0 || pread(fd, &b, 1, off) != 1)
            return die("cannot read the byte");
        b ^= 0xff;
        if (pwrite(fd, &b, 1, off) != 1 || close(fd) != 0)
            return die("cannot write the byte");
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "fs-probe"))
        return fs_probe(argv[2], argv[3]);
    return die("usage: see the comment at the top of tests/unit/tool.c");
}
