#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "chunk_codec.h"

int parse_size(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || (shift && v > (~0ULL >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int copy(char *dst, size_t len, const char *key, const char *value, char *err, size_t errlen)
{
    if (strlen(value) >= len) {
        snprintf(err, errlen, "%s: value too long (at most %zu characters)", key, len - 1);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

int settings_set(struct settings *s, const char *key, const char *value, char *err, size_t errlen)
{
    if (!strcmp(key, "target"))
        return copy(s->target, sizeof s->target, key, value, err, errlen);
    if (!strcmp(key, "target-device"))
        return copy(s->target_device, sizeof s->target_device, key, value, err, errlen);
    if (!strcmp(key, "target-offset") || !strcmp(key, "target-size")) { /* khib setup-target: target_file.h */
        uint64_t *v = key[7] == 'o' ? &s->target_offset : &s->target_size;
        if (parse_size(value, v) == 0 && *v % 4096 == 0)
            return 0;
        snprintf(err, errlen, "%s: '%s' is not a number of bytes, a multiple of 4096", key, value);
        return -1;
    }
    if (!strcmp(key, "kernel"))
        return copy(s->kernel, sizeof s->kernel, key, value, err, errlen);
    if (!strcmp(key, "initrd"))
        return copy(s->initrd, sizeof s->initrd, key, value, err, errlen);
    if (!strcmp(key, "kexec"))
        return copy(s->kexec, sizeof s->kexec, key, value, err, errlen);
    if (!strcmp(key, "append"))
        return copy(s->append, sizeof s->append, key, value, err, errlen);
    if (!strcmp(key, "restore-append"))
        return copy(s->restore_append, sizeof s->restore_append, key, value, err, errlen);
    if (!strcmp(key, "boot")) {
        static const char *const names[] = {"auto", "grub", "none", "initramfs"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(value, names[i])) {
                s->boot = i;
                return 0;
            }
        snprintf(err, errlen, "boot: '%s' is not auto, initramfs, grub or none", value);
        return -1;
    }
    if (!strcmp(key, "window")) {
        uint64_t w;
        if (parse_size(value, &w) || w < (64ULL << 20) || w % (1ULL << 20)) {
            snprintf(err, errlen, "window: '%s' is not a size of at least 64M in whole MiB (e.g. 192M)", value);
            return -1;
        }
        s->window = w;
        return 0;
    }
    if (!strcmp(key, "level")) {
        int l;
        if (khib_level_parse(value, &l) != 0 ||
            (l != KHIB_LEVEL_AUTO && l != KHIB_LEVEL_STORE && (l < -7 || l > 19))) {
            snprintf(err, errlen, "level: '%s' is not auto, store or a zstd level from -7 to 19 (not 0)", value);
            return -1;
        }
        s->level = l;
        return 0;
    }
    if (!strcmp(key, "trim") || !strcmp(key, "exclude-free")) {
        if (strcmp(value, "yes") && strcmp(value, "no")) {
            snprintf(err, errlen, "%s: '%s' is not yes or no", key, value);
            return -1;
        }
        *(key[0] == 't' ? &s->trim : &s->exclude_free) = !strcmp(value, "yes");
        return 0;
    }
    if (!strcmp(key, "image-size") || !strcmp(key, "image_size")) {
        uint64_t v;
        if (!strcmp(value, "none")) {
            s->image_size = 0;
            return 0;
        }
        if (parse_size(value, &v) || v < (1ULL << 20)) {
            snprintf(err, errlen, "image-size: '%s' is not none or a size of at least 1M (e.g. 2G)", value);
            return -1;
        }
        s->image_size = v;
        return 0;
    }
    if (!strcmp(key, "encrypt")) {
        static const char *const names[] = {"auto", "yes", "no"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(value, names[i])) {
                s->encrypt = i;
                return 0;
            }
        snprintf(err, errlen, "encrypt: '%s' is not auto, yes or no", value);
        return -1;
    }
    if (!strcmp(key, "public-key"))
        return copy(s->public_key, sizeof s->public_key, key, value, err, errlen);
    if (!strcmp(key, "ignore-fs")) {
        if (value[0] != '/' || s->ignore_fs_count >= KHIB_IGNORE_FS_MAX) {
            snprintf(err, errlen, "ignore-fs: '%s' is not a mount point (an absolute path), or more than %d are given",
                     value, KHIB_IGNORE_FS_MAX);
            return -1;
        }
        if (copy(s->ignore_fs[s->ignore_fs_count], sizeof s->ignore_fs[0], key, value, err, errlen) != 0)
            return -1;
        s->ignore_fs_count++;
        return 0;
    }
    snprintf(err, errlen, "unknown setting '%s' (known: target, target-device, target-offset, target-size, kernel, initrd,"
             " kexec, append, window, level, trim, exclude-free, image-size, ignore-fs, boot, restore-append, encrypt,"
             " public-key)", key);
    return -1;
}

int settings_load(struct settings *s, const char *conf, char *err, size_t errlen)
{
    struct utsname u;
    memset(s, 0, sizeof *s);
    s->window = KHIB_DEFAULT_WINDOW;
    s->trim = 1;
    s->exclude_free = 1;
    if (uname(&u) == 0)
        snprintf(s->kernel, sizeof s->kernel, "/boot/vmlinuz-%s", u.release);
    snprintf(s->initrd, sizeof s->initrd, "%s", KHIB_DEFAULT_INITRD);
    snprintf(s->kexec, sizeof s->kexec, "/usr/sbin/kexec");
    snprintf(s->public_key, sizeof s->public_key, "%s", KHIB_DEFAULT_PUBLIC_KEY);
    const char *path = conf ? conf : KHIB_CONF;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!conf && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key=value", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = p, *value = eq + 1;
        for (char *e = eq - 1; e >= key && isspace((unsigned char)*e); e--)
            *e = 0;
        while (isspace((unsigned char)*value))
            value++;
        char sub[256];
        if (settings_set(s, key, value, sub, sizeof sub) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}
