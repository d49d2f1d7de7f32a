#define _GNU_SOURCE
#include "bootentry.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bootargs.h"
#include "run.h"

const struct boot_paths boot_paths_system = {
    .grub_cfg = "/boot/grub/grub.cfg",
    .grubenv = "/boot/grub/grubenv",
    .grub_d_script = "/etc/grub.d/45_khib",
    .editenv = "/usr/bin/grub-editenv",
    .probe = "/usr/sbin/grub-probe",
    .checkpoint = 1,
    .stamps = "/var/lib/khib/initramfs",
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 65536, used = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (used + 1 == cap) {
            char *bigger = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[used] = 0;
    return buf;
}

/* The linux line of the menuentry whose id is 'id' in cfg, into out. */
static int entry_linux_line(const char *cfg, const char *id, char *out, size_t len)
{
    char quoted[160];
    snprintf(quoted, sizeof quoted, "'%s'", id);
    for (const char *line = cfg; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *end = strchr(line, '\n');
        size_t l = end ? (size_t)(end - line) : strlen(line);
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "menuentry ", 10) || !memmem(line, l, quoted, strlen(quoted)))
            continue;
        /* The entry's body, to its closing brace alone on a line. */
        for (line = end ? end + 1 : NULL; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            end = strchr(line, '\n');
            l = end ? (size_t)(end - line) : strlen(line);
            p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '}')
                return -1;
            if (!strncmp(p, "linux", 5) && (p[5] == ' ' || p[5] == '\t')) {
                size_t n = l - (size_t)(p - line);
                snprintf(out, len, "%.*s", (int)n, p);
                return 0;
            }
        }
        return -1;
    }
    return -1;
}

/* The first word of want missing from line's words, or NULL. */
static const char *missing_word(const char *line, const char *want, char *word, size_t wordlen)
{
    const char *w = want;
    while (*w) {
        while (*w == ' ')
            w++;
        size_t n = strcspn(w, " ");
        if (!n)
            break;
        snprintf(word, wordlen, "%.*s", (int)n, w);
        int found = 0;
        for (const char *p = line; (p = strstr(p, word)); p++)
            if ((p == line || strchr(" \t\n", p[-1])) && (p[n] == 0 || strchr(" \t\n", p[n]))) {
                found = 1;
                break;
            }
        if (!found)
            return word;
        w += n;
    }
    return NULL;
}

static void dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash && slash != out)
        *slash = 0;
}

/* 0 when GRUB can write its environment block, else -1 with what/fix. */
static int grubenv_writable(const struct boot_paths *p, struct boot_plan *plan)
{
    char dir[512], abstraction[256], fs[64];
    dir_of(p->grubenv, dir, sizeof dir);
    char *a[] = {(char *)p->probe, "--target=abstraction", dir, NULL};
    char *f[] = {(char *)p->probe, "--target=fs", dir, NULL};
    if (run_program(a, abstraction, sizeof abstraction) != 0 || run_program(f, fs, sizeof fs) != 0) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: cannot tell whether GRUB can clear its one-shot entry in %s: %s failed", p->grubenv,
                 p->probe);
        snprintf(plan->fix, sizeof plan->fix,
                 "run '%.120s --target=fs %.200s' to see why, or set boot=none in " KHIB_CONF, p->probe, dir);
        return -1;
    }
    fs[strcspn(fs, "\n")] = 0;
    static const char *const bad_abstractions[] = {"lvm", "diskfilter", "cryptodisk"};
    static const char *const bad_fs[] = {"btrfs", "zfs", "cpiofs", "newc", "odc", "romfs", "squash4", "tarfs"};
    const char *why = NULL;
    for (size_t i = 0; i < sizeof bad_abstractions / sizeof *bad_abstractions && !why; i++) {
        char word[64];
        if (!missing_word(abstraction, bad_abstractions[i], word, sizeof word))
            why = bad_abstractions[i];
    }
    for (size_t i = 0; i < sizeof bad_fs / sizeof *bad_fs && !why; i++)
        if (!strcmp(fs, bad_fs[i]))
            why = bad_fs[i];
    if (why) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: GRUB cannot write its environment block %s on %s: it could not clear the one-shot"
                 " restore entry, and every boot would start it",
                 p->grubenv, why);
        snprintf(plan->fix, sizeof plan->fix,
                 "keep /boot/grub on a plain partition with ext2/3/4, xfs or vfat, or set boot=none in " KHIB_CONF
                 " and start the restore entry yourself (docs/grub.md)");
        return -1;
    }
    snprintf(plan->fix, sizeof plan->fix, "%s", fs); /* for the PASS line */
    return 0;
}

/* The value of key= in a build hook's record ("generator=...\ntarget=...\n"). */
static void stamp_value(const char *text, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    out[0] = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, key, k) && line[k] == '=')
            snprintf(out, len, "%.*s", (int)strcspn(line + k + 1, "\n"), line + k + 1);
}

/* The ordinary boot entry resumes: the initramfs of release has khib's hook
 * (its build hook's record says so) for the settings' target.  1 when it
 * does (plan filled in: PASS), 0 when there is no record, -1 when the record
 * is out of date (plan says why: FAIL). */
static int initramfs_plan(const struct boot_paths *p, const struct settings *s, const char *release,
                          struct boot_plan *plan)
{
    char path[512], target[256], generator[64];
    if (!p->stamps)
        return 0;
    snprintf(path, sizeof path, "%s/%s", p->stamps, release);
    char *text = read_file(path);
    if (!text)
        return 0;
    stamp_value(text, "target", target, sizeof target);
    stamp_value(text, "generator", generator, sizeof generator);
    /* An image file: the hook finds it by device and offset, as they were
     * at the build (target_file.h). */
    char device[128], offset[32], now[32] = "";
    stamp_value(text, "target-device", device, sizeof device);
    stamp_value(text, "target-offset", offset, sizeof offset);
    if (s->target_offset)
        snprintf(now, sizeof now, "%llu", (unsigned long long)s->target_offset);
    free(text);
    if (!strcmp(target, s->target) && (strcmp(offset, now) || (now[0] && strcmp(device, s->target_device)))) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: the initramfs of %s was built for the image file at byte %s of %s, but it is now at"
                 " byte %s of %s (it moved): its hook would not find the image", release, offset[0] ? offset : "-",
                 device[0] ? device : "-", now[0] ? now : "-", s->target_device[0] ? s->target_device : "-");
        snprintf(plan->fix, sizeof plan->fix,
                 "rebuild the initramfs: update-initramfs -u, dracut -f or mkinitcpio -P");
        return -1;
    }
    if (strcmp(target, s->target)) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: the initramfs of %s was built for target=%s, not %s: its hook would not find the image",
                 release, target, s->target[0] ? s->target : "(none)");
        snprintf(plan->fix, sizeof plan->fix,
                 "rebuild the initramfs after changing " KHIB_CONF ": update-initramfs -u, dracut -f or mkinitcpio -P");
        return -1;
    }
    snprintf(plan->what, sizeof plan->what,
             "boot entry: none needed: the ordinary boot entry resumes (khib's hook in the initramfs of %s, built"
             " by %s for target=%s)",
             release, generator[0] ? generator : "?", target);
    plan->initramfs = 1;
    return 1;
}

int boot_plan(const struct boot_paths *p, const struct settings *s, const char *release, struct boot_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    snprintf(plan->entry, sizeof plan->entry, "khib-resume-%s", release);
    if (s->boot == BOOT_INITRAMFS || s->boot == BOOT_AUTO) {
        int rc = initramfs_plan(p, s, release, plan);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        if (s->boot == BOOT_INITRAMFS) {
            snprintf(plan->what, sizeof plan->what,
                     "boot entry: boot=initramfs, but the initramfs of %s has no khib hook (no record in %s)", release,
                     p->stamps ? p->stamps : "?");
            snprintf(plan->fix, sizeof plan->fix,
                     "install khib's initramfs hooks (the Debian package has them), set target= in " KHIB_CONF
                     ", then update-initramfs -u, dracut -f or mkinitcpio -P (docs/hooks.md)");
            return -1;
        }
    }
    if (s->boot == BOOT_NONE) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: none set by khib (boot=none): start the restore entry yourself at the next boot");
        return 0;
    }
    char *cfg = read_file(p->grub_cfg);
    if (s->boot == BOOT_AUTO && (!cfg || (!strstr(cfg, "'khib-resume-") && access(p->grub_d_script, X_OK) != 0))) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: none set by khib (%s %s): start the restore entry yourself at the next boot, or set"
                 " boot=grub",
                 p->grub_cfg, cfg ? "has no khib entry and khib's grub.d script is not installed" : "is missing");
        free(cfg);
        return 0;
    }
    if (!cfg) {
        snprintf(plan->what, sizeof plan->what, "boot entry: boot=grub, but %s cannot be read: %s", p->grub_cfg,
                 strerror(errno));
        snprintf(plan->fix, sizeof plan->fix, "install GRUB and run update-grub, or set boot=none in " KHIB_CONF);
        return -1;
    }
    char line[2048], want[1024], err[256], word[256];
    int rc = entry_linux_line(cfg, plan->entry, line, sizeof line);
    free(cfg);
    if (rc != 0) {
        snprintf(plan->what, sizeof plan->what, "boot entry: %s has no restore entry %s for this kernel", p->grub_cfg,
                 plan->entry);
        snprintf(plan->fix, sizeof plan->fix,
                 "run update-grub: khib's %s writes one for each kernel whose /boot/config-VERSION has"
                 " CONFIG_KEXEC_JUMP=y, once target= is set (docs/grub.md)",
                 p->grub_d_script);
        return -1;
    }
    if (restore_words(s, want, sizeof want, err, sizeof err) != 0) {
        snprintf(plan->what, sizeof plan->what, "boot entry: %s", err);
        snprintf(plan->fix, sizeof plan->fix, "set target= in " KHIB_CONF ", then run update-grub");
        return -1;
    }
    if (missing_word(line, want, word, sizeof word)) {
        snprintf(plan->what, sizeof plan->what,
                 "boot entry: the restore entry %s in %s is out of date: its command line lacks '%s'", plan->entry,
                 p->grub_cfg, word);
        snprintf(plan->fix, sizeof plan->fix,
                 "run update-grub (target=, window= or restore-append= of " KHIB_CONF " changed since)");
        return -1;
    }
    if (grubenv_writable(p, plan) != 0)
        return -1;
    char fs[sizeof plan->fix];
    snprintf(fs, sizeof fs, "%s", plan->fix);
    plan->fix[0] = 0;
    plan->grub = 1;
    snprintf(plan->what, sizeof plan->what,
             "boot entry: GRUB starts %s once at the next boot (set just before the jump in %s, on %s)", plan->entry,
             p->grubenv, fs);
    return 0;
}

static int editenv(const struct boot_paths *p, const char *op, const char *arg, char *out, size_t outlen)
{
    char *argv[] = {(char *)p->editenv, (char *)p->grubenv, (char *)op, (char *)arg, NULL};
    return run_program(argv, out, outlen);
}

/* The value of next_entry in grubenv into val ("" when unset); -1 when it
 * cannot be listed. */
static int next_entry(const struct boot_paths *p, char *val, size_t len)
{
    char list[2048];
    if (editenv(p, "list", NULL, list, sizeof list) != 0)
        return -1;
    val[0] = 0;
    for (char *line = list; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, "next_entry=", 11)) {
            snprintf(val, len, "%.*s", (int)strcspn(line + 11, "\n"), line + 11);
            break;
        }
    return 0;
}

/* GRUB reads grubenv through its own file system drivers, which do not
 * replay a journal (grub-core/fs/ext2.c reads inodes and extents from their
 * home blocks).  grub-editenv rewrites the file; on ext4 the new inode and
 * extents are in the journal after fsync, and reach their home blocks only
 * at a checkpoint.  A hibernation powers off without one (the file system
 * stays mounted in the saved system), so GRUB would see the old grubenv:
 * without next_entry (the boot goes to the normal entry and retires the
 * image), or, after boot_disarm, with it, and GRUB's own save_env would
 * then write into a block that may no longer be grubenv's.  Freezing the
 * file system writes the journal home (fs/super.c freeze_super(), then
 * ext4_freeze() flushes the journal: jbd2_journal_flush(), fs/ext4/super.c;
 * xfs_fs_freeze() covers the log the same way); the thaw follows at once.
 * A file system that cannot freeze (EOPNOTSUPP: vfat, which has no
 * journal) needs only the syncfs(). */
static int boot_checkpoint(const struct boot_paths *p, char *err, size_t errlen)
{
    if (!p->checkpoint)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", p->grubenv);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (syncfs(fd) != 0) {
        snprintf(err, errlen, "syncfs of %s: %s", dir, strerror(errno));
        rc = -1;
    } else if (ioctl(fd, FIFREEZE, 0) == 0) {
        if (ioctl(fd, FITHAW, 0) != 0) {
            snprintf(err, errlen, "cannot thaw the file system of %s (FITHAW: %s): run 'fsfreeze -u' on it", dir,
                     strerror(errno));
            rc = -1;
        }
    } else if (errno != EOPNOTSUPP) {
        snprintf(err, errlen,
                 "cannot write the journal of %s's file system home (FIFREEZE: %s): GRUB would not see the change",
                 dir, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

int boot_arm(const struct boot_paths *p, const struct boot_plan *plan, char *err, size_t errlen)
{
    if (!plan->grub)
        return 0;
    char set[200], now[200];
    snprintf(set, sizeof set, "next_entry=%s", plan->entry);
    if (editenv(p, "set", set, NULL, 0) != 0 || next_entry(p, now, sizeof now) != 0 || strcmp(now, plan->entry)) {
        snprintf(err, errlen, "cannot set GRUB's next boot to %s (%s %s set %s failed or did not hold)", plan->entry,
                 p->editenv, p->grubenv, set);
        return -1;
    }
    return boot_checkpoint(p, err, errlen);
}

int boot_disarm(const struct boot_paths *p, const struct boot_plan *plan, char *err, size_t errlen)
{
    if (!plan->grub)
        return 0;
    char now[200];
    if (next_entry(p, now, sizeof now) != 0) {
        snprintf(err, errlen, "cannot read GRUB's environment %s (%s list failed)", p->grubenv, p->editenv);
        return -1;
    }
    if (strcmp(now, plan->entry))
        return 0;
    if (editenv(p, "unset", "next_entry", NULL, 0) != 0) {
        snprintf(err, errlen, "cannot clear GRUB's one-shot entry %s: run '%s %s unset next_entry'", plan->entry,
                 p->editenv, p->grubenv);
        return -1;
    }
    return boot_checkpoint(p, err, errlen);
}
