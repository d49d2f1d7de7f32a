/* lib/kexec_backup.c: the kexec swap list found in a control page of fake
 * physical memory, A's window pages read from their source pages, and the
 * lists that must be refused. */
#include "t.h"

#include <inttypes.h>
#include <stdint.h>

#include "kexec_backup.h"
#include "le.h"

#define PAGE 4096u
#define MEM (32u << 20)
#define WIN (4u << 20)                 /* the window [0, 4 MiB): 1024 pages */
#define WPAGES (WIN / PAGE)
#define CONTROL (8u << 20)
#define IND (9u << 20)                 /* indirection pages */
#define SRC (12u << 20)                /* source pages */
#define SELF_PAGE 7u                   /* a window page that is its own source */

static uint8_t *mem;
static int reads_in_window;            /* raw reads that reached the window: never allowed */

static int raw_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
    (void)ctx;
    if (paddr >= MEM || len > MEM - paddr)
        return -1;
    if (paddr < WIN)
        reads_in_window++;
    memcpy(buf, mem + paddr, len);
    return 0;
}

static void fill(uint64_t pa, char who, uint64_t pfn)
{
    for (uint32_t i = 0; i < PAGE; i += 8) {
        uint64_t v = (uint64_t)(uint8_t)who << 56 | pfn;
        memcpy(mem + pa + i, &v, 8);
    }
}

/* The list kexec builds for B's load: the window as one destination run,
 * a source page per window page (SELF_PAGE its own), indirection pages of
 * 511 entries and a link.  Window page i holds B ('B'), its source A's
 * content ('A', pfn i). */
static void build(uint32_t head_off)
{
    memset(mem, 0, MEM);
    uint64_t ind = IND, *e = (uint64_t *)(mem + ind);
    uint32_t used = 0;
#define PUT(v)                                                       \
    do {                                                             \
        if (used == PAGE / 8 - 1) {                                  \
            khib_put64((uint8_t *)e, (ind + PAGE) | 0x2);            \
            ind += PAGE;                                             \
            e = (uint64_t *)(mem + ind);                             \
            used = 0;                                                \
        }                                                            \
        khib_put64((uint8_t *)e, (v));                               \
        e++;                                                         \
        used++;                                                      \
    } while (0)
    PUT(0 | 0x1);
    for (uint32_t i = 0; i < WPAGES; i++) {
        uint64_t src = i == SELF_PAGE ? (uint64_t)i * PAGE : SRC + (uint64_t)i * PAGE;
        PUT(src | 0x8);
        fill((uint64_t)i * PAGE, 'B', i);
        if (i != SELF_PAGE)
            fill(src, 'A', i);
    }
    PUT(0x4);
#undef PUT
    /* Code bytes around it, and a decoy that looks like an entry. */
    for (uint32_t i = 0; i < 0x800; i++)
        mem[CONTROL + i] = (uint8_t)(i * 37 + 11);
    khib_put64(mem + CONTROL + 0x40, (20u << 20) | 0x2);
    khib_put64(mem + CONTROL + head_off, IND | 0x2);
}

static void found(uint32_t head_off, const char *what)
{
    build(head_off);
    struct khib_backup_map m;
    char err[400] = "";
    reads_in_window = 0;
    int rc = khib_backup_map_find(raw_read, NULL, CONTROL + 0x123, 0, WIN, &m, err, sizeof err);
    CHECK(rc == 0 && m.head == (IND | 0x2) && m.head_offset == head_off && m.copies == WPAGES - 1 && m.self == 1 &&
              m.ind_pages == 3, "%s: found (%s) at 0x%" PRIx32 ", %" PRIu64 " copies, %" PRIu64 " indirection pages",
          what, err, m.head_offset, m.copies, m.ind_pages);
    if (rc != 0)
        return;
    struct khib_backup_reader r = {.map = &m, .raw = raw_read};
    uint8_t buf[3 * PAGE];
    /* A read across three window pages: A's contents, from their sources. */
    CHECK(khib_backup_read(&r, 100 * PAGE + 8, buf, 2 * PAGE) == 0 && khib_get64(buf) == ((uint64_t)'A' << 56 | 100) &&
              khib_get64(buf + PAGE) == ((uint64_t)'A' << 56 | 101) &&
              khib_get64(buf + 2 * PAGE - 8) == ((uint64_t)'A' << 56 | 102) && r.redirected == 3,
          "%s: window pages read from their sources (%" PRIu64 " redirected)", what, r.redirected);
    /* Across the window's end: the last window page from its source, the next as it is. */
    khib_put64(mem + WIN, 0x1234);
    CHECK(khib_backup_read(&r, WIN - 8, buf, 16) == 0 && khib_get64(buf) == ((uint64_t)'A' << 56 | (WPAGES - 1)) &&
              khib_get64(buf + 8) == 0x1234, "%s: a read across the window's end", what);
    CHECK(khib_backup_read(&r, SELF_PAGE * PAGE, buf, 8) == -1, "%s: a page that was its own source: unreadable",
          what);
    CHECK(khib_backup_read(&r, (SELF_PAGE - 1) * PAGE, buf, PAGE + 1) == -1,
          "%s: a read reaching into such a page fails", what);
    CHECK(khib_backup_read(&r, MEM - 8, buf, 16) == -1, "%s: beyond memory", what);
    CHECK(reads_in_window == 0, "%s: no raw read of a window address (%d)", what, reads_in_window);
    khib_backup_map_free(&m);
}

#define REFUSED(mutation, want)                                                                         \
    do {                                                                                                \
        build(0x830);                                                                                   \
        mutation;                                                                                       \
        struct khib_backup_map m;                                                                       \
        char err[400] = "";                                                                             \
        CHECK_ERR(khib_backup_map_find(raw_read, NULL, CONTROL, 0, WIN, &m, err, sizeof err) == -1 &&   \
                      m.src == NULL, err, want);                                                        \
    } while (0)

int main(void)
{
    mem = malloc(MEM);
    if (!mem)
        return 1;
    found(0x830, "6.12 (CP_PA_BACKUP_PAGES_MAP)");
    found(0x9c8, "7.2 (pa_backup_pages_map after the text)");
    /* The same head twice (a copy on the stack) is one list. */
    build(0x830);
    khib_put64(mem + CONTROL + 0xff8, IND | 0x2);
    struct khib_backup_map m;
    char err[400] = "";
    CHECK(khib_backup_map_find(raw_read, NULL, CONTROL, 0, WIN, &m, err, sizeof err) == 0 && m.head_offset == 0x830,
          "the same head twice: %s", err);
    khib_backup_map_free(&m);

    REFUSED(khib_put64(mem + CONTROL + 0x830, 0), "no kexec page list in the control page 0x800000");
    REFUSED(khib_put64(mem + IND + 16, SRC | 0x8), "source page 0xc00000 is used twice");
    REFUSED(khib_put64(mem + IND + 8, (2 * PAGE) | 0x8), "source 0x2000 of 0x0 lies in the window");
    REFUSED(khib_put64(mem + IND, (WIN + PAGE) | 0x1), "destination 0x401000 lies outside the window");
    REFUSED(khib_put64(mem + IND + 8, SRC | 0x9), "has flags 0x9, not one of kexec's");
    REFUSED(khib_put64(mem + IND + 4088, PAGE | 0x2), "indirection page 0x1000 is in the window or unreadable");
    /* A list that loops: its destinations come again. */
    REFUSED(khib_put64(mem + IND + 4088, IND | 0x2), "window page 0x0 is a destination twice");
    REFUSED(khib_put64(mem + IND + 4088, (IND + 3 * PAGE) | 0x2), "has flags 0x0, not one of kexec's");
    REFUSED((khib_put64(mem + IND + 8, 0x4)), "the list copies no window page");
    /* A second list, with other sources, in the same page: which one? */
    REFUSED((memcpy(mem + IND + 16 * PAGE, mem + IND, 3 * PAGE),
             khib_put64(mem + IND + 16 * PAGE + 4088, (IND + 17 * PAGE) | 0x2),
             khib_put64(mem + IND + 17 * PAGE + 4088, (IND + 18 * PAGE) | 0x2),
             khib_put64(mem + CONTROL + 0x900, (IND + 16 * PAGE) | 0x2)),
            "two kexec page lists in the control page");
    /* A destination given twice: the second source would swap it again. */
    REFUSED((khib_put64(mem + IND + 8 * 3, 0 | 0x1)), "window page 0x0 is a destination twice");
    {
        build(0x830);
        CHECK_ERR(khib_backup_map_find(raw_read, NULL, 5 * PAGE, 0, WIN, &m, err, sizeof err) == -1, err,
                  "the control page 0x5000 of the jump-back entry is in the window");
        CHECK_ERR(khib_backup_map_find(raw_read, NULL, CONTROL, 0, WIN + 1, &m, err, sizeof err) == -1, err,
                  "is not page-aligned");
    }
    free(mem);
    return t_done();
}
