/* The image size limit (image-size= / --image-size, like the kernel's
 * /sys/power/image_size): right before the jump `khib hibernate` estimates
 * the image from /proc/meminfo and, when it is above the limit, reclaims
 * memory until it fits — the page cache first (/proc/sys/vm/drop_caches),
 * then anonymous and tmpfs memory to swap (cgroup v2 memory.reclaim of the
 * root cgroup, anonymous pages only) — or refuses, having written nothing to
 * the target.  See docs/khib.md ("The image size limit").
 *
 * The estimate (bytes on the target), conservative:
 *
 *   pages saved  = RAM outside the window − A's free pages outside it
 *   free outside ≥ MemFree − min(MemFree, W)   (up to W of MemFree may lie
 *                                              inside the window [0, W),
 *                                              which is never saved)
 *   estimate     = khib_image_bytes_bound(RAM outside − MemFree
 *                                         + min(MemFree, W))
 *
 * No compression is assumed (level auto stores chunks raw where the CPUs
 * are slower than the disk, and a random page does not compress) and zero
 * pages are counted as stored; khib_image_bytes_bound() (image_format.h)
 * adds the index, checksums and headers.  Without free-page exclusion every
 * page outside the window is counted.  The transient kernel checks the
 * same bound with the pages it really leaves out (khib-save --image-size)
 * and saves nothing when it is above the limit, so the limit holds even
 * when the free pages cannot be left out there. */
#ifndef KHIB_FRONTEND_IMAGE_SIZE_H
#define KHIB_FRONTEND_IMAGE_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* The /proc/meminfo fields the estimate and the plan use, in bytes. */
struct mem_facts {
    uint64_t mem_total, mem_free;
    uint64_t active_file, inactive_file; /* page cache on the LRU lists */
    uint64_t active_anon, inactive_anon; /* anonymous and tmpfs/shmem: only to swap */
    uint64_t swap_total, swap_free;
};

/* Parse the text of /proc/meminfo ("Key:   N kB" lines).  0, or -1 when
 * MemTotal or MemFree is missing or a value is not a number of kB. */
int mem_facts_parse(const char *text, struct mem_facts *m);

/* The estimate above, in bytes.  ram_outside: bytes of RAM outside the
 * window; window: W; exclude: B leaves free pages out. */
uint64_t image_estimate(const struct mem_facts *m, uint64_t ram_outside, uint64_t window, int exclude);

enum { IMAGE_FITS, IMAGE_RECLAIM, IMAGE_CANNOT };

/* What to do for limit: IMAGE_FITS, IMAGE_RECLAIM (*need bytes to free),
 * or IMAGE_CANNOT with why (the cause and the fix) when even the whole page
 * cache plus what swap can take is not enough, or exclusion is off. */
int image_size_plan(const struct mem_facts *m, uint64_t estimate, uint64_t limit, int exclude, uint64_t *need,
                    char *why, size_t whylen);

/* The reclaim, run by khib hibernate: read /proc/meminfo, plan, drop the
 * page cache, push anonymous memory to swap in steps with a progress line
 * each, until the estimate fits.  0 when it fits (a line saying so), -1
 * with why when it cannot: then nothing was written to the target (memory
 * may have gone to swap, the caches are dropped). */
int image_size_enforce(uint64_t limit, uint64_t ram_outside, uint64_t window, int exclude, char *why,
                       size_t whylen);

/* The amount to write to memory.reclaim for the next step: need plus a
 * margin of 4 MiB (the estimate moves while reclaim runs), at most
 * 256 MiB so that a progress line follows each step. */
uint64_t image_reclaim_step(uint64_t need);

#endif
