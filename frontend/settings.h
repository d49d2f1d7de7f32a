/* What `khib check` and `khib hibernate` act on: command-line options over
 * /etc/khib.conf over built-in defaults. */
#ifndef KHIB_SETTINGS_H
#define KHIB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_CONF "/etc/khib.conf"
#define KHIB_DEFAULT_WINDOW (192ULL << 20)
#define KHIB_IGNORE_FS_MAX 16
#define KHIB_DEFAULT_INITRD "/usr/lib/khib/khib-initrd.img"

enum { BOOT_AUTO, BOOT_GRUB, BOOT_NONE, BOOT_INITRAMFS };

struct settings {
    char target[128];        /* image target (block device, or an image file: target_file.h) */
    char target_device[128]; /* an image file: the device under its file system (khib setup-target) */
    uint64_t target_offset;  /* an image file: the device byte of its first block; 0: a partition */
    uint64_t target_size;    /* an image file: its size as khib setup-target made it */
    char kernel[256];        /* transient kernel: default /boot/vmlinuz-$(uname -r) */
    char initrd[256];        /* khib initramfs */
    char kexec[256];         /* kexec-tools binary */
    char append[512];        /* extra command-line words for B */
    char restore_append[512]; /* extra command-line words for R's boot entry (bootargs.h) */
    int boot;                /* BOOT_AUTO, _GRUB, _NONE, _INITRAMFS: how the next boot reaches R (bootentry.h) */
    uint64_t window;         /* [0, window) holds B and R */
    int level;               /* zstd level, KHIB_LEVEL_AUTO or _STORE for khib-save, 0 = its default */
    int test;                /* save, verify and come back (no power-off) */
    int hybrid;              /* suspend-to-both: B sleeps in S3 after the commit (docs/hybrid.md) */
    int trim;                /* drop the caches before the jump, and zero free memory where B cannot
                                exclude it (trim.h) */
    int exclude_free;        /* B leaves A's free pages out of the image (docs/freepages.md) */
    uint64_t image_size;     /* bytes the image may take on the target, 0 = no limit (image_size.h) */
    char ignore_fs[KHIB_IGNORE_FS_MAX][256]; /* mount points not checked before a resume (mounts.h) */
    unsigned ignore_fs_count;
    int encrypt;             /* ENCRYPT_*: encrypt the image (encryption.h) */
    char public_key[256];    /* the owner's public key file (khib setup-encryption) */
};

enum { ENCRYPT_AUTO, ENCRYPT_YES, ENCRYPT_NO };
#define KHIB_DEFAULT_PUBLIC_KEY "/etc/khib/khib.pub"

/* Defaults, then KHIB_CONF (or conf if not NULL) when it exists.  Returns 0,
 * or -1 with err for an unreadable or malformed file. */
int settings_load(struct settings *s, const char *conf, char *err, size_t errlen);
/* Parse "192M", "1G", "201326592". Returns 0 or -1. */
int parse_size(const char *text, uint64_t *out);
/* Apply one key=value setting (the file's syntax; also --option values). */
int settings_set(struct settings *s, const char *key, const char *value, char *err, size_t errlen);

#endif
