/* `khib hibernate`: hand the running system's memory to a transient kernel.
 *
 * 1. check every precondition (check.c) so that a refusal changes nothing;
 * 2. describe A's RAM outside the window [0, W) as an ELF core header with
 *    the khib note (mailbox, window, identity, target, mounted file systems);
 * 3. append it to the khib initramfs as /khib/elfcorehdr;
 * 4. load B with kexec-tools --load-preserve-context, filling [0, W) so that
 *    the kernel's preserve-context page swap keeps A's window contents in A's
 *    own pages during the jump, and confine B to the window;
 * 5. trim: drop the caches, and zero free memory where B cannot leave it
 *    out of the image (trim.h), unless --no-trim;
 * 6. sync and jump; when reboot() returns we are back, and the mailbox says
 *    why: a test save, a failure in B, or a resume by R.
 */
#define _GNU_SOURCE
#include "hibernate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootargs.h"
#include "bootentry.h"
#include "check.h"
#include "chunk_codec.h"
#include "console_note.h"
#include "cpio.h"
#include "elfcore.h"
#include "encryption.h"
#include "handoff.h"
#include "handoff_codec.h"
#include "image.h"
#include "image_size.h"
#include "kexec_jump.h"
#include "kexec_tools.h"
#include "mailbox_page.h"
#include "memmap.h"
#include "progress.h"
#include "sysfacts.h"
#include "target_file.h"
#include "trim.h"

#define MAX_RANGES 128

/* The GNU build id of the running kernel from /sys/kernel/notes. */
static int kernel_build_id(uint8_t *id, size_t max)
{
    unsigned char buf[4096];
    int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    size_t off = 0;
    while (n > 0 && off + 12 <= (size_t)n) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, buf + off, 4);
        memcpy(&descsz, buf + off + 4, 4);
        memcpy(&type, buf + off + 8, 4);
        size_t name_off = off + 12, desc_off = name_off + ((namesz + 3) & ~3u);
        if (desc_off + descsz > (size_t)n)
            break;
        if (type == 3 && namesz == 4 && !memcmp(buf + name_off, "GNU", 4) && descsz <= max) {
            memcpy(id, buf + desc_off, descsz);
            return (int)descsz;
        }
        off = desc_off + ((descsz + 3) & ~3u);
    }
    return 0;
}

/* A's VMCOREINFO note, for B's free-page exclusion: /sys/kernel/vmcoreinfo
 * prints its physical address and size ("%lx %x", kernel/ksysfs.c
 * vmcoreinfo_show()).  0, or -1 when there is none (CONFIG_VMCORE_INFO). */
static int vmcoreinfo_note(uint64_t *addr, uint32_t *size)
{
    FILE *f = fopen("/sys/kernel/vmcoreinfo", "r");
    if (!f)
        return -1;
    unsigned long long a;
    unsigned s;
    int n = fscanf(f, "%llx %x", &a, &s);
    fclose(f);
    if (n != 2 || !a || !s || s > KHIB_VMCOREINFO_NOTE_MAX)
        return -1;
    *addr = a;
    *size = s;
    return 0;
}

/* Pages on the per-cpu free lists, from /proc/zoneinfo ("cpu: N" then
 * "count: X", mm/vmstat.c zoneinfo_show_print()).  They are not in MemFree,
 * and may be free by the time B looks: the jump takes every CPU but one
 * offline (kernel/kexec_core.c kernel_kexec() ->
 * suspend_disable_secondary_cpus()), and an offline CPU's lists go back to
 * the buddy allocator (mm/page_alloc.c page_alloc_cpu_dead() ->
 * drain_pages()); the vmstat work shrinks the lists of an idle CPU
 * (mm/vmstat.c refresh_cpu_vm_stats() -> decay_pcp_high()).  Seen: 2000 to
 * 4000 pages more free at the jump than MemFree said on 1 GiB guests. */
static uint64_t pcp_pages(void)
{
    FILE *f = fopen("/proc/zoneinfo", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t sum = 0;
    while (fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, " count: %ld", &v) == 1 && v > 0)
            sum += (uint64_t)v;
    }
    fclose(f);
    return sum;
}

static uint32_t pages32(uint64_t pages)
{
    return pages >= UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

/* A's free page count for B's cross-check, into the mailbox right before
 * the jump (the note is loaded with B, earlier): MemFree, and the per-cpu
 * lists that may be free at the jump. */
static void post_free_pages(struct mailbox_page *mb)
{
    struct khib_mailbox m;
    khib_mailbox_decode(mb->page, &m);
    m.a_pcp_pages = pages32(pcp_pages());
    m.a_free_pages = pages32(meminfo_bytes("MemFree") >> KHIB_PAGE_SHIFT);
    khib_mailbox_encode(&m, mb->page);
}

/* B's command line: the window (bootargs.h), A's console (and
 * no_timer_check: a machine whose timer check fails fails it in B too), and khib's
 * parameters (with public_key, not NULL, B encrypts to it). */
static void transient_cmdline(const struct settings *s, const char *public_key, char *out, size_t len)
{
    char cmdline[4096];
    kernel_cmdline(cmdline, sizeof cmdline);
    window_words(s->window, out, len);
    size_t used = strlen(out);
    for (char *w = strtok(cmdline, " \n"); w && used < len; w = strtok(NULL, " \n"))
        if (!strncmp(w, "console=", 8) || !strncmp(w, "earlyprintk=", 12) || !strncmp(w, "loglevel=", 9) ||
            !strcmp(w, "no_timer_check"))
            used += (size_t)snprintf(out + used, len - used, " %s", w);
    char level[16]; /* "0": the saver's default */
    khib_level_format(s->level, level, sizeof level);
    if (used < len)
        used += (size_t)snprintf(out + used, len - used,
                                 " panic=10 khib.role=save khib.target=%s khib.test=%d khib.level=%s%s%s%s%s",
                                 target_is_file(s) ? s->target_device : s->target, s->test, level, public_key ? " khib.pubkey=" : "",
                                 public_key ? public_key : "", s->append[0] ? " " : "", s->append);
    if (s->image_size && used < len) /* B checks it too (image_size.h) */
        used += (size_t)snprintf(out + used, len - used, " khib.image_size=%llu", (unsigned long long)s->image_size);
}

static int write_transient_initrd(const struct settings *s, const void *hdr, size_t hdrlen, const void *extents,
                                  size_t extlen, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "/tmp/khib-initrd.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "khib: cannot create a temporary initramfs: %s\n", strerror(errno));
        return -1;
    }
    FILE *out = fdopen(fd, "w");
    FILE *in = fopen(s->initrd, "r");
    int rc = -1;
    if (!out || !in) {
        fprintf(stderr, "khib: cannot read %s: %s\n", s->initrd, strerror(errno));
        goto done;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            goto write_error;
    if (ferror(in)) {
        fprintf(stderr, "khib: cannot read %s: %s\n", s->initrd, strerror(errno));
        goto done;
    }
    /* The khib archive is gzip-compressed; an uncompressed cpio may follow
     * it, but unpack_to_rootfs() (init/initramfs.c) recognises an
     * uncompressed archive only at a 4-byte aligned offset and skips zero
     * bytes before it. */
    long end = ftell(out);
    if (end < 0)
        goto write_error;
    for (; end % 4; end++)
        if (fputc(0, out) == EOF)
            goto write_error;
    if (cpio_add_dir(out, "khib", 1) || cpio_add_file(out, "khib/elfcorehdr", 2, hdr, hdrlen) ||
        (extents && cpio_add_file(out, KHIB_EXTENTS_FILE + 1, 3, extents, extlen)) || cpio_finish(out))
        goto write_error;
    if (fflush(out) == 0) {
        rc = 0;
        goto done;
    }
write_error:
    fprintf(stderr, "khib: cannot write %s: %s\n", path, strerror(errno));
done:
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    else
        close(fd);
    if (rc)
        unlink(path);
    return rc;
}

static int run_kexec_load(const struct settings *s, const char *initrd, const char *cmdline)
{
    /* --no-checks: kexec-tools otherwise hashes every destination byte, the
     * window's zero-filled backup segments included, with SHA-256
     * (update_purgatory(), kexec/kexec.c) for purgatory to hash again before
     * it enters B: 192 MiB twice, 5 s of the load alone in a QEMU guest.
     * What B saves carries khib's own checksums.  -c (kexec_load) for every
     * version that has it: kexec_tools.h. */
    struct kexec_version v;
    if (kexec_version_probe(s->kexec, &v) != 0)
        fprintf(stderr, "khib: warning: %s; passing -c as kexec-tools 2.0.17 and later take it\n", v.text);
    char *argv[KEXEC_ARGV_MAX], buf[5400];
    if (kexec_load_argv(&v, s->kexec, s->kernel, initrd, cmdline, s->window - 1, argv, buf, sizeof buf) != 0) {
        fprintf(stderr, "khib: the transient kernel's command line is too long\n");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "khib: fork failed: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execv(s->kexec, argv);
        fprintf(stderr, "khib: cannot run %s: %s\n", s->kexec, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "khib: %s (%s) could not load the transient kernel %s (see its message above)\n", s->kexec,
                v.text, s->kernel);
        return -1;
    }
    return 0;
}

/* A test snapshot must never be resumed: the system went on running after
 * it, so its file systems have moved on.  Mark it consumed at once. */
static int retire_test_image(const struct settings *s, const uint8_t *uuid)
{
    char err[512];
    struct khib_image img;
    uint64_t offset;
    const char *target = image_location(s, &offset);
    /* An image file's snapshot was retired by the transient kernel already
     * (this kernel may not write to a disk whose file system is mounted). */
    int rc = khib_image_open_at(&img, target, offset, KHIB_OPEN_READ, err, sizeof err);
    int done = rc == KHIB_IMG_OK && !memcmp(img.sb.uuid, uuid, 16) && img.sb.state == KHIB_STATE_CONSUMED;
    khib_image_close(&img);
    if (done)
        return 0;
    rc = khib_image_open_at(&img, target, offset, KHIB_OPEN_WRITE, err, sizeof err);
    if (rc == KHIB_IMG_OK) {
        if (memcmp(img.sb.uuid, uuid, 16) != 0 || img.sb.state != KHIB_STATE_COMMITTED) {
            snprintf(err, sizeof err, "it holds another image, or the image is %s", khib_state_name(img.sb.state));
            rc = -1;
        } else {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            rc = khib_image_mark(&img, KHIB_STATE_CONSUMED,
                                 (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, err, sizeof err);
        }
        khib_image_close(&img);
    }
    if (rc != 0)
        fprintf(stderr, "khib: cannot retire the test image on %s: %s\n", target, err);
    return rc ? -1 : 0;
}

static int report(const struct khib_mailbox *m, double jump_s)
{
    char uuid[40];
    khib_uuid_format(m->image_uuid, uuid, sizeof uuid);
    switch (m->status) {
    case KHIB_MBX_SAVED:
        printf("khib: snapshot saved: image %s, %.1f MiB, saved in %.1f s; back after %.1f s\n", uuid,
               m->image_bytes / 1048576.0, m->save_ms / 1000.0, jump_s);
        return 0;
    case KHIB_MBX_RESTORED:
    {
        char line[160];
        snprintf(line, sizeof line, "khib: resumed from image %s: the system was off for %.1f s; restore took %.1f s",
                 uuid, (double)(m->restored_ns - m->saved_ns) / 1e9, m->restore_ms / 1000.0);
        console_note(line);
        return 0;
    }
    case KHIB_MBX_WOKE:
    {
        char line[200];
        snprintf(line, sizeof line, "khib: woke from suspend-to-both: image %s was saved, then retired at the wake"
                 " (%.1f s after the save)", uuid, (double)(m->restored_ns - m->saved_ns) / 1e9);
        console_note(line);
        return 0;
    }
    case KHIB_MBX_SAVE_FAILED:
        fprintf(stderr, "khib: hibernation failed in the transient kernel: %s\n", m->msg);
        fprintf(stderr, "khib: the system kept running; no image was committed\n");
        return 4;
    default:
        fprintf(stderr, "khib: the transient kernel returned without a report; no image was committed\n");
        return 5;
    }
}

int khib_hibernate(const struct settings *s)
{
    double t_start = khib_now();
    struct khib_note note;
    memset(&note, 0, sizeof note);
    if (run_checks(s, 0, note.fs, &note.fs_count) != 0) {
        fprintf(stderr, "khib: not hibernating: fix the failures above ('khib check' lists every check)\n");
        return 3;
    }
    /* Encrypted or not (encryption.h): encrypt=yes refuses rather than
     * write an image in clear. */
    struct encryption_state enc;
    char why[900];
    encryption_probe(s, &enc);
    int encrypt = encryption_decide(s, &enc, why, sizeof why);
    if (encrypt < 0) {
        fprintf(stderr, "khib: not hibernating: %s\n", why);
        return 3;
    }
    if (!encrypt && why[0])
        fprintf(stderr, "khib: warning: the image is written in clear: %s\n", why);
    char err[512];
    struct khib_range_list ram;
    if (khib_memmap_ram(KHIB_MEMMAP_DIR, s->window, &ram, err, sizeof err) != 0) {
        fprintf(stderr, "khib: %s\n", err);
        return 3;
    }
    note.version = KHIB_NOTE_VERSION;
    note.flags = (s->test ? KHIB_NOTE_TEST : 0) | (s->exclude_free ? 0 : KHIB_NOTE_KEEP_FREE) |
                 (s->hybrid ? KHIB_NOTE_HYBRID : 0);
    /* Without VMCOREINFO B saves the free pages: the trim zeroes them. */
    int exclude = s->exclude_free && vmcoreinfo_note(&note.vmcoreinfo_addr, &note.vmcoreinfo_size) == 0;
    if (s->exclude_free && !exclude)
        printf("khib: no /sys/kernel/vmcoreinfo (CONFIG_VMCORE_INFO): the free pages are saved%s\n",
               s->trim ? " (zeroed by the trim)" : "");
    note.window_start = 0;
    note.window_size = s->window;
    note.level = s->level;
    if (khib_memmap_digest(KHIB_MEMMAP_DIR, KHIB_EFI_RUNTIME_MAP_DIR, &note.memmap_digest, err, sizeof err) != 0) {
        fprintf(stderr, "khib: %s\n", err);
        return 3;
    }
    struct utsname u;
    uname(&u);
    /* How the next boot reaches R (bootentry.h): checked by run_checks. */
    struct boot_plan plan;
    if (boot_plan(&boot_paths_system, s, u.release, &plan) != 0) {
        fprintf(stderr, "khib: %s\n", plan.what);
        return 3;
    }
    snprintf(note.kernel_release, sizeof note.kernel_release, "%s", u.release);
    note.build_id_len = (uint8_t)kernel_build_id(note.build_id, sizeof note.build_id);
    snprintf(note.target, sizeof note.target, "%s", s->target);
    snprintf(note.host_name, sizeof note.host_name, "%.*s", (int)sizeof note.host_name - 1, u.nodename);
    /* An image file: its extents read again, for B (target_file.h). */
    void *extents = NULL;
    size_t extlen = 0;
    if (target_is_file(s) && file_target_handoff(s, &note, &extents, &extlen, err, sizeof err) != 0) {
        fprintf(stderr, "khib: not hibernating: %s\n", err);
        return 3;
    }

    struct mailbox_page mb = {0};
    if (mailbox_page_open(&mb, s->window, err, sizeof err) != 0) {
        fprintf(stderr, "khib: %s\n", err);
        free(extents);
        return 3;
    }
    note.mailbox_addr = mb.phys;
    note.nonce = mb.nonce;

    size_t hdrlen;
    void *hdr = khib_elfcore_build_header(&ram, &note, &hdrlen, err, sizeof err);
    if (!hdr) {
        fprintf(stderr, "khib: %s\n", err);
        mailbox_page_close(&mb);
        free(extents);
        return 3;
    }
    char initrd[64], cmdline[4096];
    transient_cmdline(s, encrypt ? enc.hex : NULL, cmdline, sizeof cmdline);
    int rc = 3;
    if (write_transient_initrd(s, hdr, hdrlen, extents, extlen, initrd, sizeof initrd) != 0)
        goto out;
    /* The load can take seconds on a machine below 4 GiB: each window page
     * the allocator hands out as a source costs a walk of the pages loaded
     * so far (kimage_alloc_page(), kernel/kexec_core.c; docs/install.md,
     * "The window"). */
    printf("khib: loading the transient kernel into the %llu MiB window\n", (unsigned long long)(s->window >> 20));
    fflush(stdout);
    double t_load = khib_now();
    if (run_kexec_load(s, initrd, cmdline) != 0)
        goto out_initrd;
    /* After the load (its pages are taken), before anything is written. */
    if (s->image_size &&
        image_size_enforce(s->image_size, ram.total_pages << KHIB_PAGE_SHIFT, s->window, exclude, why, sizeof why)) {
        fprintf(stderr, "khib: not hibernating: %s\n", why);
        fprintf(stderr, "khib: nothing was written to %s\n", s->target);
        goto out_unload;
    }

    if (s->trim) {
        /* After the load (its allocations are made), before the jump. */
        struct trim_result tr;
        char why[300];
        if (memory_trim(&tr, !exclude, why, sizeof why) != 0)
            fprintf(stderr, "khib: warning: %s; the free memory is saved as it is\n", why);
        else
            printf("khib: trimmed memory: the caches dropped freed %" PRIu64 " MiB, %" PRIu64
                   " MiB of free memory zeroed%s (%.1f s; --no-trim keeps them)\n",
                   (tr.free_dropped > tr.free_before ? tr.free_dropped - tr.free_before : 0) >> 20, tr.zeroed >> 20,
                   exclude        ? " (none needed: the transient kernel leaves free pages out)"
                   : tr.freed_zero ? " (none needed: init_on_free=1)"
                   : tr.timed_out ? " (the time limit ran out: the rest is saved as it is)"
                                  : "",
                   tr.seconds);
    }
    char line[400];
    snprintf(line, sizeof line,
             "khib: hibernating %llu MiB of memory to %s%s (prepared in %.1f s, of which %.1f s loading the"
             " transient kernel)",
             (unsigned long long)(ram.total_pages >> (20 - KHIB_PAGE_SHIFT)), s->target,
             s->test     ? " (test: the system comes back after the save)"
             : s->hybrid ? " (suspend-to-both: then to RAM; a wake returns here, a power loss resumes from the image)"
                         : "",
             khib_now() - t_start,
             khib_now() - t_load);
    console_note(line);
    /* The one-shot next boot, set last: a failure before leaves it as it was. */
    if (boot_arm(&boot_paths_system, &plan, err, sizeof err) != 0) {
        fprintf(stderr, "khib: %s; not hibernating\n", err);
        goto out_unload;
    }
    if (plan.grub)
        printf("khib: the next boot starts GRUB's entry %s once (next_entry in %s)\n", plan.entry,
               boot_paths_system.grubenv);
    else if (plan.initramfs)
        printf("khib: the next boot resumes through the ordinary boot entry (khib's hook in its initramfs)\n");
    fflush(stdout);
    sync();
    double t0 = khib_now();
    post_free_pages(&mb);
    if (mailbox_page_moved(&mb, err, sizeof err) != 0 || khib_kexec_reboot(err, sizeof err) != 0) {
        fprintf(stderr, "khib: %s\n", err);
    } else {
        struct khib_mailbox m;
        khib_mailbox_decode(mb.page, &m);
        rc = (m.nonce == mb.nonce) ? report(&m, khib_now() - t0) : 5;
        if (m.nonce != mb.nonce)
            fprintf(stderr, "khib: the mailbox was overwritten: cannot tell what happened\n");
        if (rc == 0 && m.status == KHIB_MBX_SAVED && retire_test_image(s, m.image_uuid) != 0)
            rc = 5;
    }
    /* Back: resumed (GRUB cleared next_entry at that boot unless it could
     * not), or not powered off at all (a test, a failure in B, a failed
     * jump).  Either way the next boot must be the normal one. */
    if (boot_disarm(&boot_paths_system, &plan, err, sizeof err) != 0)
        fprintf(stderr, "khib: warning: %s\n", err);
out_unload:
    if (khib_kexec_unload(err, sizeof err) != 0)
        fprintf(stderr, "khib: warning: %s\n", err);
out_initrd:
    unlink(initrd);
out:
    free(hdr);
    free(extents);
    mailbox_page_close(&mb);
    return rc;
}
