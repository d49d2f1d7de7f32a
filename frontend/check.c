#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bootentry.h"
#include "encryption.h"
#include "image_format.h"
#include "kexec_tools.h"
#include "mounts.h"
#include "sysfacts.h"
#include "target_file.h"
#include "threads.h"
#include "window_need.h"

struct report {
    int verbose;
    int failures;
};

static void result(struct report *r, int ok, const char *fix, const char *fmt, ...)
{
    char what[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!ok)
        r->failures++;
    FILE *out = r->verbose ? stdout : stderr;
    if (ok && !r->verbose)
        return;
    fprintf(out, "%s  %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok && fix)
        fprintf(out, "      fix: %s\n", fix);
}

static void check_kernel_options(struct report *r)
{
    char err[512];
    struct kconfig *kc = kconfig_load(err, sizeof err);
    if (!kc) {
        result(r, 0, "boot a kernel built with CONFIG_IKCONFIG_PROC=y or install /boot/config-$(uname -r)",
               "kernel configuration: %s", err);
        return;
    }
    static const struct {
        const char *option, *why;
    } needed[] = {
        {"CONFIG_KEXEC", "kexec_load(2)"},
        {"CONFIG_KEXEC_JUMP", "jumping to the transient kernel and back; needs CONFIG_HIBERNATION"},
        {"CONFIG_DEVMEM", "/dev/mem, through which the transient and restore kernels read and write memory"},
        {"CONFIG_FIRMWARE_MEMMAP", "/sys/firmware/memmap, the memory map kept in the image"},
        {"CONFIG_RELOCATABLE", "loading the transient kernel at a low address"},
        {"CONFIG_PROC_KCORE", "/proc/kcore, from which kexec-tools reads the kernel's base"},
        {"CONFIG_PROC_PAGE_MONITOR", "/proc/self/pagemap, which locates the mailbox page"},
    };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        const char *v = kconfig_get(kc, needed[i].option);
        int ok = v && !strcmp(v, "y");
        char fix[256];
        snprintf(fix, sizeof fix, "rebuild the kernel with %s=y; see docs/install.md", needed[i].option);
        result(r, ok, fix, "kernel %s %s=y [%s]: %s", ok ? "has" : "lacks", needed[i].option,
               kconfig_source(kc), needed[i].why);
    }
    const char *strict = kconfig_get(kc, "CONFIG_STRICT_DEVMEM");
    result(r, !strict || strcmp(strict, "y") != 0,
           "rebuild the kernel with CONFIG_STRICT_DEVMEM unset: it forbids /dev/mem access to RAM",
           "kernel %s CONFIG_STRICT_DEVMEM [%s]", strict ? "has" : "does not have", kconfig_source(kc));
    kconfig_free(kc);
}

/* An image file (target_file.h): its layout read again, where
 * khib.conf (and the initramfs built from it) says it is. */
static void check_target_file(struct report *r, const struct settings *s)
{
    char err[700], fix[400];
    struct file_target ft;
    if (!target_is_file(s)) {
        result(r, 0, "run khib setup-target --file FILE --size SIZE: it checks the file and sets target-device= and"
               " target-offset=", "target %s is a regular file, not set up as an image file", s->target);
        return;
    }
    if (file_target_current(s, &ft, err, sizeof err, fix, sizeof fix) != 0) {
        result(r, 0, fix, "%s", err);
        return;
    }
    result(r, 1, NULL, "target %s is an image file of %" PRIu64 " MiB on %s (%s): %" PRIu32 " extents, written,"
           " its first block at byte %" PRIu64 " as " KHIB_CONF " says", s->target, ft.file_bytes >> 20, ft.fstype,
           ft.dev, ft.map.count, ft.map.e[0].physical);
    khib_extmap_free(&ft.map);
}

static void check_target(struct report *r, const struct settings *s)
{
    if (!s->target[0]) {
        result(r, 0, "pass --target DEV or set target=DEV in " KHIB_CONF, "no image target configured");
        return;
    }
    struct stat st;
    if (stat(s->target, &st) != 0) {
        result(r, 0, "create the partition, or correct --target / target= in " KHIB_CONF,
               "target %s: %s", s->target, strerror(errno));
        return;
    }
    if (S_ISREG(st.st_mode) || target_is_file(s)) {
        check_target_file(r, s);
        return;
    }
    if (!S_ISBLK(st.st_mode)) {
        result(r, 0, "use a partition, or an image file made by khib setup-target", "target %s is not a block device",
               s->target);
        return;
    }
    char err[256];
    int64_t size = target_size(s->target, err, sizeof err);
    result(r, size > 0, "check the device", "target %s is a block device of %lld MiB", s->target,
           (long long)(size > 0 ? size >> 20 : 0));
    char where[512];
    int mounted = device_mount_point(s->target, where, sizeof where);
    result(r, mounted == 0, "unmount it (the image overwrites the whole device)",
           "target %s is %s%s", s->target, mounted ? "mounted on " : "not mounted", mounted ? where : "");
    int swap = device_is_swap(s->target);
    result(r, !swap, "swapoff it, or choose another partition", "target %s is %s", s->target,
           swap ? "an active swap area" : "not in use as swap");
}

/* Whether the image will be encrypted (encryption.h).  Returns the memory
 * the restore's key derivation takes (0: in clear), for check_window(). */
static uint64_t check_encryption(struct report *r, const struct settings *s)
{
    struct encryption_state st;
    encryption_probe(s, &st);
    char why[900];
    int d = encryption_decide(s, &st, why, sizeof why);
    if (d > 0)
        result(r, 1, NULL, "encryption is set up: images are sealed to the public key in %s (key header on %s:"
               " Argon2id, %llu passes over %llu MiB)", s->public_key, s->target,
               (unsigned long long)st.kh.opslimit, (unsigned long long)(st.kh.memlimit >> 20));
    else if (d < 0)
        result(r, 0, "run 'khib setup-encryption', or set encrypt=auto or encrypt=no in " KHIB_CONF,
               "encryption: %s", why);
    else if (why[0])
        result(r, 1, NULL, "encryption: images are written in clear: %s", why);
    else
        result(r, 1, NULL, "encryption: %s", s->encrypt == ENCRYPT_NO ? "off (encrypt=no): images are written in clear"
               : "not set up: images are written in clear ('khib setup-encryption' encrypts them)");
    return d > 0 ? st.kh.memlimit : 0;
}

/* The window against what B and R need in it (window_need.h): too small
 * fails (R could not finish a restore it started), much larger than needed
 * only warns: every page of the window costs time at the kexec load and at
 * the jump (docs/performance.md, "The jump"). */
static void check_window(struct report *r, const struct settings *s, uint64_t kdf)
{
    char err[512];
    struct window_need n;
    if (access(s->kernel, R_OK) != 0 || access(s->initrd, R_OK) != 0)
        return;   /* said above */
    int level = s->level ? s->level : KHIB_LEVEL_AUTO;
    if (window_need(s->kernel, s->initrd, s->window, meminfo_bytes("MemTotal"), khib_default_threads(), level, kdf, &n,
                    err, sizeof err) != 0) {
        result(r, 0, "set kernel= to the kernel's bzImage in " KHIB_CONF, "window: %s", err);
        return;
    }
    unsigned long long w = s->window >> 20, need = (n.total + (1ULL << 20) - 1) >> 20;
    char fix[200];
    snprintf(fix, sizeof fix, "set window=%lluM or more in " KHIB_CONF " (and rebuild the initramfs or update-grub,"
             " docs/install.md)", need);
    result(r, n.total <= s->window, fix,
           "window %llu MiB %s what the transient and restore kernels need, about %llu MiB: the kernel %llu,"
           " the initramfs %llu, %s %llu, the kernel's own %llu", w, n.total <= s->window ? "holds" : "is smaller than", need, (unsigned long long)(n.kernel >> 20),
           (unsigned long long)(n.initrd >> 20), n.kdf > n.save ? "the restore's key derivation" : "khib-save's buffers",
           (unsigned long long)((n.kdf > n.save ? n.kdf : n.save) >> 20), (unsigned long long)(n.overhead >> 20));
    if (r->verbose && s->window > 2 * n.total + (64ULL << 20))
        printf("WARN  window %llu MiB is much larger than needed (about %llu MiB): each MiB of it costs time when the"
               " transient kernel is loaded and at the jump; window=%lluM is plenty (docs/install.md)\n",
               w, need, (2 * need + 63) / 64 * 64);
}

static void mount_result(void *ctx, int ok, const char *fix, const char *what)
{
    result(ctx, ok, fix, "%s", what);
}

int run_checks(const struct settings *s, int verbose, struct khib_fs_record *fs, uint32_t *fs_count)
{
    struct report r = {.verbose = verbose, .failures = 0};
    result(&r, geteuid() == 0, "run khib as root", "running as %s", geteuid() == 0 ? "root" : "a normal user");
    check_kernel_options(&r);

    int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        result(&r, p != MAP_FAILED, "boot with CONFIG_STRICT_DEVMEM unset and without lockdown",
               "/dev/mem can be mapped%s", p == MAP_FAILED ? ": no" : "");
        if (p != MAP_FAILED)
            munmap(p, 4096);
        close(fd);
    } else {
        result(&r, 0, "load a kernel with CONFIG_DEVMEM=y and run as root", "/dev/mem: %s", strerror(errno));
    }
    result(&r, access("/sys/firmware/memmap", R_OK) == 0, "build the kernel with CONFIG_FIRMWARE_MEMMAP=y",
           "/sys/firmware/memmap is %s", access("/sys/firmware/memmap", R_OK) == 0 ? "readable" : "missing");

    int disabled = 0;
    FILE *f = fopen("/proc/sys/kernel/kexec_load_disabled", "r");
    if (f) {
        if (fscanf(f, "%d", &disabled) != 1)
            disabled = 0;
        fclose(f);
    }
    result(&r, !disabled, "kexec was disabled until the next boot (kernel.kexec_load_disabled=1); reboot",
           "kexec_load is %s", disabled ? "disabled" : "allowed");
    if (access(s->kexec, X_OK) == 0) {
        struct kexec_version v;
        int known = kexec_version_probe(s->kexec, &v) == 0;
        result(&r, 1, NULL, "kexec-tools at %s: %s, loading with kexec_load%s", s->kexec,
               known ? v.text : "version unknown", kexec_version_wants_c(&v) ? " (-c)" : "");
    } else {
        result(&r, 0, "apt-get install kexec-tools, or set kexec= in " KHIB_CONF, "kexec-tools at %s missing",
               s->kexec);
    }
    result(&r, access(s->kernel, R_OK) == 0, "install the kernel image or set kernel= in " KHIB_CONF,
           "transient kernel %s %s", s->kernel, access(s->kernel, R_OK) == 0 ? "found" : "missing");
    result(&r, access(s->initrd, R_OK) == 0, "run 'make install' or set initrd= in " KHIB_CONF,
           "khib initramfs %s %s", s->initrd, access(s->initrd, R_OK) == 0 ? "found" : "missing");
    check_target(&r, s);
    check_window(&r, s, check_encryption(&r, s));
    struct utsname u;
    struct boot_plan plan;
    int boot_ok = uname(&u) == 0 && boot_plan(&boot_paths_system, s, u.release, &plan) == 0;
    result(&r, boot_ok, plan.fix, "%s", plan.what);
    mounts_collect(s, "/proc/self/mountinfo", fs, fs_count, mount_result, &r);

    /* The kernel backs up every page of the window into free pages of the
     * saved kernel when the image is loaded (kimage_alloc_page() in
     * kernel/kexec_core.c), so the window's size must be free, plus room for
     * the initramfs and the page tables. */
    uint64_t avail = meminfo_bytes("MemAvailable"), need = s->window + (s->window >> 4) + (16ULL << 20);
    char fix[256];
    snprintf(fix, sizeof fix, "free memory (at least %llu MiB available), or reduce window= (now %llu MiB)",
             (unsigned long long)(need >> 20), (unsigned long long)(s->window >> 20));
    result(&r, avail >= need, fix, "%llu MiB of memory available, %llu MiB needed to back up the %llu MiB window",
           (unsigned long long)(avail >> 20), (unsigned long long)(need >> 20),
           (unsigned long long)(s->window >> 20));
    return r.failures;
}
