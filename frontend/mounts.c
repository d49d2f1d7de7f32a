#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsstate.h"
#include "sysfacts.h"

#define SEEN_MAX 256

/* One line of mountinfo (proc_pid_mountinfo(5)); strings unescaped. */
struct mount {
    unsigned major, minor;   /* st_dev of the file system: 0:N for btrfs and nodev types */
    char dir[512], type[64], source[512];
    int rdonly;              /* the file system (not just this mount) is read-only */
};

static int parse_line(char *line, struct mount *m)
{
    char opts[512];
    int n = 0;
    if (sscanf(line, "%*u %*u %u:%u %*s %511s %511s %n", &m->major, &m->minor, m->dir, opts, &n) != 4)
        return -1;
    char *sep = strstr(line + n, "- ");
    if (sep != line + n && (!sep || sep[-1] != ' '))
        return -1;
    char super[512];
    if (sscanf(sep + 2, "%63s %511s %511s", m->type, m->source, super) != 3)
        return -1;
    mount_unescape(m->dir);
    mount_unescape(m->source);
    m->rdonly = !strcmp(super, "ro") || !strncmp(super, "ro,", 3);
    return 0;
}

/* 1 when /proc/filesystems marks type "nodev" (no block device behind it), 0
 * when it lists it without, -1 when it does not list it.  A subtype
 * ("fuse.sshfs") counts as its type. */
static int nodev_type(const char *type)
{
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(type, "."), type);
    FILE *f = fopen("/proc/filesystems", "r");
    if (!f)
        return -1;
    char line[128], a[64], b[64];
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        int n = sscanf(line, "%63s %63s", a, b);
        if (n == 2 && !strcmp(a, "nodev") && !strcmp(b, base))
            rc = 1;
        else if (n == 1 && !strcmp(a, base))
            rc = 0;
    }
    fclose(f);
    return rc;
}

static int sys_exists(unsigned major, unsigned minor, const char *rel)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/%s", major, minor, rel);
    return access(path, F_OK) == 0;
}

/* The block device behind m: its number and kernel name.  Device numbers,
 * not names: a root mounted by the kernel itself is "/dev/root" in
 * /proc/mounts, a name no other kernel has. */
static int identify(const struct mount *m, unsigned *major, unsigned *minor, char *name, size_t len)
{
    *major = m->major;
    *minor = m->minor;
    struct stat st;
    if ((!*major || !sys_exists(*major, *minor, "")) && stat(m->source, &st) == 0 && S_ISBLK(st.st_mode)) {
        *major = major(st.st_rdev);   /* btrfs: an anonymous st_dev, the device in the source */
        *minor = minor(st.st_rdev);
    }
    if (!*major || !sys_exists(*major, *minor, ""))
        return -1;
    char link[128], target[512];
    snprintf(link, sizeof link, "/sys/dev/block/%u:%u", *major, *minor);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return -1;
    target[n] = 0;
    const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
    if (strlen(base) >= len)
        return -1;
    memcpy(name, base, strlen(base) + 1);
    return 0;
}

/* NULL when the transient kernel can open the device as this kernel does
 * (a disk or a partition of one), else what it is.  Device-mapper (LVM,
 * dm-crypt), md and loop devices exist only once this system has set them
 * up; the transient kernel sets up nothing. */
static const char *virtual_device(unsigned major, unsigned minor)
{
    const char *disk = sys_exists(major, minor, "partition") ? "../" : "";
    char rel[64];
    static const struct {
        const char *dir, *what;
    } kinds[] = {{"dm", "a device-mapper device (LVM, dm-crypt, ...)"},
                 {"md", "a software RAID (md) device"},
                 {"loop", "a loop device"}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        snprintf(rel, sizeof rel, "%s%s", disk, kinds[i].dir);
        if (sys_exists(major, minor, rel))
            return kinds[i].what;
    }
    snprintf(rel, sizeof rel, "%sdevice", disk);
    return sys_exists(major, minor, rel) ? NULL : "a virtual block device";
}

struct walk {
    const struct settings *s;
    struct khib_fs_record *recs;
    uint32_t *count;
    mounts_report_fn report;
    void *ctx;
    int failures;
};

static void say(struct walk *w, int ok, const char *fix, const char *what)
{
    w->report(w->ctx, ok, fix, what);
    w->failures += !ok;
}

static int ignored(const struct settings *s, const char *dir)
{
    for (unsigned i = 0; i < s->ignore_fs_count; i++)
        if (!strcmp(s->ignore_fs[i], dir))
            return 1;
    return 0;
}

/* Open /dev/name, check its kind, and fill rec; 0, or -1 with why. */
static int probe(const struct mount *m, const char *name, uint32_t kind, struct khib_fs_record *rec, char *why,
                 size_t len)
{
    char path[KHIB_FS_DEV_LEN + 8];
    snprintf(path, sizeof path, "/dev/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t bytes = 0;
    char w[300];
    int rc = ioctl(fd, BLKGETSIZE64, &bytes) == 0 ? khib_fs_probe(fd, kind, rec->uuid, rec->state, w, sizeof w) : -2;
    int saved = errno;
    close(fd);
    if (rc == -2)
        snprintf(why, len, "cannot get the size of %s: %s", path, strerror(saved));
    else if (rc != KHIB_FS_OK)
        snprintf(why, len, "%s: %s", path, w);
    if (rc != KHIB_FS_OK)
        return -1;
    memset(rec->state, 0, sizeof rec->state);   /* B takes the state */
    snprintf(rec->dev, sizeof rec->dev, "%.*s", (int)sizeof rec->dev - 1, name);
    snprintf(rec->mnt, sizeof rec->mnt, "%.*s", (int)sizeof rec->mnt - 1, m->dir);   /* cut: for messages */
    rec->kind = kind;
    rec->dev_bytes = bytes;
    rec->flags = m->rdonly ? KHIB_FSREC_RDONLY : 0;
    return 0;
}

static void one_mount(struct walk *w, const struct mount *m, unsigned major, unsigned minor, const char *name)
{
    char what[2400], fix[900], why[600];
    snprintf(fix, sizeof fix, "unmount it, mount it read-only, or add ignore-fs=%s to " KHIB_CONF " to accept the"
             " risk: if another system writes to it before the resume, the resumed system corrupts it", m->dir);
    if (ignored(w->s, m->dir)) {
        snprintf(what, sizeof what, "file system %s (%s on %s) is ignored (ignore-fs=%s): a change to it before the"
                 " resume would be corrupted by the resume", m->dir, m->type, name, m->dir);
        say(w, 1, NULL, what);
        return;
    }
    uint32_t kind = khib_fs_kind_of(m->type);
    const char *virt = virtual_device(major, minor);
    if (!kind || virt) {
        if (m->rdonly)
            snprintf(what, sizeof what, "file system %s (%s on %s) is mounted read-only: the resumed system does not"
                     " write to it", m->dir, m->type, name);
        else if (virt)
            snprintf(what, sizeof what, "file system %s (%s on %s): %s, which the transient kernel cannot open to"
                     " record the file system's state", m->dir, m->type, name, virt);
        else
            snprintf(what, sizeof what, "file system %s (%s on %s): khib has no check that shows whether %s was"
                     " mounted since the hibernation (docs/filesystems.md)", m->dir, m->type, name, m->type);
        say(w, m->rdonly, fix, what);
        return;
    }
    if (*w->count >= KHIB_FS_MAX) {
        snprintf(what, sizeof what, "file system %s (%s on %s): more than %u file systems to record", m->dir,
                 m->type, name, KHIB_FS_MAX);
        say(w, 0, fix, what);
        return;
    }
    struct khib_fs_record *rec = &w->recs[*w->count];
    memset(rec, 0, sizeof *rec);
    rec->major = major;
    rec->minor = minor;
    if (probe(m, name, kind, rec, why, sizeof why) != 0) {
        if (m->rdonly)
            snprintf(what, sizeof what, "file system %s (%s on %s) is mounted read-only: the resumed system does not"
                     " write to it (its state cannot be recorded: %s)", m->dir, m->type, name, why);
        else
            snprintf(what, sizeof what, "file system %s (%s on %s): %s", m->dir, m->type, name, why);
        say(w, m->rdonly, fix, what);
        return;
    }
    (*w->count)++;
    snprintf(what, sizeof what, "file system %s (%s on %s)%s: its state is recorded at the hibernation and checked"
             " before the resume", m->dir, m->type, name, m->rdonly ? ", read-only" : "");
    say(w, 1, NULL, what);
}

int mounts_collect(const struct settings *s, const char *mountinfo, struct khib_fs_record *recs, uint32_t *count,
                   mounts_report_fn report, void *ctx)
{
    struct walk w = {.s = s, .recs = recs, .count = count, .report = report, .ctx = ctx};
    *count = 0;
    FILE *f = fopen(mountinfo, "r");
    if (!f) {
        char what[600];
        snprintf(what, sizeof what, "cannot read %s: %s", mountinfo, strerror(errno));
        say(&w, 0, "mount /proc", what);
        return -1;
    }
    dev_t seen[SEEN_MAX];
    unsigned nseen = 0;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        struct mount m;
        char what[1200], name[KHIB_FS_DEV_LEN];
        unsigned major, minor;
        if (parse_line(line, &m) != 0) {
            snprintf(what, sizeof what, "cannot parse a line of %s: %.200s", mountinfo, line);
            say(&w, 0, "report this as a bug in khib", what);
            continue;
        }
        int nodev = nodev_type(m.type);
        if (nodev == 1 || (nodev < 0 && (!m.major || !sys_exists(m.major, m.minor, ""))))
            continue;   /* no block device behind it: proc, tmpfs, nfs, ... */
        if (identify(&m, &major, &minor, name, sizeof name) != 0) {
            snprintf(what, sizeof what, "file system %s (%s from %s): cannot tell which block device holds it"
                     " (device number %u:%u)", m.dir, m.type, m.source, m.major, m.minor);
            say(&w, m.rdonly, "unmount it, or mount it read-only", what);
            continue;
        }
        dev_t d = makedev(major, minor);
        int dup = 0;
        for (unsigned i = 0; i < nseen; i++)
            dup |= seen[i] == d;
        if (dup)
            continue;   /* a bind mount, a btrfs subvolume: the file system is handled once */
        if (nseen < SEEN_MAX)
            seen[nseen++] = d;
        one_mount(&w, &m, major, minor, name);
    }
    fclose(f);
    return w.failures;
}
