#define _GNU_SOURCE
#include "memmap.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xxhash64.h"

#define MEMMAP_MAX_ENTRIES 4096
#define KHIB_MEMMAP_IVT_END 0x400 /* the real-mode interrupt table: kexec-tools hides it */
#define KHIB_EFI_MEMORY_RUNTIME (1ULL << 63) /* EFI_MEMORY_RUNTIME, include/linux/efi.h */

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

/* v (*cap elements of size bytes), grown if need be to hold element n, at
 * most MEMMAP_MAX_ENTRIES in all; or NULL with err (v still valid then). */
static void *make_room(void *v, size_t *cap, size_t n, size_t size, const char *dir, char *err, size_t errlen)
{
    if (n == MEMMAP_MAX_ENTRIES) {
        snprintf(err, errlen, "%s has more than %d entries", dir, MEMMAP_MAX_ENTRIES);
        return NULL;
    }
    if (n < *cap)
        return v;
    size_t c = *cap ? 2 * *cap : 64;
    void *bigger = realloc(v, c * size);
    if (!bigger) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *cap = c;
    return bigger;
}

/* The numbered entries of a sysfs map directory d (dir: its path), one
 * element of `size` bytes each: parse() fills one and returns 1 to keep it,
 * 0 to leave it out, -1 with err.  The kept ones in *out (malloc'd), their
 * count in *n.  0, or -1 with err. */
typedef int (*entry_parser)(const char *dir, const char *name, void *element, char *err, size_t errlen);
static int read_entries(DIR *d, const char *dir, size_t size, entry_parser parse, void **out, size_t *n, char *err,
                        size_t errlen)
{
    size_t cap = 0;
    void *v = NULL;
    struct dirent *de;
    *n = 0;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_entry_name(de->d_name))
            continue;
        void *room = make_room(v, &cap, *n, size, dir, err, errlen);
        if (!room)
            goto fail;
        v = room;
        int keep = parse(dir, de->d_name, (char *)v + *n * size, err, errlen);
        if (keep < 0)
            goto fail;
        *n += (size_t)keep;
        errno = 0;
    }
    if (errno) {
        snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        goto fail;
    }
    *out = v;
    return 0;
fail:
    free(v);
    return -1;
}

static int parse_memmap_entry(const char *dir, const char *name, void *element, char *err, size_t errlen)
{
    struct khib_memmap_entry *e = element;
    memset(e, 0, sizeof *e);
    if (parse_addr(dir, name, "start", &e->start, err, errlen) != 0 ||
        parse_addr(dir, name, "end", &e->end, err, errlen) != 0 ||
        read_line(dir, name, "type", e->type, sizeof e->type, err, errlen) != 0)
        return -1;
    if (e->end < e->start) {
        snprintf(err, errlen, "%s/%s: end 0x%" PRIx64 " is below start 0x%" PRIx64, dir, name, e->end, e->start);
        return -1;
    }
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
    void *v;
    size_t n;
    int rc = read_entries(d, dir, sizeof(struct khib_memmap_entry), parse_memmap_entry, &v, &n, err, errlen);
    closedir(d);
    if (rc != 0)
        return -1;
    if (n == 0) {
        snprintf(err, errlen, "the firmware memory map %s is empty", dir);
        free(v);
        return -1;
    }
    qsort(v, n, sizeof(struct khib_memmap_entry), cmp_entry);
    *entries = v;
    *count = n;
    return 0;
}

/* The class an entry's type is compared as: "Unknown E820 type" (a type the
 * kernel has no name for) is reserved like "Reserved".  GRUB's x86 linux
 * loader on EFI writes the E820 table itself and gives EFI runtime services
 * code type 20 (GRUB_MEMORY_CODE, grub-core/mmap/efi/mmap.c), which
 * e820_type_to_string() (arch/x86/kernel/e820.c) shows as "Unknown E820
 * type"; the kernel's EFI stub makes the same region E820_TYPE_RESERVED
 * (setup_e820() in drivers/firmware/efi/libstub/x86-stub.c).  Neither is RAM
 * to the kernel, and where the runtime regions lie is compared exactly by
 * the EFI part of the digest. */
static const char *type_class(const char *type)
{
    return !strcmp(type, "Unknown E820 type") ? "Reserved" : type;
}

/* Append one line to text (cap bytes, len used); -1 when it is full. */
static int add_line(char *text, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add_line(char *text, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

/* The E820 part: the entries in their classes, merged. */
static int memmap_text(const struct khib_memmap_entry *e, size_t n, char *text, size_t cap, size_t *len)
{
    size_t i = 0;
    while (i < n) {
        const char *cls = type_class(e[i].type);
        /* A kernel started by kexec-tools does not see the first KiB as RAM:
         * get_memory_ranges() (kexec/arch/i386/kexec-x86-common.c, "Don't
         * report the interrupt table as ram") moves the start of the RAM
         * entry below REALMODE_IVT_END (0x400; 0x100 in older releases) up
         * to it, and the boot_params e820 it passes becomes that kernel's
         * firmware map.  The restore kernel that the ordinary boot's hook
         * kexecs sees 0x400-0x9fbff where the firmware said 0x0-0x9fbff: the
         * same machine.  (It lies in the window, never in an image.) */
        uint64_t start = (!strcmp(cls, "System RAM") && e[i].start <= KHIB_MEMMAP_IVT_END) ? 0 : e[i].start;
        uint64_t end = e[i].end;
        /* Entries of one class that touch or overlap are one range: the EFI
         * stub merges its neighbours (setup_e820(): "Merge adjacent mappings"),
         * GRUB's converter does not. */
        for (i++; i < n && !strcmp(type_class(e[i].type), cls) && end != UINT64_MAX && e[i].start <= end + 1; i++)
            if (e[i].end > end)
                end = e[i].end;
        if (add_line(text, cap, len, "0x%" PRIx64 "-0x%" PRIx64 " %s\n", start, end, cls) != 0)
            return -1;
    }
    return 0;
}

/* EFI memory types that setup_e820() (drivers/firmware/efi/libstub/x86-stub.c)
 * and GRUB's converter make RAM: loader code and data, boot services code
 * and data, conventional memory (EFI_LOADER_CODE .. EFI_CONVENTIONAL_MEMORY,
 * include/linux/efi.h, without the runtime types 5 and 6). */
static int efi_type_is_ram(uint64_t type)
{
    return (type >= 1 && type <= 4) || type == 7;
}

/* The EFI part: the runtime regions (EFI_MEMORY_RUNTIME) of
 * efi_dir/N/{phys_addr,num_pages,type,attribute,virt_addr}, sorted by
 * address.  A resumed system calls the firmware's runtime services through
 * its own page tables, which map these regions at the virtual addresses its
 * boot gave them (efi_map_region() in arch/x86/platform/efi/efi_64.c), and
 * the firmware code there was relocated by SetVirtualAddressMap() of the
 * boot R runs in (__efi_enter_virtual_mode() in arch/x86/platform/efi/efi.c;
 * a kernel started by kexec takes the same addresses from its loader,
 * kexec_enter_virtual_mode()).  So each runtime region must lie at the same
 * physical address with the same size, type and attributes and have the
 * same virtual address in both boots.  No efi_dir (a BIOS machine, a kernel
 * without CONFIG_EFI_RUNTIME_MAP): no lines, which differs from a map that
 * has them. */
struct efi_region {
    uint64_t phys, pages, type, attr, virt;
};

static int parse_efi_region(const char *dir, const char *name, void *element, char *err, size_t errlen)
{
    struct efi_region *r = element;
    if (parse_addr(dir, name, "phys_addr", &r->phys, err, errlen) != 0 ||
        parse_addr(dir, name, "num_pages", &r->pages, err, errlen) != 0 ||
        parse_addr(dir, name, "type", &r->type, err, errlen) != 0 ||
        parse_addr(dir, name, "attribute", &r->attr, err, errlen) != 0 ||
        parse_addr(dir, name, "virt_addr", &r->virt, err, errlen) != 0)
        return -1;
    /* Runtime regions only.  Not those of the types the E820 part counts
     * as RAM (loader, boot services, conventional memory): the kernel
     * marks the boot services data it keeps EFI_MEMORY_RUNTIME
     * (efi_arch_mem_reserve() in arch/x86/platform/efi/quirks.c: the
     * memory attributes table, the ESRT) and the firmware may place it
     * elsewhere at each boot, but it is RAM, in A's image, and not the
     * firmware's at runtime.  It can move the virtual addresses of the
     * regions after it, which their own lines show. */
    return (r->attr & KHIB_EFI_MEMORY_RUNTIME) && !efi_type_is_ram(r->type);
}

static int cmp_efi_region(const void *a, const void *b)
{
    const struct efi_region *x = a, *y = b;
    return x->phys < y->phys ? -1 : x->phys > y->phys;
}

static int efi_text(const char *efi_dir, char *text, size_t cap, size_t *len, char *err, size_t errlen)
{
    DIR *d = opendir(efi_dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read the EFI runtime map %s: %s", efi_dir, strerror(errno));
        return -1;
    }
    void *regions;
    size_t n;
    int rc = read_entries(d, efi_dir, sizeof(struct efi_region), parse_efi_region, &regions, &n, err, errlen);
    closedir(d);
    if (rc != 0)
        return -1;
    struct efi_region *v = regions;
    if (n)
        qsort(v, n, sizeof *v, cmp_efi_region);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (add_line(text, cap, len, "efi-runtime 0x%" PRIx64 " pages 0x%" PRIx64 " type 0x%" PRIx64
                     " attribute 0x%" PRIx64 " virt 0x%" PRIx64 "\n",
                     v[i].phys, v[i].pages, v[i].type, v[i].attr, v[i].virt) != 0) {
            snprintf(err, errlen, "%s: too many entries", efi_dir);
            rc = -1;
        }
    free(v);
    return rc;
}

int khib_memmap_text(const char *dir, const char *efi_dir, char **text, size_t *len, char *err, size_t errlen)
{
    struct khib_memmap_entry *e;
    size_t n;
    *text = NULL;
    *len = 0;
    if (khib_memmap_read(dir, &e, &n, err, errlen) != 0)
        return -1;
    /* One line per entry at most, and MEMMAP_MAX_ENTRIES EFI lines of at most
     * 5 * 18 + 50 characters. */
    size_t cap = n * (KHIB_MEMMAP_TYPE_LEN + 48) + (efi_dir ? (size_t)MEMMAP_MAX_ENTRIES * 160 : 0) + 1;
    char *t = malloc(cap);
    if (!t) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t l = 0;
    int rc = memmap_text(e, n, t, cap, &l);
    free(e);
    if (rc != 0)
        snprintf(err, errlen, "%s: too many entries", dir);
    else if (efi_dir)
        rc = efi_text(efi_dir, t, cap, &l, err, errlen);
    if (rc != 0) {
        free(t);
        return -1;
    }
    *text = t;
    *len = l;
    return 0;
}

int khib_memmap_digest(const char *dir, const char *efi_dir, uint64_t *digest, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (khib_memmap_text(dir, efi_dir, &text, &len, err, errlen) != 0)
        return -1;
    *digest = khib_hash64(text, len, 0);
    free(text);
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
