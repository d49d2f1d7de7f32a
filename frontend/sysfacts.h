/* Facts about the running system that `khib check` and `khib hibernate`
 * need: kernel options, mounts, swaps, memory. */
#ifndef KHIB_SYSFACTS_H
#define KHIB_SYSFACTS_H

#include <stddef.h>
#include <stdint.h>

/* The value of a kernel config option ("y", "m", a string) or NULL when it
 * is not set; *source names where the config came from (/proc/config.gz or
 * /boot/config-RELEASE).  Returns -1 with err when no config can be read. */
struct kconfig;
struct kconfig *kconfig_load(char *err, size_t errlen);
const char *kconfig_get(const struct kconfig *kc, const char *option);
const char *kconfig_source(const struct kconfig *kc);
void kconfig_free(struct kconfig *kc);

/* The mount point of dev (same device number) from /proc/self/mounts, copied
 * into where; 1 if mounted, 0 if not, -1 on error. */
int device_mount_point(const char *dev, char *where, size_t wherelen);
/* 1 if dev is an active swap area (/proc/swaps), else 0. */
int device_is_swap(const char *dev);
/* Undo the octal escapes (\040 for a blank) of /proc/self/mounts fields. */
void mount_unescape(char *s);
/* The /proc/meminfo field key ("MemAvailable", "MemFree", ...) in bytes, or 0. */
uint64_t meminfo_bytes(const char *key);
/* Write text to a /proc or /sys file in one write(2).  0, or -1 with errno
 * (a short write reads as -1 with the errno of the write). */
int write_proc_text(const char *path, const char *text);
/* The running kernel's command line (/proc/cmdline) into out, "" if unreadable. */
void kernel_cmdline(char *out, size_t len);
/* Size of a block device or regular file, or -1 with err. */
int64_t target_size(const char *path, char *err, size_t errlen);

#endif
