/* What `khib hibernate` asks of kexec-tools, for every version it meets.
 *
 * kexec-tools 2.0.25 to 2.0.32 (kexec/kexec.c, kexec/kexec.h) all take the
 * same words: -c (OPT_KEXEC_SYSCALL, since 2.0.17) selects kexec_load, the
 * only system call with a preserve-context mode; 2.0.27 made kexec_file_load
 * with a fallback the default ("kexec: make -a the default") and dies with
 * "--load-preserve-context not supported with kexec_file_load" without -c.
 * --no-checks ('i') skips the SHA-256 of the segments (update_purgatory()),
 * --mem-max is required with --load-preserve-context ("Please specify memory
 * range used by kexeced kernel"), unchanged over the range.  Before 2.0.17
 * there is no -c and kexec_load is the only call, so it is left out. */
#ifndef KHIB_KEXEC_TOOLS_H
#define KHIB_KEXEC_TOOLS_H

#include <stddef.h>

struct kexec_version {
    int major, minor, patch; /* 0.0.0 when unknown */
    char text[64];           /* the line `kexec --version` printed, or why it is unknown */
};

/* Parse the first line of `kexec --version` ("kexec-tools 2.0.29").
 * Returns 0, or -1 (v->major == 0) for text that names no version. */
int kexec_version_parse(const char *line, struct kexec_version *v);

/* Run `KEXEC --version` and parse it; -1 when it cannot run or names no
 * version (v->text says which). */
int kexec_version_probe(const char *kexec, struct kexec_version *v);

/* 1 when this version needs -c to use kexec_load: every version since
 * 2.0.17, and an unknown one (a newer kexec-tools is likelier than an
 * older than 2.0.17). */
int kexec_version_wants_c(const struct kexec_version *v);

/* The argument vector of the load into argv (at least KEXEC_ARGV_MAX
 * entries, NULL-terminated), pointing into buf (bufsize bytes).
 * window_end is the window's last byte.  Returns 0, or -1 when buf is too
 * small. */
#define KEXEC_ARGV_MAX 12
int kexec_load_argv(const struct kexec_version *v, const char *kexec, const char *kernel, const char *initrd,
                    const char *cmdline, unsigned long long window_end, char **argv, char *buf, size_t bufsize);

#endif
