/* frontend/image_size.c: /proc/meminfo parsed, the image estimate, and the
 * decision fits / reclaim / cannot with its message. */
#include "t.h"

#include <stdint.h>

#include "../../frontend/image_size.h"

#define MIB (1ull << 20)

/* A 1 GiB guest's /proc/meminfo (test kernel 6.12), abridged. */
static const char meminfo[] =
    "MemTotal:        1004296 kB\n"
    "MemFree:          512000 kB\n"
    "MemAvailable:     700000 kB\n"
    "Buffers:            1000 kB\n"
    "Cached:           300000 kB\n"
    "SwapCached:            0 kB\n"
    "Active:           200000 kB\n"
    "Inactive:         250000 kB\n"
    "Active(anon):     150000 kB\n"
    "Inactive(anon):   100000 kB\n"
    "Active(file):      50000 kB\n"
    "Inactive(file):   150000 kB\n"
    "Unevictable:           0 kB\n"
    "SwapTotal:        524284 kB\n"
    "SwapFree:         524284 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

static void test_parse(void)
{
    struct mem_facts m;
    CHECK(mem_facts_parse(meminfo, &m) == 0, "parse a real /proc/meminfo");
    CHECK(m.mem_total == 1004296ull << 10 && m.mem_free == 512000ull << 10, "MemTotal, MemFree in bytes");
    CHECK(m.active_file == 50000ull << 10 && m.inactive_file == 150000ull << 10, "file LRU, not Active:");
    CHECK(m.active_anon == 150000ull << 10 && m.inactive_anon == 100000ull << 10, "anon LRU");
    CHECK(m.swap_total == 524284ull << 10 && m.swap_free == 524284ull << 10, "swap");
    CHECK(mem_facts_parse("MemTotal: 100 kB\nMemFree: 50 kB", &m) == 0 && m.mem_free == 50 << 10 &&
              m.swap_total == 0, "last line without a newline; fields missing read 0");
    CHECK(mem_facts_parse("MemTotal: 100 kB\n", &m) != 0, "no MemFree: refused");
    CHECK(mem_facts_parse("MemFree: 100 kB\n", &m) != 0, "no MemTotal: refused");
    CHECK(mem_facts_parse("MemTotal: 100 kB\nMemFree: x kB\n", &m) != 0, "not a number: refused");
    CHECK(mem_facts_parse("MemTotal: 100 MB\nMemFree: 1 kB\n", &m) != 0, "another unit: refused");
    CHECK(mem_facts_parse("MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n", &m) != 0, "overflow: refused");
    CHECK(mem_facts_parse("MemTotalX: 100 kB\nMemFree: 1 kB\n", &m) != 0, "a longer key is another key");
}

static void test_estimate(void)
{
    struct mem_facts m = {0};
    uint64_t ram = 831 * MIB, w = 192 * MIB;
    m.mem_free = 600 * MIB;
    /* 600 free, at most 192 of them in the window: 408 free outside, 423 saved. */
    uint64_t raw = 423 * MIB;
    CHECK(image_estimate(&m, ram, w, 1) == raw + raw / 256 + MIB, "exclusion: RAM outside - (MemFree - W)");
    CHECK(image_estimate(&m, ram, w, 0) == ram + ram / 256 + MIB, "no exclusion: all RAM outside the window");
    m.mem_free = 100 * MIB;
    CHECK(image_estimate(&m, ram, w, 1) == ram + ram / 256 + MIB, "MemFree below W: all of it may be in the window");
    m.mem_free = 2000 * MIB;
    CHECK(image_estimate(&m, ram, w, 1) == MIB, "more free than RAM outside: never below zero");
    /* Conservative: it is never below what B saves when every free page
     * lies outside the window (the smallest image). */
    m.mem_free = 500 * MIB;
    CHECK(image_estimate(&m, ram, w, 1) >= ram - m.mem_free, "never below RAM outside - MemFree");
}

static void test_plan(void)
{
    struct mem_facts m;
    char why[600];
    uint64_t need;
    CHECK(mem_facts_parse(meminfo, &m) == 0, "parse");
    CHECK(image_size_plan(&m, 300 * MIB, 300 * MIB, 1, &need, why, sizeof why) == IMAGE_FITS && need == 0 &&
              !why[0], "equal to the limit fits");
    CHECK(image_size_plan(&m, 400 * MIB, 300 * MIB, 1, &need, why, sizeof why) == IMAGE_RECLAIM &&
              need == 100 * MIB, "100 MiB over: reclaim 100 MiB");
    /* cache 195 MiB + anon 244 MiB (swap 511 MiB free) = 439 MiB at most. */
    uint64_t most = (50000ull + 150000 + 150000 + 100000) << 10;
    CHECK(image_size_plan(&m, 300 * MIB + most, 300 * MIB, 1, &need, why, sizeof why) == IMAGE_RECLAIM,
          "exactly everything reclaimable: tried");
    CHECK_ERR(image_size_plan(&m, 300 * MIB + most + 1, 300 * MIB, 1, &need, why, sizeof why) == IMAGE_CANNOT,
              why, "at most 439 MiB can be freed");
    CHECK_ERR(1, why, "add swap (swapon), raise image-size");
    m.swap_total = m.swap_free = 0;
    CHECK_ERR(image_size_plan(&m, 400 * MIB, 100 * MIB, 1, &need, why, sizeof why) == IMAGE_CANNOT, why,
              "there is no swap for the 245 MiB of anonymous and tmpfs memory");
    CHECK(image_size_plan(&m, 250 * MIB, 100 * MIB, 1, &need, why, sizeof why) == IMAGE_RECLAIM,
          "no swap, the page cache is enough: reclaim");
    m.swap_total = 512 * MIB;
    m.swap_free = 10 * MIB;
    CHECK_ERR(image_size_plan(&m, 400 * MIB, 100 * MIB, 1, &need, why, sizeof why) == IMAGE_CANNOT, why,
              "swap can take 10 MiB more (SwapFree)");
    CHECK_ERR(image_size_plan(&m, 900 * MIB, 300 * MIB, 0, &need, why, sizeof why) == IMAGE_CANNOT, why,
              "the free pages are saved too (exclude-free=no");
    CHECK(image_size_plan(&m, 200 * MIB, 300 * MIB, 0, &need, why, sizeof why) == IMAGE_FITS,
          "no exclusion but within the limit: fits");
}

static void test_step(void)
{
    CHECK(image_reclaim_step(1) == 4 * MIB + 1, "a small need gets the 4 MiB margin");
    CHECK(image_reclaim_step(100 * MIB) == 104 * MIB, "need + margin");
    CHECK(image_reclaim_step(5000 * MIB) == 256 * MIB, "at most 256 MiB a step (a progress line each)");
}

int main(void)
{
    test_parse();
    test_estimate();
    test_plan();
    test_step();
    return t_done();
}
