/* Trimming A's memory just before the jump: drop the clean caches and,
 * where khib-save cannot leave A's free pages out of the image (no
 * /sys/kernel/vmcoreinfo, or exclude-free=no), zero the free pages, so
 * that khib-save finds them zero and stores nothing for them.  The
 * kernel's own hibernation saves no free pages either, and frees memory
 * down to image_size first (kernel/power/snapshot.c,
 * hibernate_preallocate_memory()); without VMCOREINFO khib-save sees
 * physical memory, not the kernel's free lists, so free pages must be zero
 * to cost nothing.
 *
 * A freed page keeps its contents (unless the kernel runs with
 * init_on_free=1), while an anonymous page is zeroed when it is first
 * touched (clear_page() in the fault path) and stays zero when it is freed
 * without being written.  So: sync, drop the page cache and the slab caches
 * (/proc/sys/vm/drop_caches), then, in a child process that the OOM killer
 * prefers to anything else (oom_score_adj 1000), fault in anonymous memory
 * until only a margin above the kernel's free-page watermarks is left, and
 * exit.  The child's pages go back to the free lists, zeroed.  The
 * zeroing stops after TRIM_SECONDS, and is skipped when the kernel zeroes
 * freed pages itself (init_on_free=1 on its command line).
 *
 * Best effort: a step that fails is reported and the hibernation goes on
 * (the image is then larger, never wrong). */
#ifndef KHIB_FRONTEND_TRIM_H
#define KHIB_FRONTEND_TRIM_H

#include <stddef.h>
#include <stdint.h>

/* Seconds the zeroing may take.  Natively it runs at memory speed, GB/s; in
 * a virtual machine whose free pages the host has taken back (free page
 * reporting, ballooning) every page must be faulted in from the host:
 * 0.4 GB/s on the benchmark machine, a minute for its 23 GiB.  Such pages
 * read as zero anyway. */
#define TRIM_SECONDS 2.0

struct trim_result {
    uint64_t free_before;    /* MemFree before (bytes) */
    uint64_t free_dropped;   /* MemFree after dropping the caches */
    uint64_t zeroed;         /* bytes of free memory faulted in and freed again */
    int timed_out;           /* the zeroing stopped at TRIM_SECONDS */
    int freed_zero;          /* init_on_free=1: the kernel zeroes freed pages, no zeroing needed */
    double seconds;
};

/* Trim as above; with zero 0 only drop the caches (B leaves the free pages
 * out of the image: docs/freepages.md).  0, or -1 with err naming the step
 * that failed (what was done is in *r). */
int memory_trim(struct trim_result *r, int zero, char *err, size_t errlen);

#endif
