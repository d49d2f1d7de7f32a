/* A helper for tests/unit/encryption.sh:
 *
 *   sealtool flipbit FILE BIT [forge]  invert bit BIT (byte BIT/8, bit BIT%8) of
 *                                      an image; with forge, as an attacker who
 *                                      knows the format would, make the XXH64
 *                                      checksums agree again (superblock, index
 *                                      checksum, key header)
 *   sealtool layout IMAGE              "DATA_OFFSET DATA_BYTES INDEX_OFFSET INDEX_BYTES"
 *   sealtool find-pages RAW FILE       how many of RAW's distinct pages (not
 *                                      zero, not one repeated byte) appear in
 *                                      FILE at any byte offset, by their first
 *                                      32 bytes: "found N of M pages"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_format.h"
#include "le.h"
#include "xxhash64.h"

#define SNIP 32u

static int die(const char *msg)
{
    fprintf(stderr, "sealtool: %s\n", msg);
    return 2;
}

static int rechecksum(int fd, uint64_t off, uint64_t len, uint64_t at)
{
    uint8_t *buf = malloc(len);
    if (!buf || pread(fd, buf, len, (off_t)off) != (ssize_t)len)
        return -1;
    uint8_t sum[8];
    khib_put64(sum, khib_hash64(buf, len, 0));
    free(buf);
    return pwrite(fd, sum, 8, (off_t)at) == 8 ? 0 : -1;
}

static int flipbit(const char *path, uint64_t bit, int forge)
{
    int fd = open(path, O_RDWR);
    uint8_t b, sb[KHIB_SB_SIZE];
    off_t off = (off_t)(bit / 8);
    if (fd < 0 || pread(fd, &b, 1, off) != 1 || pread(fd, sb, sizeof sb, 0) != (ssize_t)sizeof sb)
        return die("cannot read the image");
    b ^= (uint8_t)(1u << (bit % 8));
    if (pwrite(fd, &b, 1, off) != 1)
        return die("cannot write the byte");
    if (forge) {
        uint64_t index_off = khib_get64(sb + 216), index_len = khib_get64(sb + 224);
        int rc = 0;
        if ((uint64_t)off >= KHIB_KEYHDR_OFFSET && (uint64_t)off < KHIB_KEYHDR_OFFSET + KHIB_KEYHDR_SIZE)
            rc = rechecksum(fd, KHIB_KEYHDR_OFFSET, KHIB_KEYHDR_SIZE - 8, KHIB_KEYHDR_OFFSET + KHIB_KEYHDR_SIZE - 8);
        if ((uint64_t)off >= index_off && (uint64_t)off < index_off + index_len)
            rc = rechecksum(fd, index_off, index_len, 232);
        if (rc == 0)
            rc = rechecksum(fd, 0, KHIB_SB_SIZE - 8, KHIB_SB_SIZE - 8);
        if (rc != 0)
            return die("cannot forge the checksums");
    }
    return close(fd) == 0 ? 0 : die("cannot close the image");
}

static void *map(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0)
        return NULL;
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int find_pages(const char *raw_path, const char *path)
{
    size_t rlen, flen;
    const uint8_t *raw = map(raw_path, &rlen), *f = map(path, &flen);
    if (!raw || !f)
        return die("cannot map the files");
    size_t pages = rlen / KHIB_PAGE_SIZE, n = 0;
    uint64_t *h = malloc((pages + 1) * sizeof *h);
    for (size_t i = 0; i < pages; i++) {
        const uint8_t *p = raw + i * KHIB_PAGE_SIZE;
        size_t k = 1;
        while (k < SNIP && p[k] == p[0])
            k++;
        if (k < SNIP)
            h[n++] = khib_hash64(p, SNIP, 0);
    }
    qsort(h, n, sizeof *h, cmp64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || h[m - 1] != h[i])
            h[m++] = h[i];
    uint8_t *seen = calloc(m + 1, 1);
    size_t found = 0;
    for (size_t off = 0; off + SNIP <= flen; off++) {
        uint64_t x = khib_hash64(f + off, SNIP, 0);
        uint64_t *hit = bsearch(&x, h, m, sizeof *h, cmp64);
        if (hit && !seen[hit - h]) {
            seen[hit - h] = 1;
            found++;
        }
    }
    printf("found %zu of %zu pages\n", found, m);
    return 0;
}

static int layout(const char *path)
{
    uint8_t sb[KHIB_SB_SIZE];
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, sb, sizeof sb, 0) != (ssize_t)sizeof sb)
        return die("cannot read the superblock");
    close(fd);
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", khib_get64(sb + 200), khib_get64(sb + 208),
           khib_get64(sb + 216), khib_get64(sb + 224));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "layout"))
        return layout(argv[2]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "flipbit"))
        return flipbit(argv[2], strtoull(argv[3], NULL, 0), argc == 5 && !strcmp(argv[4], "forge"));
    if (argc == 4 && !strcmp(argv[1], "find-pages"))
        return find_pages(argv[2], argv[3]);
    return die("usage: see the comment at the top of tests/unit/sealtool.c");
}
