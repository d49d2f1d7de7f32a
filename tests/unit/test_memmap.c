/* The firmware memory map: digest of a fake /sys/firmware/memmap tree, and
 * the System RAM ranges outside the window. */
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memmap.h"
#include "xxhash64.h"

static char dir[64];

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

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/khib-memmap.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char err[400] = "";
    uint64_t d1, d2;
    CHECK_ERR(khib_memmap_digest(dir, &d1, err, sizeof err) != 0, err, "is empty");
    /* Like QEMU's e820 with 1 GiB; created out of order (sysfs lists them sorted
     * by index, but the index order is not guaranteed to be by address). */
    entry("3", "0x100000", "0x3ffdffff", "System RAM");
    entry("0", "0x0", "0x9fbff", "System RAM");
    entry("1", "0x9fc00", "0x9ffff", "Reserved");
    entry("2", "0xf0000", "0xfffff", "Reserved");
    entry("4", "0x3ffe0000", "0x3fffffff", "Reserved");
    entry("10", "0xfffc0000", "0xffffffff", "Reserved");
    entry("11", "0x40000000", "0x400fffff", "System RAM"); /* adjacent to 3 after a reserved gap */
    CHECK(khib_memmap_digest(dir, &d1, err, sizeof err) == 0, "digest: %s", err);
    const char *text = "0x0-0x9fbff System RAM\n"
                       "0x9fc00-0x9ffff Reserved\n"
                       "0xf0000-0xfffff Reserved\n"
                       "0x100000-0x3ffdffff System RAM\n"
                       "0x3ffe0000-0x3fffffff Reserved\n"
                       "0x40000000-0x400fffff System RAM\n"
                       "0xfffc0000-0xffffffff Reserved\n";
    CHECK(d1 == khib_hash64(text, strlen(text), 0), "digest = XXH64 of the sorted canonical text");
    CHECK(khib_memmap_digest(dir, &d2, err, sizeof err) == 0 && d1 == d2, "digest is stable");
    /* The same map as a kernel started by kexec-tools sees it. */
    entry("0", "0x400", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, &d2, err, sizeof err) == 0 && d1 == d2,
          "RAM from 0x400 (kexec-tools hides the interrupt table) digests as from 0");
    entry("0", "0x100", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, &d2, err, sizeof err) == 0 && d1 == d2, "RAM from 0x100 (older kexec-tools) too");
    entry("0", "0x1000", "0x9fbff", "System RAM");
    CHECK(khib_memmap_digest(dir, &d2, err, sizeof err) == 0 && d1 != d2, "RAM from 0x1000 is another map");
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
    CHECK(khib_memmap_digest(dir, &d2, err, sizeof err) == 0 && d1 != d2, "digest changes with the map");

    entry("13", "0xzz", "0x1", "System RAM");
    CHECK_ERR(khib_memmap_digest(dir, &d2, err, sizeof err) != 0, err, "is not an address");
    CHECK_ERR(khib_memmap_digest("/nonexistent/memmap", &d2, err, sizeof err) != 0, err,
              "cannot read the firmware memory map /nonexistent/memmap");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
