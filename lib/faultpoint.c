#define _GNU_SOURCE
#include "faultpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const khib_fault_points[] = {
    KHIB_FP_SAVE_WRITING,      KHIB_FP_SAVE_HALF_DATA,      KHIB_FP_SAVE_DATA,
    KHIB_FP_SAVE_INDEX,        KHIB_FP_SAVE_SYNCED,         KHIB_FP_SAVE_COMMITTED,
    KHIB_FP_RESTORE_VALIDATED, KHIB_FP_RESTORE_HALF_MEMORY, KHIB_FP_RESTORE_BEFORE_CONSUMED,
    KHIB_FP_RESTORE_CONSUMED,  KHIB_FP_RESTORE_BEFORE_JUMP, NULL};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The kernel's next_arg() (lib/cmdline.c): split the next word off args (no
 * leading blanks), in place; *val NULL for a word without '='.  Returns the
 * rest, leading blanks skipped. */
static char *next_arg(char *args, char **param, char **val)
{
    size_t i, equals = 0;
    int in_quote = 0, quoted = 0;
    if (*args == '"') {
        args++;
        in_quote = 1;
        quoted = 1;
    }
    for (i = 0; args[i]; i++) {
        if (is_blank(args[i]) && !in_quote)
            break;
        if (equals == 0 && args[i] == '=')
            equals = i;
        if (args[i] == '"')
            in_quote = !in_quote;
    }
    *param = args;
    if (!equals) {
        *val = NULL;
    } else {
        args[equals] = '\0';
        *val = args + equals + 1;
        if (**val == '"') {
            (*val)++;
            if (args[i - 1] == '"')
                args[i - 1] = '\0';
        }
    }
    if (quoted && i > 0 && args[i - 1] == '"')
        args[i - 1] = '\0';
    if (args[i]) {
        args[i] = '\0';
        args += i + 1;
    } else {
        args += i;
    }
    while (is_blank(*args))
        args++;
    return args;
}

int khib_fault_parse(const char *cmdline, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    char *buf = strdup(cmdline ? cmdline : "");
    if (!buf)
        return 0;
    int found = 0;
    char *args = buf;
    while (is_blank(*args))
        args++;
    while (*args) {
        char *param, *val;
        args = next_arg(args, &param, &val);
        /* As the kernel: what follows "--" is for init, not a parameter. */
        if (!val && !strcmp(param, "--"))
            break;
        /* A parameter given twice: the last one counts, as in the kernel. */
        if (val && !strcmp(param, KHIB_FAULT_PARAM)) {
            found = *val != '\0';
            if (outlen)
                snprintf(out, outlen, "%s", val);
        }
    }
    free(buf);
    if (!found && outlen)
        out[0] = '\0';
    return found;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *init_prog = "khib";
static char armed[128];
static int has_armed, from_env;

static void load(void)
{
    const char *env = getenv(KHIB_FAULT_CMDLINE_ENV);
    from_env = env && *env;
    const char *path = from_env ? env : "/proc/cmdline";
    /* No command line (no /proc): no point is armed, and nothing is said. */
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[8192];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    if (!khib_fault_parse(line, armed, sizeof armed))
        return;
    has_armed = 1;
    int known = 0;
    for (const char *const *p = khib_fault_points; *p; p++)
        known |= !strcmp(*p, armed);
    if (known)
        fprintf(stderr, "%s: test: %s=%s: will stop there\n", init_prog, KHIB_FAULT_PARAM, armed);
    else
        fprintf(stderr, "%s: test: %s=%s names no fault point; running on\n", init_prog, KHIB_FAULT_PARAM, armed);
}

void khib_fault_init(const char *prog)
{
    if (prog)
        init_prog = prog;
    pthread_once(&once, load);
}

const char *khib_fault_armed(void)
{
    khib_fault_init(NULL);
    return has_armed ? armed : NULL;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void khib_faultpoint(const char *name)
{
    const char *a = khib_fault_armed();
    if (!a || strcmp(a, name) != 0)
        return;
    /* Everything written so far reaches the disk before the marker shows:
     * the host cuts the power on the marker, and the disk's state at the cut
     * is then that of this point, not of the kernel's writeback timing. */
    fflush(NULL);
    sync();
    char line[200];
    int n = snprintf(line, sizeof line, KHIB_FAULT_MARKER "%s\n", name);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)strlen(line);
    write_all(STDOUT_FILENO, line, (size_t)n);
    /* The kernel log reaches the serial console even when stdout goes
     * elsewhere.  Not in host tests (KHIB_CMDLINE): the host's log is none
     * of their business. */
    if (!from_env) {
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            write_all(fd, line, (size_t)n);
            close(fd);
        }
    }
    for (;;)
        pause();
}
