#define _GNU_SOURCE
#include "progress.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double khib_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t khib_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void khib_fmt_size(uint64_t bytes, char *buf, size_t len)
{
    if (bytes >= (10ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)bytes / (1 << 30));
    else if (bytes >= (1ull << 20))
        snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
    else if (bytes >= 1024)
        snprintf(buf, len, "%.1f KiB", (double)bytes / 1024);
    else
        snprintf(buf, len, "%" PRIu64 " bytes", bytes);
}

void khib_fmt_time_ns(uint64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    if (!ns || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%s", ns ? "?" : "never");
}

void khib_progress_start(struct khib_progress *p, const char *prog, uint64_t total, int quiet)
{
    p->prog = prog;
    p->total = total;
    p->start = p->last = khib_now();
    p->quiet = quiet;
    p->console_fd = -1;
}

void khib_progress_console(struct khib_progress *p)
{
    if (p->console_fd < 0 && !isatty(STDERR_FILENO))
        p->console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
}

void khib_progress_end(struct khib_progress *p)
{
    if (p->console_fd >= 0)
        close(p->console_fd);
    p->console_fd = -1;
}

static void to_console(const struct khib_progress *p, const char *line)
{
    size_t n = strlen(line);
    if (p->console_fd >= 0 && write(p->console_fd, line, n) != (ssize_t)n) {
        /* Best effort: the line went to stdout or stderr anyway. */
    }
}

void khib_progress_note(const struct khib_progress *p, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    fputs(line, stdout);
    fflush(stdout);
    to_console(p, line);
}

double khib_progress_rate(const struct khib_progress *p, uint64_t done)
{
    double dt = khib_now() - p->start;
    return dt > 0 ? (double)done / (1 << 20) / dt : 0;
}

void khib_progress_update(struct khib_progress *p, uint64_t done)
{
    double now = khib_now();
    if (p->quiet || now - p->last < 1.0)
        return;
    p->last = now;
    char line[200];
    snprintf(line, sizeof line, "%s: %" PRIu64 "/%" PRIu64 " MiB (%d%%), %.0f MiB/s\n", p->prog, done >> 20,
             p->total >> 20, p->total ? (int)(done * 100 / p->total) : 100, khib_progress_rate(p, done));
    fputs(line, stderr);
    to_console(p, line);
}
