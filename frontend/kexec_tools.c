#define _GNU_SOURCE
#include "kexec_tools.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

int kexec_version_parse(const char *line, struct kexec_version *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->text, sizeof v->text, "%.*s", (int)strcspn(line, "\n"), line);
    const char *p = strstr(line, "kexec-tools ");
    if (!p)
        return -1;
    int n = sscanf(p + 12, "%d.%d.%d", &v->major, &v->minor, &v->patch);
    if (n < 2 || v->major <= 0 || v->minor < 0) {
        v->major = v->minor = v->patch = 0;
        return -1;
    }
    if (n == 2)
        v->patch = 0;
    return 0;
}

int kexec_version_probe(const char *kexec, struct kexec_version *v)
{
    char buf[256];
    char *argv[] = {(char *)kexec, "--version", NULL};
    int rc = run_program(argv, buf, sizeof buf);
    if (rc < 0) {
        memset(v, 0, sizeof *v);
        snprintf(v->text, sizeof v->text, "cannot run %s: %s", kexec, strerror(errno));
        return -1;
    }
    if (kexec_version_parse(buf, v) != 0) {
        snprintf(v->text, sizeof v->text, "'%s --version' named no version", kexec);
        return -1;
    }
    return 0;
}

int kexec_version_wants_c(const struct kexec_version *v)
{
    if (v->major == 0)
        return 1;
    return v->major > 2 || (v->major == 2 && (v->minor > 0 || v->patch >= 17));
}

static char *put(char **cur, char *end, const char *fmt, const char *s, unsigned long long n)
{
    int len = s ? snprintf(*cur, (size_t)(end - *cur), fmt, s) : snprintf(*cur, (size_t)(end - *cur), fmt, n);
    if (len < 0 || len >= end - *cur)
        return NULL;
    char *out = *cur;
    *cur += len + 1;
    return out;
}

int kexec_load_argv(const struct kexec_version *v, const char *kexec, const char *kernel, const char *initrd,
                    const char *cmdline, unsigned long long window_end, char **argv, char *buf, size_t bufsize)
{
    char *cur = buf, *end = buf + bufsize;
    int i = 0;
    argv[i++] = (char *)kexec;
    if (kexec_version_wants_c(v))
        argv[i++] = "-c";
    argv[i++] = "--load-preserve-context";
    argv[i++] = "--no-checks";
    argv[i++] = "--mem-min=0x0";
    if (!(argv[i++] = put(&cur, end, "--mem-max=0x%llx", NULL, window_end)) ||
        !(argv[i++] = put(&cur, end, "--initrd=%s", initrd, 0)) ||
        !(argv[i++] = put(&cur, end, "--append=%s", cmdline, 0)))
        return -1;
    argv[i++] = (char *)kernel;
    argv[i] = NULL;
    return 0;
}
