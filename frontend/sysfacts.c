#define _GNU_SOURCE
#include "sysfacts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

struct kconfig {
    char *text;
    char source[160];
};

static char *read_stream(FILE *f)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
        }
    }
    buf[len] = 0;
    return buf;
}

struct kconfig *kconfig_load(char *err, size_t errlen)
{
    struct kconfig *kc = calloc(1, sizeof *kc);
    if (!kc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (access("/proc/config.gz", R_OK) == 0) {
        FILE *p = popen("gzip -dc /proc/config.gz", "r");
        if (p) {
            kc->text = read_stream(p);
            if (pclose(p) != 0) {
                free(kc->text);
                kc->text = NULL;
            }
        }
        snprintf(kc->source, sizeof kc->source, "/proc/config.gz");
    }
    if (!kc->text) {
        struct utsname u;
        uname(&u);
        snprintf(kc->source, sizeof kc->source, "/boot/config-%s", u.release);
        FILE *f = fopen(kc->source, "r");
        if (f) {
            kc->text = read_stream(f);
            fclose(f);
        }
    }
    if (!kc->text) {
        snprintf(err, errlen, "cannot read the kernel's configuration from /proc/config.gz or %s "
                 "(build the kernel with CONFIG_IKCONFIG_PROC=y, or install its config file)", kc->source);
        free(kc);
        return NULL;
    }
    return kc;
}

const char *kconfig_get(const struct kconfig *kc, const char *option)
{
    static char value[128];
    size_t olen = strlen(option);
    for (const char *line = kc->text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, option, olen) == 0 && line[olen] == '=') {
            const char *v = line + olen + 1;
            size_t vlen = strcspn(v, "\n");
            if (vlen >= sizeof value)
                vlen = sizeof value - 1;
            memcpy(value, v, vlen);
            value[vlen] = 0;
            return value;
        }
    }
    return NULL;
}

const char *kconfig_source(const struct kconfig *kc) { return kc->source; }

void kconfig_free(struct kconfig *kc)
{
    if (kc)
        free(kc->text);
    free(kc);
}

/* Decode the octal escapes (\040) of /proc/self/mounts in place. */
void mount_unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

static int same_device(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return strcmp(a, b) == 0;
    if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
        return sa.st_rdev == sb.st_rdev;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int device_mount_point(const char *dev, char *where, size_t wherelen)
{
    /* By device number (mountinfo's third field): a root mounted by the
     * kernel itself is named /dev/root, which need not exist. */
    struct stat st;
    int blk = stat(dev, &st) == 0 && S_ISBLK(st.st_mode);
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return -1;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned major, minor;
        char dir[512], src[512];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*u %*u %u:%u %*s %511s", &major, &minor, dir) != 3 ||
            sscanf(sep + 3, "%*s %511s", src) != 1)
            continue;
        mount_unescape(src);
        mount_unescape(dir);
        if ((blk && major(st.st_rdev) == major && minor(st.st_rdev) == minor) || (src[0] == '/' && same_device(src, dev))) {
            snprintf(where, wherelen, "%s", dir);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

int device_is_swap(const char *dev)
{
    FILE *f = fopen("/proc/swaps", "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char src[512];
        if (sscanf(line, "%511s", src) == 1 && src[0] == '/') {
            mount_unescape(src);
            found = same_device(src, dev);
        }
    }
    fclose(f);
    return found;
}

uint64_t meminfo_bytes(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10) << 10;
            break;
        }
    fclose(f);
    return v;
}

int write_proc_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

void kernel_cmdline(char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen("/proc/cmdline", "r");
    if (!f)
        return;
    if (!fgets(out, (int)len, f))
        out[0] = 0;
    fclose(f);
}

int64_t target_size(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open target %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int64_t size = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat target %s: %s", path, strerror(errno));
    } else if (S_ISBLK(st.st_mode)) {
        uint64_t bytes;
        if (ioctl(fd, BLKGETSIZE64, &bytes) == 0)
            size = (int64_t)bytes;
        else
            snprintf(err, errlen, "cannot get the size of %s: %s", path, strerror(errno));
    } else if (S_ISREG(st.st_mode)) {
        size = st.st_size;
    } else {
        snprintf(err, errlen, "target %s is neither a block device nor a regular file", path);
    }
    close(fd);
    return size;
}
