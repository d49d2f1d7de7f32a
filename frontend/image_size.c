#define _GNU_SOURCE
#include "image_size.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_format.h"
#include "progress.h"
#include "sysfacts.h"

#define MIB ((uint64_t)1 << 20)
#define STEP_MAX (256 * MIB)
#define STEP_MARGIN (4 * MIB)
/* A reclaim step that brings the estimate down by less than this twice in a
 * row has stalled. */
#define STALL_BYTES MIB
/* And the whole reclaim stops after this long. */
#define RECLAIM_SECONDS 300.0

int mem_facts_parse(const char *text, struct mem_facts *m)
{
    static const struct { const char *key; size_t off; } keys[] = {
        {"MemTotal", offsetof(struct mem_facts, mem_total)},
        {"MemFree", offsetof(struct mem_facts, mem_free)},
        {"Active(file)", offsetof(struct mem_facts, active_file)},
        {"Inactive(file)", offsetof(struct mem_facts, inactive_file)},
        {"Active(anon)", offsetof(struct mem_facts, active_anon)},
        {"Inactive(anon)", offsetof(struct mem_facts, inactive_anon)},
        {"SwapTotal", offsetof(struct mem_facts, swap_total)},
        {"SwapFree", offsetof(struct mem_facts, swap_free)},
    };
    memset(m, 0, sizeof *m);
    int seen_total = 0, seen_free = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *colon = memchr(line, ':', len);
        for (size_t i = 0; colon && i < sizeof keys / sizeof keys[0]; i++) {
            size_t klen = strlen(keys[i].key);
            if ((size_t)(colon - line) != klen || memcmp(line, keys[i].key, klen))
                continue;
            const char *p = colon + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p < '0' || *p > '9')
                return -1;
            char *e;
            errno = 0;
            unsigned long long kb = strtoull(p, &e, 10);
            if (errno || kb > (UINT64_MAX >> 10) || strncmp(e, " kB", 3) || e + 3 > line + len)
                return -1;
            *(uint64_t *)((char *)m + keys[i].off) = (uint64_t)kb << 10;
            seen_total |= i == 0;
            seen_free |= i == 1;
        }
        line += len + (end ? 1 : 0);
    }
    return seen_total && seen_free ? 0 : -1;
}

uint64_t image_estimate(const struct mem_facts *m, uint64_t ram_outside, uint64_t window, int exclude)
{
    uint64_t raw = ram_outside;
    if (exclude) {
        uint64_t free_out = m->mem_free > window ? m->mem_free - window : 0;
        raw = free_out < ram_outside ? ram_outside - free_out : 0;
    }
    return khib_image_bytes_bound(raw);
}

static uint64_t mib(uint64_t b)
{
    return (b + MIB - 1) / MIB;
}

int image_size_plan(const struct mem_facts *m, uint64_t estimate, uint64_t limit, int exclude, uint64_t *need,
                    char *why, size_t whylen)
{
    *need = 0;
    why[0] = 0;
    if (estimate <= limit)
        return IMAGE_FITS;
    *need = estimate - limit;
    if (!exclude) {
        snprintf(why, whylen,
                 "the image would hold all %" PRIu64 " MiB of RAM outside the window, above image-size=%" PRIu64
                 " MiB, and freeing memory cannot shrink it because the free pages are saved too (exclude-free=no,"
                 " or no /sys/kernel/vmcoreinfo): use exclude-free=yes on a kernel with CONFIG_VMCORE_INFO, or"
                 " raise image-size",
                 mib(estimate), limit / MIB);
        return IMAGE_CANNOT;
    }
    uint64_t cache = m->active_file + m->inactive_file, anon = m->active_anon + m->inactive_anon;
    uint64_t to_swap = anon < m->swap_free ? anon : m->swap_free;
    if (*need > cache + to_swap) {
        char swap[160];
        if (!m->swap_total)
            snprintf(swap, sizeof swap, "there is no swap for the %" PRIu64 " MiB of anonymous and tmpfs memory",
                     mib(anon));
        else
            snprintf(swap, sizeof swap, "swap can take %" PRIu64 " MiB more (SwapFree) of the %" PRIu64
                     " MiB of anonymous and tmpfs memory", to_swap / MIB, mib(anon));
        snprintf(why, whylen,
                 "the image would be about %" PRIu64 " MiB, above image-size=%" PRIu64 " MiB, and at most %" PRIu64
                 " MiB can be freed: the page cache holds %" PRIu64 " MiB and %s; add swap (swapon), raise"
                 " image-size, or stop programs that hold memory",
                 mib(estimate), limit / MIB, (cache + to_swap) / MIB, cache / MIB, swap);
        return IMAGE_CANNOT;
    }
    return IMAGE_RECLAIM;
}

uint64_t image_reclaim_step(uint64_t need)
{
    uint64_t step = need + STEP_MARGIN;
    return step > STEP_MAX ? STEP_MAX : step;
}

static int read_facts(struct mem_facts *m, char *why, size_t whylen)
{
    char text[8192];
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        snprintf(why, whylen, "cannot read /proc/meminfo: %s", strerror(e));
        return -1;
    }
    text[n] = 0;
    if (mem_facts_parse(text, m) != 0) {
        snprintf(why, whylen, "/proc/meminfo has no MemTotal or MemFree in kB");
        return -1;
    }
    return 0;
}

/* The root of the cgroup v2 hierarchy: its mount point from mountinfo, or a
 * mount of our own in a fresh directory under /run (*mounted 1; unmount it
 * with cgroup2_release). */
static int cgroup2_root(char *dir, size_t len, int *mounted, char *why, size_t whylen)
{
    *mounted = 0;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (f) {
        char line[2048], mnt[1024];
        while (fgets(line, sizeof line, f)) {
            const char *sep = strstr(line, " - ");
            if (sep && !strncmp(sep, " - cgroup2 ", 11) &&
                sscanf(line, "%*u %*u %*s %*s %1023s", mnt) == 1 && !strchr(mnt, '\\') && strlen(mnt) < len) {
                snprintf(dir, len, "%s", mnt);
                fclose(f);
                return 0;
            }
        }
        fclose(f);
    }
    snprintf(dir, len, "/run/khib-cgroup.XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(why, whylen, "no cgroup v2 file system is mounted, and making a directory to mount one failed: %s",
                 strerror(errno));
        return -1;
    }
    if (mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        snprintf(why, whylen,
                 "no cgroup v2 file system is mounted, and mounting one failed: %s (a kernel without "
                 "CONFIG_CGROUPS and CONFIG_MEMCG cannot reclaim to swap)",
                 strerror(errno));
        rmdir(dir);
        return -1;
    }
    *mounted = 1;
    return 0;
}

static void cgroup2_release(const char *dir, int mounted)
{
    if (!mounted)
        return;
    if (umount(dir) != 0)
        fprintf(stderr, "khib: warning: cannot unmount %s: %s\n", dir, strerror(errno));
    else if (rmdir(dir) != 0)
        fprintf(stderr, "khib: warning: cannot remove %s: %s\n", dir, strerror(errno));
}

/* One step of memory.reclaim (mm/memcontrol.c memory_reclaim(), "SIZE
 * swappiness=N" since Linux 6.9; the root cgroup has the file too: its
 * cftype has no CFTYPE_NOT_ON_ROOT, and reclaiming from the root cgroup
 * reclaims from every cgroup; 7.2 moved the parsing to mm/vmscan.c
 * user_proactive_reclaim()).  swappiness=200 (MAX_SWAPPINESS) gives the
 * file lists no weight (mm/vmscan.c get_scan_count(): fp =
 * (MAX_SWAPPINESS - swappiness) * ... is 0): the page cache is
 * dropped already, what is left of it is mapped (programs and libraries),
 * and taking it would slow the last seconds before the jump down.  A kernel
 * without the argument (EINVAL) gets the plain form.  EAGAIN means it
 * reclaimed less than asked: the caller measures the progress. */
static int reclaim_step(const char *file, uint64_t bytes, int *plain, char *why, size_t whylen)
{
    char text[64];
    for (;;) {
        snprintf(text, sizeof text, *plain ? "%" PRIu64 : "%" PRIu64 " swappiness=200", bytes);
        if (write_proc_text(file, text) == 0 || errno == EAGAIN)
            return 0;
        if (errno == EINVAL && !*plain) {
            *plain = 1;
            continue;
        }
        snprintf(why, whylen, "writing '%s' to %s failed: %s", text, file, strerror(errno));
        return -1;
    }
}

int image_size_enforce(uint64_t limit, uint64_t ram_outside, uint64_t window, int exclude, char *why,
                       size_t whylen)
{
    double t0 = khib_now();
    struct mem_facts m;
    if (read_facts(&m, why, whylen) != 0)
        return -1;
    uint64_t first = image_estimate(&m, ram_outside, window, exclude), need;
    int plan = image_size_plan(&m, first, limit, exclude, &need, why, whylen);
    if (plan == IMAGE_CANNOT)
        return -1;
    if (plan == IMAGE_FITS) {
        printf("khib: the image will be at most about %" PRIu64 " MiB, within image-size=%" PRIu64 " MiB\n",
               mib(first), limit / MIB);
        return 0;
    }
    printf("khib: the image would be about %" PRIu64 " MiB, above image-size=%" PRIu64
           " MiB: freeing %" PRIu64 " MiB (the page cache, then memory to swap)\n",
           mib(first), limit / MIB, mib(need));
    fflush(stdout);
    /* The page cache (and the slab caches) first: clean pages are simply
     * dropped, nothing goes to swap. */
    sync();
    if (write_proc_text("/proc/sys/vm/drop_caches", "3") != 0) {
        snprintf(why, whylen, "cannot drop the caches (/proc/sys/vm/drop_caches): %s", strerror(errno));
        return -1;
    }
    if (read_facts(&m, why, whylen) != 0)
        return -1;
    uint64_t est = image_estimate(&m, ram_outside, window, exclude);
    uint64_t swap_used0 = m.swap_total - m.swap_free;
    if (est <= limit) {
        printf("khib: dropping the caches was enough: the image will be at most about %" PRIu64 " MiB (%.1f s)\n",
               mib(est), khib_now() - t0);
        return 0;
    }
    /* Then to swap.  Checked again: dropping the caches may have shown
     * that the rest does not fit. */
    if (image_size_plan(&m, est, limit, exclude, &need, why, whylen) == IMAGE_CANNOT)
        return -1;
    char dir[1100], file[1200];
    int mounted;
    if (cgroup2_root(dir, sizeof dir, &mounted, why, whylen) != 0)
        return -1;
    snprintf(file, sizeof file, "%s/memory.reclaim", dir);
    int rc = -1, plain = 0, stalls = 0;
    if (access(file, W_OK) != 0) {
        snprintf(why, whylen,
                 "%s is missing (%s): the memory controller is not on cgroup v2 (CONFIG_MEMCG, and no "
                 "cgroup v1 memory hierarchy), so anonymous memory cannot be pushed to swap; raise image-size",
                 file, strerror(errno));
        goto out;
    }
    while (est > limit) {
        if (khib_now() - t0 > RECLAIM_SECONDS) {
            snprintf(why, whylen, "reclaim ran for %.0f s and the image is still about %" PRIu64
                     " MiB, above image-size=%" PRIu64 " MiB: raise image-size or add faster swap",
                     RECLAIM_SECONDS, mib(est), limit / MIB);
            goto out;
        }
        if (reclaim_step(file, image_reclaim_step(est - limit), &plain, why, whylen) != 0)
            goto out;
        if (read_facts(&m, why, whylen) != 0)
            goto out;
        uint64_t now = image_estimate(&m, ram_outside, window, exclude);
        uint64_t swapped = m.swap_total - m.swap_free;
        printf("khib: reclaiming: the image would be about %" PRIu64 " MiB (limit %" PRIu64 " MiB), %" PRIu64
               " MiB more in swap (%.1f s)\n",
               mib(now), limit / MIB, (swapped > swap_used0 ? swapped - swap_used0 : 0) / MIB, khib_now() - t0);
        fflush(stdout);
        stalls = now + STALL_BYTES > est ? stalls + 1 : 0;
        est = now;
        if (est > limit && stalls >= 2) {
            snprintf(why, whylen,
                     "reclaim stalled: the image would still be about %" PRIu64 " MiB, above image-size=%" PRIu64
                     " MiB (swap free %" PRIu64 " MiB, page cache %" PRIu64 " MiB; memory that is locked or"
                     " in use by the kernel cannot go): raise image-size, add swap, or stop programs that hold"
                     " memory",
                     mib(est), limit / MIB, m.swap_free / MIB, (m.active_file + m.inactive_file) / MIB);
            goto out;
        }
    }
    printf("khib: the image will be at most about %" PRIu64 " MiB, within image-size=%" PRIu64 " MiB (%.1f s)\n",
           mib(est), limit / MIB, khib_now() - t0);
    rc = 0;
out:
    cgroup2_release(dir, mounted);
    return rc;
}
