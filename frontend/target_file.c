#define _GNU_SOURCE
#include "target_file.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "handoff.h"
#include "progress.h"
#include "xxhash64.h"

/* statfs f_type values (include/uapi/linux/magic.h). */
#define EXT4_MAGIC  0xEF53
#define XFS_MAGIC   0x58465342
#define BTRFS_MAGIC 0x9123683E

/* The extents FIEMAP is asked for at a time. */
#define FIEMAP_BATCH 256u
/* setup-target writes the file in blocks of this size. */
#define ZERO_BLOCK (4u << 20)

int target_is_file(const struct settings *s)
{
    return s->target_offset != 0;
}

const char *image_location(const struct settings *s, uint64_t *offset)
{
    *offset = target_is_file(s) ? s->target_offset : 0;
    return target_is_file(s) ? s->target_device : s->target;
}

static int read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
    return 0;
}

/* /dev/NAME and the size of the block device st_dev, from sysfs. */
static int device_of(dev_t d, struct file_target *ft, char *err, size_t errlen)
{
    char path[128], text[1024];
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/uevent", major(d), minor(d));
    const char *name = NULL;
    if (read_text(path, text, sizeof text) == 0)
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            if (!strncmp(line, "DEVNAME=", 8))
                name = line + 8;
    if (!name) {
        snprintf(err, errlen, "its file system is not on a block device (device %u:%u has no %s)", major(d),
                 minor(d), path);
        return -1;
    }
    if (!strncmp(name, "dm-", 3) || !strncmp(name, "loop", 4) || !strncmp(name, "md", 2)) {
        snprintf(err, errlen, "its file system is on %s, which the transient kernel cannot open (device-mapper,"
                 " loop and md are set up by the running system only)", name);
        return -1;
    }
    snprintf(ft->dev, sizeof ft->dev, "/dev/%s", name);
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/size", major(d), minor(d));
    unsigned long long sectors = 0;
    if (read_text(path, text, sizeof text) != 0 || sscanf(text, "%llu", &sectors) != 1 || sectors == 0) {
        snprintf(err, errlen, "cannot read the size of %s (%s)", ft->dev, path);
        return -1;
    }
    ft->dev_bytes = (uint64_t)sectors * 512u;
    return 0;
}

/* The file system's mount of device d has data=journal: ext4 would write
 * the file's blocks through its journal, and could write old copies of
 * them back after the transient kernel wrote the image. */
static int data_journal(dev_t d)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char line[4096], want[32];
    snprintf(want, sizeof want, " %u:%u ", major(d), minor(d));
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *sep = strstr(line, " - ");
        found = strstr(line, want) && sep && strstr(line, want) < sep && strstr(sep, "data=journal");
    }
    fclose(f);
    return found;
}

static int file_flags_ok(int fd, const char *fstype, char *err, size_t errlen, char *fix, size_t fixlen)
{
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        snprintf(err, errlen, "cannot read its inode flags: %s", strerror(errno));
        snprintf(fix, fixlen, "check the file system");
        return -1;
    }
    static const struct {
        int flag;
        const char *why;
    } refused[] = {
        {FS_JOURNAL_DATA_FL, "its data is journalled (chattr +j): the journal could write old blocks back"},
        {FS_COMPR_FL, "it is compressed"},
        {FS_ENCRYPT_FL, "it is encrypted by the file system"},
        {FS_INLINE_DATA_FL, "its data lies inside its inode"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (flags & refused[i].flag) {
            snprintf(err, errlen, "%s", refused[i].why);
            snprintf(fix, fixlen, "create the image file anew with khib setup-target on a plain ext4 or xfs");
            return -1;
        }
    /* Immutable: nothing can truncate, punch, move (e4defrag, xfs_fsr) or
     * write it between this check and the jump, when the freed blocks
     * could go to another file that the transient kernel then overwrites. */
    if (!(flags & FS_IMMUTABLE_FL)) {
        snprintf(err, errlen, "it is not immutable: its blocks could be freed or moved before the jump");
        snprintf(fix, fixlen, "run khib setup-target again (it makes the file immutable, chattr +i), and"
                 " rebuild the initramfs if it moved");
        return -1;
    }
    if (!strcmp(fstype, "xfs")) {
        struct fsxattr fx;
        if (ioctl(fd, FS_IOC_FSGETXATTR, &fx) != 0) {
            snprintf(err, errlen, "cannot read its xfs attributes: %s", strerror(errno));
            snprintf(fix, fixlen, "check the file system");
            return -1;
        }
        if (fx.fsx_xflags & FS_XFLAG_REALTIME) {
            snprintf(err, errlen, "it is an xfs realtime file, whose blocks lie on the realtime device");
            snprintf(fix, fixlen, "create the image file in a directory without the realtime flag");
            return -1;
        }
    }
    return 0;
}

/* FIEMAP of fd's [0, bytes), merged into runs, each extent's flags checked. */
static int read_extents(int fd, uint64_t bytes, struct khib_extmap *m, char *err, size_t errlen)
{
    struct fiemap *fm = calloc(1, sizeof *fm + FIEMAP_BATCH * sizeof(struct fiemap_extent));
    uint32_t cap = 64;
    m->count = 0;
    m->e = malloc(cap * sizeof *m->e);
    if (!fm || !m->e) {
        free(fm);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t start = 0;
    int last = 0, rc = 0;
    while (!last && start < bytes && rc == 0) {
        memset(fm, 0, sizeof *fm);
        fm->fm_start = start;
        fm->fm_length = bytes - start;
        fm->fm_flags = FIEMAP_FLAG_SYNC;
        fm->fm_extent_count = FIEMAP_BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
            snprintf(err, errlen, "FIEMAP failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (fm->fm_mapped_extents == 0)
            break;
        for (uint32_t i = 0; i < fm->fm_mapped_extents && rc == 0; i++) {
            const struct fiemap_extent *x = &fm->fm_extents[i];
            char why[200];
            last = !!(x->fe_flags & FIEMAP_EXTENT_LAST);
            start = x->fe_logical + x->fe_length;
            if (x->fe_logical >= bytes)
                break;
            if (khib_fiemap_flags_check(x->fe_flags, 0, why, sizeof why) != 0) {
                snprintf(err, errlen, "its extent at file byte %llu (%llu bytes) cannot be written raw: %s",
                         (unsigned long long)x->fe_logical, (unsigned long long)x->fe_length, why);
                rc = -1;
                break;
            }
            uint64_t len = x->fe_length < bytes - x->fe_logical ? x->fe_length : bytes - x->fe_logical;
            struct khib_extent *p = m->count ? &m->e[m->count - 1] : NULL;
            if (p && p->logical + p->length == x->fe_logical && p->physical + p->length == x->fe_physical) {
                p->length += len;
                continue;
            }
            if (m->count == cap) {
                struct khib_extent *n = cap < KHIB_EXTMAP_MAX * 2u ? realloc(m->e, 2 * cap * sizeof *n) : NULL;
                if (!n) {
                    snprintf(err, errlen, "it has more than %" PRIu32 " extents", cap);
                    rc = -1;
                    break;
                }
                m->e = n;
                cap *= 2;
            }
            m->e[m->count++] = (struct khib_extent){x->fe_logical, x->fe_physical, len};
        }
    }
    free(fm);
    if (rc != 0)
        khib_extmap_free(m);
    return rc;
}

int file_target_read(const char *path, struct file_target *ft, char *err, size_t errlen, char *fix, size_t fixlen)
{
    memset(ft, 0, sizeof *ft);
    snprintf(fix, fixlen, "create it with khib setup-target --file %s --size SIZE", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "image file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    struct statfs sf;
    char why[400];
    int rc = -1;
    if (fstat(fd, &st) != 0 || fstatfs(fd, &sf) != 0) {
        snprintf(err, errlen, "image file %s: cannot stat it: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % 4096) {
        snprintf(err, errlen, "image file %s is not a regular file of whole 4 KiB blocks", path);
        goto out;
    }
    ft->file_bytes = (uint64_t)st.st_size;
    if ((uint32_t)sf.f_type == BTRFS_MAGIC) {
        snprintf(err, errlen, "image file %s is on btrfs, which khib refuses: FIEMAP gives btrfs's logical"
                 " addresses, not device bytes, and a balance may move the blocks at any time; the kernel maps"
                 " and pins them only for an active swap file (btrfs_swap_activate(), fs/btrfs/inode.c)", path);
        snprintf(fix, fixlen, "put the image file on ext4 or xfs, or use a partition (docs/file-target.md)");
        goto out;
    }
    if ((uint32_t)sf.f_type != EXT4_MAGIC && (uint32_t)sf.f_type != XFS_MAGIC) {
        snprintf(err, errlen, "image file %s is on a file system of type 0x%lx: khib writes image files only on"
                 " ext2/3/4 and xfs", path, (unsigned long)sf.f_type);
        snprintf(fix, fixlen, "put the image file on ext4 or xfs, or use a partition (docs/file-target.md)");
        goto out;
    }
    snprintf(ft->fstype, sizeof ft->fstype, "%s", (uint32_t)sf.f_type == XFS_MAGIC ? "xfs" : "ext4");
    if (file_flags_ok(fd, ft->fstype, why, sizeof why, fix, fixlen) != 0) {
        snprintf(err, errlen, "image file %s: %s", path, why);
        goto out;
    }
    if (device_of(st.st_dev, ft, why, sizeof why) != 0) {
        snprintf(err, errlen, "image file %s: %s", path, why);
        snprintf(fix, fixlen, "put the image file on a file system on a plain disk or partition");
        goto out;
    }
    if (data_journal(st.st_dev)) {
        snprintf(err, errlen, "image file %s is on a file system mounted with data=journal: its journal could"
                 " write old copies of the file's blocks over the image", path);
        snprintf(fix, fixlen, "mount it with data=ordered, or put the image file elsewhere");
        goto out;
    }
    if (read_extents(fd, ft->file_bytes, &ft->map, why, sizeof why) == 0 &&
        khib_extmap_check(&ft->map, ft->dev_bytes, khib_extmap_data_offset(ft->map.count), why, sizeof why) == 0) {
        if (khib_extmap_total(&ft->map) == ft->file_bytes) {
            rc = 0;
            goto out;
        }
        snprintf(why, sizeof why,
                 "its extents cover the first %" PRIu64 " of its %" PRIu64
                 " bytes, the rest is a hole (it was extended since khib setup-target)",
                 khib_extmap_total(&ft->map), ft->file_bytes);
    }
    snprintf(err, errlen, "image file %s cannot hold an image: %s", path, why);
    snprintf(fix, fixlen, "remove it (chattr -i %s; rm %s) and create it again with khib setup-target", path, path);
    khib_extmap_free(&ft->map);
out:
    close(fd);
    return rc;
}

int file_target_current(const struct settings *s, struct file_target *ft, char *err, size_t errlen, char *fix,
                        size_t fixlen)
{
    if (file_target_read(s->target, ft, err, errlen, fix, fixlen) != 0)
        return -1;
    if (s->target_size && ft->file_bytes != s->target_size) {
        snprintf(err, errlen, "image file %s holds %" PRIu64 " bytes, but khib setup-target made it %" PRIu64
                 " (it was truncated or extended since)", s->target, ft->file_bytes, s->target_size);
        snprintf(fix, fixlen, "remove it (chattr -i %s; rm %s), run khib setup-target again, then rebuild the"
                 " initramfs", s->target, s->target);
        khib_extmap_free(&ft->map);
        return -1;
    }
    if (strcmp(ft->dev, s->target_device) || ft->map.e[0].physical != s->target_offset) {
        snprintf(err, errlen, "image file %s moved: its first block is at byte %" PRIu64 " of %s, but " KHIB_CONF
                 " (and the initramfs built from it) says byte %" PRIu64 " of %s", s->target, ft->map.e[0].physical,
                 ft->dev, s->target_offset, s->target_device[0] ? s->target_device : "(no target-device=)");
        snprintf(fix, fixlen, "run khib setup-target --file %s again (it records the new place), then rebuild"
                 " the initramfs: update-initramfs -u, dracut -f or mkinitcpio -P", s->target);
        khib_extmap_free(&ft->map);
        return -1;
    }
    return 0;
}

int file_target_handoff(const struct settings *s, struct khib_note *note, void **extents, size_t *len, char *err,
                        size_t errlen)
{
    struct file_target ft;
    char why[700], fix[400];
    if (file_target_current(s, &ft, why, sizeof why, fix, sizeof fix) != 0) {
        snprintf(err, errlen, "%s (fix: %s)", why, fix);
        return -1;
    }
    int found = 0;
    for (uint32_t i = 0; i < note->fs_count && !found; i++)
        found = !strcmp(note->fs[i].dev, ft.dev + 5) && !(note->fs[i].flags & KHIB_FSREC_RDONLY);
    int rc = -1;
    *len = khib_extmap_bytes(ft.map.count);
    if (!found) {
        snprintf(err, errlen, "the file system holding the image file %s (on %s) is not recorded at the hibernation"
                 " (ignored by ignore-fs=, or read-only): the transient kernel writes only into a file system it"
                 " recorded (fix: remove it from ignore-fs=, mount it read-write)", s->target, ft.dev);
    } else if (!(*extents = malloc(*len))) {
        snprintf(err, errlen, "out of memory for the extent map");
    } else {
        khib_extmap_encode(&ft.map, *extents);
        snprintf(note->target, sizeof note->target, "%s", ft.dev);
        note->file_base = ft.map.e[0].physical;
        note->extent_count = ft.map.count;
        note->extmap_checksum = khib_hash64(*extents, *len, 0);
        rc = 0;
    }
    khib_extmap_free(&ft.map);
    return rc;
}

/* --- khib setup-target --------------------------------------------------- */

static void setup_usage(FILE *out)
{
    fprintf(out,
            "Usage: khib setup-target --file PATH --size SIZE [--config FILE]\n"
            "Create PATH, a file of SIZE (e.g. 4G) on ext4 or xfs, to hold the hibernation image\n"
            "instead of a partition: allocated and written whole (no holes, no unwritten\n"
            "extents), made immutable (chattr +i), its extents checked (FIEMAP); then target=,\n"
            "target-device= and target-offset= (the device byte of its first block) go into\n"
            KHIB_CONF ". Rebuild the initramfs afterwards (update-initramfs -u, dracut -f,\n"
            "mkinitcpio -P): its hook finds the image by device and offset.\n"
            "Run it again on the same PATH and SIZE after the file moved: it records the new place.\n"
            "Exit status: 0 done, 1 bad usage, 3 refused (nothing created), 4 failed.\n"
            "See docs/file-target.md.\n");
}

/* Replace target=, target-device= and target-offset= of conf (kept
 * otherwise line for line), through a temporary file and rename. */
static int update_conf(const char *conf, const char *path, const struct file_target *ft, char *err, size_t errlen)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.khib-new", conf);
    FILE *in = fopen(conf, "re");
    if (!in && errno != ENOENT) {
        snprintf(err, errlen, "cannot read %s: %s", conf, strerror(errno));
        return -1;
    }
    FILE *out = fopen(tmp, "we");
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (in)
            fclose(in);
        return -1;
    }
    char line[4096];
    while (in && fgets(line, sizeof line, in)) {
        const char *k = line + strspn(line, " \t");
        size_t klen = strcspn(k, " \t=");
        int ours = (klen == 6 && !strncmp(k, "target", 6)) || (klen == 13 && !strncmp(k, "target-device", 13)) ||
                   (klen == 13 && !strncmp(k, "target-offset", 13)) || (klen == 11 && !strncmp(k, "target-size", 11));
        if (!ours)
            fputs(line, out);
    }
    fprintf(out, "# the image file (khib setup-target): rebuild the initramfs after a change\n"
            "target=%s\ntarget-device=%s\ntarget-offset=%" PRIu64 "\ntarget-size=%" PRIu64 "\n", path, ft->dev,
            ft->map.e[0].physical, ft->file_bytes);
    int bad = in ? ferror(in) : 0;
    if (in)
        fclose(in);
    if (bad || fflush(out) != 0 || fsync(fileno(out)) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        fclose(out);
        unlink(tmp);
        return -1;
    }
    fclose(out);
    if (rename(tmp, conf) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", conf, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The file of size bytes: allocated, written with zeros (its extents
 * written, not merely allocated: docs/file-target.md), synced, immutable. */
static int create_file(const char *path, uint64_t size, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *zero = calloc(1, ZERO_BLOCK);
    int rc = -1;
    int e = fallocate(fd, 0, 0, (off_t)size);
    if (e != 0)
        snprintf(err, errlen, "cannot allocate %s: %s", path, strerror(errno));
    else if (!zero)
        snprintf(err, errlen, "out of memory");
    else {
        uint64_t off = 0;
        while (off < size) {
            size_t n = size - off < ZERO_BLOCK ? (size_t)(size - off) : ZERO_BLOCK;
            ssize_t w = pwrite(fd, zero, n, (off_t)off);
            if (w <= 0) {
                snprintf(err, errlen, "cannot write %s at byte %" PRIu64 ": %s", path, off,
                         w < 0 ? strerror(errno) : "short write");
                break;
            }
            off += (uint64_t)w;
        }
        int flags = 0;
        if (off < size)
            ;
        else if (fsync(fd) != 0)
            snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        else if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0 ||
                 (flags |= FS_IMMUTABLE_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0))
            snprintf(err, errlen, "cannot make %s immutable (chattr +i): %s", path, strerror(errno));
        else
            rc = 0;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    free(zero);
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

/* A file refused: the immutable flag setup-target set taken off again. */
static void set_mutable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), flags = 0;
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
            fprintf(stderr, "khib setup-target: cannot clear the immutable flag of %s: %s\n", path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
}

/* A file setup-target made that cannot serve: gone again. */
static void remove_created(const char *path)
{
    if (unlink(path) == 0)
        fprintf(stderr, "khib setup-target: removed %s again\n", path);
    else
        fprintf(stderr, "khib setup-target: cannot remove %s: %s (chattr -i %s; rm %s)\n", path, strerror(errno),
                path, path);
}

int setup_target_main(int argc, char **argv)
{
    static const struct option opts[] = {{"file", required_argument, 0, 'f'}, {"size", required_argument, 0, 's'},
                                         {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *conf = KHIB_CONF, *size_text = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': path = optarg; break;
        case 's': size_text = optarg; break;
        case 'c': conf = optarg; break;
        case 'h': setup_usage(stdout); return 0;
        default: setup_usage(stderr); return 1;
        }
    }
    uint64_t size = 0;
    if (!path || !size_text || optind < argc || path[0] != '/') {
        fprintf(stderr, "khib setup-target: --file PATH (absolute) and --size SIZE are required\n");
        setup_usage(stderr);
        return 1;
    }
    if (parse_size(size_text, &size) != 0 || size < (64ULL << 20) || size % (1ULL << 20)) {
        fprintf(stderr, "khib setup-target: --size: '%s' is not a size of at least 64M in whole MiB (e.g. 4G)\n",
                size_text);
        return 1;
    }
    char err[700], fix[400];
    struct stat st;
    int created = 0, was_mutable = 0;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
            fprintf(stderr, "khib setup-target: %s exists and is not a file of %s bytes: not touching it\n"
                    "  fix: choose another path, or remove it first (chattr -i %s; rm %s)\n", path, size_text, path,
                    path);
            return 3;
        }
        printf("khib: %s exists with that size: making it immutable and reading its layout again\n", path);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), flags = 0;
        if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
            was_mutable = !(flags & FS_IMMUTABLE_FL);
        if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0 ||
            (flags |= FS_IMMUTABLE_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)) {
            fprintf(stderr, "khib setup-target: cannot make %s immutable (chattr +i): %s\n", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return 4;
        }
        close(fd);
    } else {
        char dir[512];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        struct statfs sf;
        if (statfs(dir[0] ? dir : "/", &sf) != 0) {
            fprintf(stderr, "khib setup-target: %s: %s\n", dir[0] ? dir : "/", strerror(errno));
            return 3;
        }
        if ((uint32_t)sf.f_type != EXT4_MAGIC && (uint32_t)sf.f_type != XFS_MAGIC) {
            fprintf(stderr, "khib setup-target: %s is not on ext2/3/4 or xfs%s: refused, nothing created\n"
                    "  fix: put the image file on ext4 or xfs, or use a partition (docs/file-target.md)\n", path,
                    (uint32_t)sf.f_type == BTRFS_MAGIC
                        ? " but on btrfs, whose FIEMAP gives logical addresses that a balance may move (the kernel"
                          " maps and pins them for an active swap file only: btrfs_swap_activate(),"
                          " fs/btrfs/inode.c)"
                        : "");
            return 3;
        }
        double t0 = khib_now();
        if (create_file(path, size, err, sizeof err) != 0) {
            fprintf(stderr, "khib setup-target: %s; nothing left behind\n", err);
            return 4;
        }
        printf("khib: created %s: %s, allocated and written (%.1f s), immutable\n", path, size_text,
               khib_now() - t0);
        created = 1;
    }
    struct file_target ft;
    if (file_target_read(path, &ft, err, sizeof err, fix, sizeof fix) != 0) {
        fprintf(stderr, "khib setup-target: %s\n  fix: %s\n", err, fix);
        if (created || was_mutable)
            set_mutable(path);
        if (created)
            remove_created(path);
        return 3;
    }
    int rc = update_conf(conf, path, &ft, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "khib setup-target: %s\n", err);
    else
        printf("khib: %s on %s (%s): %" PRIu32 " extents, first block at byte %" PRIu64 "; %s now has target=%s"
               " target-device=%s target-offset=%" PRIu64 "\n"
               "khib: rebuild the initramfs now (update-initramfs -u, dracut -f or mkinitcpio -P): its hook finds"
               " the image by that device and offset\n",
               path, ft.fstype, ft.dev, ft.map.count, ft.map.e[0].physical, conf, path, ft.dev,
               ft.map.e[0].physical);
    khib_extmap_free(&ft.map);
    return rc ? 4 : 0;
}
