#define _GNU_SOURCE
#include "trim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progress.h"
#include "sysfacts.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define TRIM_STEP (64ULL << 20)

/* Free memory to leave: above the watermarks at which kswapd starts
 * reclaiming (mm/page_alloc.c, __setup_per_zone_wmarks(): min_free_kbytes
 * plus watermark_scale_factor, 0.1 % of memory by default), so that the
 * child takes free pages and pushes nothing out to swap. */
static uint64_t margin(void)
{
    uint64_t min_free = 0;
    FILE *f = fopen("/proc/sys/vm/min_free_kbytes", "r");
    if (f) {
        if (fscanf(f, "%" SCNu64, &min_free) != 1)
            min_free = 0;
        fclose(f);
    }
    return 4 * (min_free << 10) + meminfo_bytes("MemTotal") / 500 + (32ULL << 20);
}

/* init_on_free=1 on the kernel's command line (mm/mm_init.c,
 * early_init_on_free(); a kernel built with CONFIG_INIT_ON_FREE_DEFAULT_ON
 * is not recognized and gets the zeroing). */
static int kernel_zeroes_freed_pages(void)
{
    char line[4096];
    kernel_cmdline(line, sizeof line);
    int on = 0;
    for (char *w = strtok(line, " \n"); w; w = strtok(NULL, " \n"))
        if (!strncmp(w, "init_on_free=", 13))
            on = !strcmp(w + 13, "1") || !strcmp(w + 13, "on") || !strcmp(w + 13, "y");
    return on;
}

/* The child: fault in free memory, a step at a time, down to keep and for
 * TRIM_SECONDS at most; write the bytes done and whether time ran out to
 * fd. */
static void zero_free_memory(int fd, uint64_t keep)
{
    double deadline = khib_now() + TRIM_SECONDS;
    /* Rather this process than any other when memory runs out. */
    (void)write_proc_text("/proc/self/oom_score_adj", "1000");
    uint64_t free = meminfo_bytes("MemFree"), out[2] = {0, 0}, done = 0;
    if (free > keep + TRIM_STEP) {
        size_t len = (size_t)((free - keep) & ~(TRIM_STEP - 1));
        uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) {
            /* Base pages: a huge page could need compaction first. */
            (void)madvise(m, len, MADV_NOHUGEPAGE);
            while (done < len && meminfo_bytes("MemFree") >= keep + TRIM_STEP) {
                if (khib_now() > deadline) {
                    out[1] = 1;
                    break;
                }
                if (madvise(m + done, TRIM_STEP, MADV_POPULATE_WRITE) != 0) {
                    if (errno != EINVAL)
                        break;
                    /* Before Linux 5.14: touch each page (a zero keeps it zero). */
                    for (size_t p = 0; p < TRIM_STEP; p += 4096)
                        ((volatile uint8_t *)m)[done + p] = 0;
                }
                done += TRIM_STEP;
            }
        }
    }
    out[0] = done;
    ssize_t n = write(fd, out, sizeof out);
    _exit(n == (ssize_t)sizeof out ? 0 : 1);
}

int memory_trim(struct trim_result *r, int zero, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    double t0 = khib_now();
    r->free_before = meminfo_bytes("MemFree");
    sync();
    if (write_proc_text("/proc/sys/vm/drop_caches", "3") != 0) {
        snprintf(err, errlen, "cannot drop the caches (/proc/sys/vm/drop_caches): %s", strerror(errno));
        return -1;
    }
    r->free_dropped = meminfo_bytes("MemFree");
    if (!zero || (r->freed_zero = kernel_zeroes_freed_pages())) {
        r->seconds = khib_now() - t0;
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    uint64_t keep = margin();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        zero_free_memory(fds[1], keep);
    }
    close(fds[1]);
    uint64_t out[2] = {0, 0};
    ssize_t n;
    do
        n = read(fds[0], out, sizeof out);
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->seconds = khib_now() - t0;
    if (n != (ssize_t)sizeof out) {
        snprintf(err, errlen, "zeroing the free memory stopped early (%s)",
                 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no report from the child");
        return -1;
    }
    r->zeroed = out[0];
    r->timed_out = (int)out[1];
    return 0;
}
