#define _GNU_SOURCE
#include "memmap.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xxhash64.h"

#define MEMMAP_MAX_ENTRIES 4096
#define KHIB_MEMMAP_IVT_END 0x400 /* the real-mode interrupt table: kexec-tools hides it */

/* Read the first line of dir/entry/file into buf, without the newline. */
static int read_line(const char *dir, const char *entry, const char *file, char *buf, size_t len, char *err,
                     size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, entry, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(buf, (int)len, f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "empty file");
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int parse_addr(const char *dir, const char *entry, const char *file, uint64_t *out, char *err,
                      size_t errlen)
{
    char buf[64];
    if (read_line(dir, entry, file, buf, sizeof buf, err, errlen) != 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 0);
    if (errno || end == buf || (*end && *end != ' ')) {
        snprintf(err, errlen, "%s/%s/%s: '%s' is not an address", dir, entry, file, buf);
        return -1;
    }
    *out = v;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct khib_memmap_entry *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->type, y->type);
}

static int is_entry_name(const char *name)
{
    if (!*name)
        return 0;
    for (; *name; name++)
        if (*name < '0' || *name > '9')
            return 0;
    return 1;
}

int khib_memmap_read(const char *dir, struct khib_memmap_entry **entries, size_t *count, char *err,
                     size_t errlen)
{
    *entries = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read the firmware memory map %s: %s%s", dir, strerror(errno),
                 errno == ENOENT ? " (kernel built without CONFIG_FIRMWARE_MEMMAP?)" : "");
        return -1;
    }
    size_t n = 0, cap = 64;
    struct khib_memmap_entry *v = malloc(cap * sizeof *v);
    int rc = -1;
    if (!v) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_entry_name(de->d_name))
            continue;
        if (n == MEMMAP_MAX_ENTRIES) {
            snprintf(err, errlen, "%s has more than %d entries", dir, MEMMAP_MAX_ENTRIES);
            goto out;
        }
        if (n == cap) {
            struct khib_memmap_entry *bigger = realloc(v, 2 * cap * sizeof *v);
            if (!bigger) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            v = bigger;
            cap *= 2;
        }
        struct khib_memmap_entry *e = &v[n];
        memset(e, 0, sizeof *e);
        if (parse_addr(dir, de->d_name, "start", &e->start, err, errlen) != 0 ||
            parse_addr(dir, de->d_name, "end", &e->end, err, errlen) != 0 ||
            read_line(dir, de->d_name, "type", e->type, sizeof e->type, err, errlen) != 0)
            goto out;
        if (e->end < e->start) {
            snprintf(err, errlen, "%s/%s: end 0x%" PRIx64 " is below start 0x%" PRIx64, dir, de->d_name, e->end,
                     e->start);
            goto out;
        }
        n++;
        errno = 0;
    }
    if (errno) {
        snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        goto out;
    }
    if (n == 0) {
        snprintf(err, errlen, "the firmware memory map %s is empty", dir);
        goto out;
    }
    qsort(v, n, sizeof *v, cmp_entry);
    *entries = v;
    *count = n;
    v = NULL;
    rc = 0;
out:
    free(v);
    closedir(d);
    return rc;
}

int khib_memmap_digest(const char *dir, uint64_t *digest, char *err, size_t errlen)
{
    struct khib_memmap_entry *e;
    size_t n;
    if (khib_memmap_read(dir, &e, &n, err, errlen) != 0)
        return -1;
    size_t cap = n * (KHIB_MEMMAP_TYPE_LEN + 48), len = 0;
    char *text = malloc(cap);
    if (!text) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        /* A kernel started by kexec-tools does not see the first KiB as RAM:
         * get_memory_ranges() (kexec/arch/i386/kexec-x86-common.c, "Don't
         * report the interrupt table as ram") moves the start of the RAM
         * entry below REALMODE_IVT_END (0x400; 0x100 in older releases) up
         * to it, and the boot_params e820 it passes becomes that kernel's
         * firmware map.  The restore kernel that the ordinary boot's hook
         * kexecs sees 0x400-0x9fbff where the firmware said 0x0-0x9fbff: the
         * same machine.  (It lies in the window, never in an image.) */
        uint64_t start = (!strcmp(e[i].type, "System RAM") && e[i].start <= KHIB_MEMMAP_IVT_END) ? 0 : e[i].start;
        len += (size_t)snprintf(text + len, cap - len, "0x%" PRIx64 "-0x%" PRIx64 " %s\n", start, e[i].end,
                                e[i].type);
    }
    *digest = khib_hash64(text, len, 0);
    free(text);
    free(e);
    return 0;
}

int khib_memmap_ram(const char *dir, uint64_t window_end, struct khib_range_list *out, char *err,
                    size_t errlen)
{
    struct khib_memmap_entry *e;
    size_t n;
    memset(out, 0, sizeof *out);
    if (khib_memmap_read(dir, &e, &n, err, errlen) != 0)
        return -1;
    uint64_t window_pfn = (window_end + KHIB_PAGE_SIZE - 1) >> KHIB_PAGE_SHIFT;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].type, "System RAM") != 0)
            continue;
        /* Whole pages only: round the start up and the (inclusive) end down. */
        uint64_t first = (e[i].start + KHIB_PAGE_SIZE - 1) >> KHIB_PAGE_SHIFT;
        uint64_t end = (e[i].end == UINT64_MAX ? UINT64_MAX : e[i].end + 1) >> KHIB_PAGE_SHIFT;
        if (first < window_pfn)
            first = window_pfn;
        if (end <= first)
            continue;
        struct khib_range *last = out->count ? &out->range[out->count - 1] : NULL;
        if (last && first <= last->start_pfn + last->pages) {
            /* Sorted by start: adjacent or overlapping entries merge. */
            if (end > last->start_pfn + last->pages) {
                out->total_pages += end - (last->start_pfn + last->pages);
                last->pages = end - last->start_pfn;
            }
            continue;
        }
        if (out->count == KHIB_RANGE_LIST_MAX) {
            snprintf(err, errlen, "%s has more than %u System RAM ranges", dir, KHIB_RANGE_LIST_MAX);
            goto out;
        }
        out->range[out->count].start_pfn = first;
        out->range[out->count].pages = end - first;
        out->count++;
        out->total_pages += end - first;
    }
    if (out->count == 0) {
        snprintf(err, errlen, "%s lists no System RAM above the window (0x%" PRIx64 ")", dir, window_end);
        goto out;
    }
    rc = 0;
out:
    free(e);
    return rc;
}
