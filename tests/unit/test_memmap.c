/* The firmware memory map: digest of a fake /sys/firmware/memmap tree (and
 * of a fake /sys/firmware/efi/runtime-map), what it tells apart and what
 * not, and the System RAM ranges outside the window. */
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memmap.h"
#include "xxhash64.h"

static char dir[128], base[64];

static void write_file(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fprintf(f, "%s\n", value);
    fclose(f);
}

/* A directory d/name with the files names[i] holding values[i]. */
static void entry_in(const char *d, const char *name, int n, const char *const *names, const char *const *values)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", d, name);
    mkdir(path, 0755);
    for (int i = 0; i < n; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", path, names[i]);
        write_file(p, values[i]);
    }
}

/* A directory base/name with one entry per line of lines, each of n
 * words: the files names[0..n) (the last word takes the rest of the line). */
static void entries(char *out, size_t outlen, const char *name, const char *lines, int n, const char *const *names)
{
    snprintf(out, outlen, "%s/%s", base, name);
    mkdir(out, 0755);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", lines);
    int i = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save), i++) {
        const char *values[5];
        char *w = l;
        for (int k = 0; k < n; k++) {
            w += strspn(w, " ");
            values[k] = w;
            if (k < n - 1 && (w = strchr(w, ' ')) != NULL)
                *w++ = 0;
            if (!w || !*values[k]) {
                fprintf(stderr, "bad line in %s\n", name);
                exit(2);
            }
        }
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        entry_in(out, idx, n, names, values);
    }
}

/* A firmware memory map: "start end type" per line. */
static void map(char *out, size_t outlen, const char *name, const char *lines)
{
    static const char *const names[] = {"start", "end", "type"};
    entries(out, outlen, name, lines, 3, names);
}

/* An EFI runtime map: "phys pages type attribute virt" per line. */
static void efimap(char *out, size_t outlen, const char *name, const char *lines)
{
    static const char *const names[] = {"phys_addr", "num_pages", "type", "attribute", "virt_addr"};
    entries(out, outlen, name, lines, 5, names);
}

static uint64_t digest_of(const char *d, const char *efi)
{
    char err[400] = "";
    uint64_t v = 0;
    if (khib_memmap_digest(d, efi, &v, err, sizeof err) != 0) {
        fprintf(stderr, "digest of %s: %s\n", d, err);
        t_fail++;
    }
    return v;
}

static void entry(const char *name, const char *start, const char *end, const char *type)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(path, 0755);
    const char *files[3][2] = {{"start", start}, {"end", end}, {"type", type}};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", path, files[i][0]);
        FILE *f = fopen(p, "w");
        if (!f) {
            perror(p);
            exit(2);
        }
        fprintf(f, "%s\n", files[i][1]);
        fclose(f);
    }
}

/* What the digest tells apart and what it does not: the maps of one OVMF
 * machine as GRUB's legacy loader and the kernel's EFI stub write them (the
 * shapes seen in QEMU, docs/rescue-stick.md), and the EFI runtime map. */
static void loaders_and_efi(void)
{
    char grub[128], stub[128], m[128], e1[128], e2[128], err[400] = "";
    /* GRUB 2.06 on x86_64-efi: E820 from the EFI map, runtime services code
     * as type 20 between reserved ranges, conventional memory in pieces. */
    map(grub, sizeof grub, "grub", "0x0 0x9ffff System RAM\n"
                                   "0x100000 0x7fffff System RAM\n"
                                   "0x800000 0x807fff ACPI Non-volatile Storage\n"
                                   "0x808000 0x80ffff System RAM\n"
                                   "0x810000 0x8fffff ACPI Non-volatile Storage\n"
                                   "0x900000 0x3e8fffff System RAM\n"
                                   "0x3e900000 0x3ebfffff System RAM\n"
                                   "0x3ec00000 0x3ecfffff Reserved\n"
                                   "0x3ed00000 0x3edfffff Unknown E820 type\n"
                                   "0x3ee00000 0x3eefffff Reserved\n"
                                   "0x3ef00000 0x3ef7ffff ACPI Tables\n"
                                   "0x3ef80000 0x3effffff ACPI Non-volatile Storage\n"
                                   "0x3f000000 0x3fffffff System RAM\n"
                                   "0xffc00000 0xffffffff Reserved\n");
    /* The EFI stub: the same memory, runtime code reserved, neighbours merged. */
    static const char *const stub_lines = "0x0 0x9ffff System RAM\n"
                                   "0x100000 0x7fffff System RAM\n"
                                   "0x800000 0x807fff ACPI Non-volatile Storage\n"
                                   "0x808000 0x80ffff System RAM\n"
                                   "0x810000 0x8fffff ACPI Non-volatile Storage\n"
                                   "0x900000 0x3ebfffff System RAM\n"
                                   "0x3ec00000 0x3eefffff Reserved\n"
                                   "0x3ef00000 0x3ef7ffff ACPI Tables\n"
                                   "0x3ef80000 0x3effffff ACPI Non-volatile Storage\n"
                                   "0x3f000000 0x3fffffff System RAM\n"
                                   "0xffc00000 0xffffffff Reserved\n";
    map(stub, sizeof stub, "stub", stub_lines);
    uint64_t dg = digest_of(grub, NULL);
    CHECK(dg == digest_of(stub, NULL), "GRUB's legacy E820 and the EFI stub's map of one machine digest the same");
    char *text = NULL;
    size_t len = 0;
    CHECK(khib_memmap_text(grub, NULL, &text, &len, err, sizeof err) == 0, "text: %s", err);
    const char *want = "0x0-0x9ffff System RAM\n"
                       "0x100000-0x7fffff System RAM\n"
                       "0x800000-0x807fff ACPI Non-volatile Storage\n"
                       "0x808000-0x80ffff System RAM\n"
                       "0x810000-0x8fffff ACPI Non-volatile Storage\n"
                       "0x900000-0x3ebfffff System RAM\n"
                       "0x3ec00000-0x3eefffff Reserved\n"
                       "0x3ef00000-0x3ef7ffff ACPI Tables\n"
                       "0x3ef80000-0x3effffff ACPI Non-volatile Storage\n"
                       "0x3f000000-0x3fffffff System RAM\n"
                       "0xffc00000-0xffffffff Reserved\n";
    CHECK(text && len == strlen(want) && !memcmp(text, want, len), "the canonical text: classes, merged: %.*s",
          (int)len, text ? text : "");
    CHECK(dg == khib_hash64(want, strlen(want), 0), "the digest is XXH64 of that text");
    free(text);

    /* What must differ: every change of RAM, ACPI tables, NVS, a reserved
     * range's extent: the stub's map with one line replaced. */
    static const struct {
        const char *what, *from, *to;
    } other[] = {
        {"RAM shrunk at the top", "0x3f000000 0x3fffffff System RAM\n",
         "0x3f000000 0x3ffeffff System RAM\n0x3fff0000 0x3fffffff Reserved\n"},
        {"RAM grown into the reserved range", "0x900000 0x3ebfffff System RAM\n0x3ec00000 0x3eefffff Reserved\n",
         "0x900000 0x3ecfffff System RAM\n0x3ed00000 0x3eefffff Reserved\n"},
        {"the ACPI tables moved", "0x3ef00000 0x3ef7ffff ACPI Tables\n",
         "0x3ef00000 0x3ef3ffff Reserved\n0x3ef40000 0x3ef7ffff ACPI Tables\n"},
        {"ACPI NVS where reserved was", "0x3ec00000 0x3eefffff Reserved\n",
         "0x3ec00000 0x3ecfffff ACPI Non-volatile Storage\n0x3ed00000 0x3eefffff Reserved\n"},
        {"a reserved range grown", "0xffc00000 0xffffffff Reserved\n", "0xffb00000 0xffffffff Reserved\n"},
        {"unusable memory where RAM was", "0x100000 0x7fffff System RAM\n",
         "0x100000 0x1fffff Unusable memory\n0x200000 0x7fffff System RAM\n"},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char lines[2048], name[16];
        const char *at = strstr(stub_lines, other[i].from);
        if (!at) {
            CHECK(0, "%s: no line to replace", other[i].what);
            continue;
        }
        snprintf(lines, sizeof lines, "%.*s%s%s", (int)(at - stub_lines), stub_lines, other[i].to,
                 at + strlen(other[i].from));
        snprintf(name, sizeof name, "o%zu", i);
        map(m, sizeof m, name, lines);
        CHECK(digest_of(m, NULL) != dg, "%s: another map", other[i].what);
    }
    /* Types other than "Unknown E820 type" and "Reserved" stay apart. */
    map(m, sizeof m, "nvs", "0x0 0x9ffff System RAM\n0x100000 0x1fffff ACPI Non-volatile Storage\n"
                            "0x200000 0x2fffff Reserved\n");
    char m2[128];
    map(m2, sizeof m2, "nvs2", "0x0 0x9ffff System RAM\n0x100000 0x17ffff ACPI Non-volatile Storage\n"
                               "0x180000 0x2fffff Reserved\n");
    CHECK(digest_of(m, NULL) != digest_of(m2, NULL), "the border of NVS and reserved is compared");
    map(m2, sizeof m2, "acpi-split", "0x0 0x9ffff System RAM\n0x100000 0x17ffff ACPI Non-volatile Storage\n"
                                     "0x180000 0x1fffff ACPI Non-volatile Storage\n0x200000 0x2fffff Reserved\n");
    CHECK(digest_of(m, NULL) == digest_of(m2, NULL), "NVS in two touching pieces is one range");
    map(m2, sizeof m2, "gap", "0x0 0x9ffff System RAM\n0x100000 0x17ffff ACPI Non-volatile Storage\n"
                              "0x181000 0x1fffff ACPI Non-volatile Storage\n0x200000 0x2fffff Reserved\n");
    CHECK(digest_of(m, NULL) != digest_of(m2, NULL), "NVS with a hole is not");

    /* The EFI runtime map: runtime regions only (attribute bit 63), sorted. */
    efimap(e1, sizeof e1, "efi1", "0x3ed00000 0x100 0x5 0x800000000000000f 0xfffffffeffc00000\n"
                                  "0x3ec00000 0x100 0x6 0x800000000000000f 0xfffffffeffb00000\n"
                                  "0x3e000000 0x200 0x4 0xf 0xfffffffefee00000\n");
    /* As a kernel shows them (seen in the UEFI guest of tests/qemu/distro.sh):
     * the page at 0 (boot services code) and the memory attributes table
     * (boot services data) that the kernel kept, marked runtime, elsewhere
     * at another boot. */
    efimap(e2, sizeof e2, "efi2", "0x0 0x1 0x3 0x800000000000000f 0xfffffffefcc00000\n"
                                  "0x3e4d2000 0x69 0x4 0x800000000000000f 0xfffffffefe0d2000\n"
                                  "0x3ec00000 0x100 0x6 0x800000000000000f 0xfffffffeffb00000\n"
                                  "0x3ed00000 0x100 0x5 0x800000000000000f 0xfffffffeffc00000\n");
    uint64_t d1 = digest_of(stub, e1);
    CHECK(d1 != dg, "a map with EFI runtime regions is not the map without them");
    CHECK(d1 == digest_of(grub, e2), "boot services regions are not compared, not even those the kernel kept as "
                                     "runtime; the order neither");
    efimap(e2, sizeof e2, "efi3", "0x3ec00000 0x100 0x6 0x800000000000000f 0xfffffffeffb00000\n"
                                  "0x3ed00000 0x100 0x5 0x800000000000000f 0xfffffffeffc00000\n"
                                  "0xffc00000 0x400 0xb 0x8000000000000001 0xfffffffeffc00000\n");
    CHECK(digest_of(stub, e2) != d1, "a runtime MMIO region is compared");
    CHECK(dg == digest_of(stub, "/nonexistent/runtime-map"), "no EFI runtime map: the E820 part alone");
    CHECK(khib_memmap_text(stub, e1, &text, &len, err, sizeof err) == 0 && text &&
              strstr(text, "Reserved\nefi-runtime 0x3ec00000 pages 0x100 type 0x6 attribute 0x800000000000000f virt "
                           "0xfffffffeffb00000\nefi-runtime 0x3ed00000 ") != NULL,
          "the EFI lines follow the E820 part, by address");
    free(text);
    static const char *const changed[] = {
        "0x3ed01000 0x100 0x5 0x800000000000000f 0xfffffffeffc00000", /* moved */
        "0x3ed00000 0x0ff 0x5 0x800000000000000f 0xfffffffeffc00000", /* smaller */
        "0x3ed00000 0x100 0x6 0x800000000000000f 0xfffffffeffc00000", /* code became data */
        "0x3ed00000 0x100 0x5 0x8000000000004008 0xfffffffeffc00000", /* attributes */
        "0x3ed00000 0x100 0x5 0x800000000000000f 0xfffffffeffe00000", /* another virtual address */
    };
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        char lines[256], name[16];
        snprintf(lines, sizeof lines, "0x3ec00000 0x100 0x6 0x800000000000000f 0xfffffffeffb00000\n%s\n", changed[i]);
        snprintf(name, sizeof name, "efic%zu", i);
        efimap(e2, sizeof e2, name, lines);
        CHECK(digest_of(stub, e2) != d1, "EFI runtime region changed (%s): another map", changed[i]);
    }
    efimap(e2, sizeof e2, "efibad", "0x3ec00000 0x100 0x6 0x800000000000000f zz\n");
    CHECK_ERR(khib_memmap_digest(stub, e2, &d1, err, sizeof err) != 0, err, "is not an address");
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/khib-memmap.XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/m", base);
    mkdir(dir, 0755);
    char err[400] = "";
    uint64_t d1, d2;
    CHECK_ERR(khib_memmap_digest(dir, NULL, &d1, err, sizeof err) != 0, err, "is empty");
    /* Like QEMU's e820 with 1 GiB; created out of order (sysfs lists them sorted
     * by index, but the index order is not guaranteed to be by address). */
    entry("3", "0x100000", "0x3ffdffff", "System RAM");
    entry("0", "0x0", "0x9fbff", "System RAM");
    entry("1", "0x9fc00", "0x9ffff", "Reserved");
    entry("2", "0xf0000", "0xfffff", "Reserved");
    entry("4", "0x3ffe0000", "0x3fffffff", "Reserved");
    entry("10", "0xfffc0000", "0xffffffff", "Reserved");
    entry("11", "0x40000000", "0x400fffff", "System RAM"); /* adjacent to 3 after a reserved gap */
    CHECK(khib_memmap_digest(dir, NULL, &d1, err, sizeof err) == 0, "digest: %s", err);
    const char *text = "0x0-0x9fbff System RAM\n"
                       "0x9fc00-0x9ffff Reserved\n"
                       "0xf0000-0xfffff Reserved\n"
                       "0x100000-0x3ffdffff System RAM\n"
                       "0x3ffe0000-0x3fffffff Reserved\n"
                       "0x40000000-0x400fffff System RAM\n"
                       "0xfffc0000-0xffffffff Reserved\n";
    CHECK(d1 == khib_hash64(text, strlen(text), 0), "digest = XXH64 of the sorted canonical text");
    CHECK(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) == 0 && d1 == d2, "digest is stable");
    /* The same map as a kernel started by kexec-tools sees it. */
    entry("0", "0x400", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) == 0 && d1 == d2,
          "RAM from 0x400 (kexec-tools hides the interrupt table) digests as from 0");
    entry("0", "0x100", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) == 0 && d1 == d2, "RAM from 0x100 (older kexec-tools) too");
    entry("0", "0x1000", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) == 0 && d1 != d2, "RAM from 0x1000 is another map");
    entry("0", "0x0", "0x9fbff", "System RAM");

    struct khib_range_list ram;
    CHECK(khib_memmap_ram(dir, 0, &ram, err, sizeof err) == 0, "ram: %s", err);
    CHECK(ram.count == 3 && ram.range[0].start_pfn == 0 && ram.range[0].pages == 0x9f &&
              ram.range[1].start_pfn == 0x100 && ram.range[1].pages == 0x3ffe0 - 0x100 &&
              ram.range[2].start_pfn == 0x40000 && ram.range[2].pages == 0x100,
          "System RAM in whole pages (count %u)", ram.count);
    CHECK(khib_memmap_ram(dir, 192ULL << 20, &ram, err, sizeof err) == 0, "ram above window: %s", err);
    CHECK(ram.count == 2 && ram.range[0].start_pfn == 0xc000 && ram.range[0].pages == 0x3ffe0 - 0xc000 &&
              ram.total_pages == 0x3ffe0 - 0xc000 + 0x100, "window removed");
    CHECK_ERR(khib_memmap_ram(dir, 2ULL << 30, &ram, err, sizeof err) != 0, err, "no System RAM above the window");

    /* Adjacent RAM entries merge. */
    entry("12", "0x40100000", "0x401fffff", "System RAM");
    CHECK(khib_memmap_ram(dir, 192ULL << 20, &ram, err, sizeof err) == 0 && ram.count == 2 &&
              ram.range[1].pages == 0x200, "adjacent ranges merged");
    CHECK(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) == 0 && d1 != d2, "digest changes with the map");

    entry("13", "0xzz", "0x1", "System RAM");
    CHECK_ERR(khib_memmap_digest(dir, NULL, &d2, err, sizeof err) != 0, err, "is not an address");
    CHECK_ERR(khib_memmap_digest("/nonexistent/memmap", NULL, &d2, err, sizeof err) != 0, err,
              "cannot read the firmware memory map /nonexistent/memmap");

    loaders_and_efi();

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", base);
    return t_done();
}
