/* Clocks, human-readable sizes, and progress lines on stderr (at most one
 * a second): "khib-save: 512/1024 MiB (50%), 310 MiB/s". */
#ifndef KHIB_PROGRESS_H
#define KHIB_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

double khib_now(void);            /* CLOCK_MONOTONIC, seconds */
uint64_t khib_realtime_ns(void);  /* CLOCK_REALTIME, nanoseconds */

/* "412.3 MiB", "4.0 KiB", "1.50 GiB" */
void khib_fmt_size(uint64_t bytes, char *buf, size_t len);

/* "2024-05-01 12:00:00 UTC" */
void khib_fmt_time_ns(uint64_t ns, char *buf, size_t len);

struct khib_progress {
    const char *prog;     /* prefix, e.g. "khib-save" */
    uint64_t total;       /* bytes */
    double start, last;
    int quiet;
    int console_fd;       /* -1, or /dev/console: the lines go there too */
};

void khib_progress_start(struct khib_progress *p, const char *prog, uint64_t total, int quiet);
/* Print a line when a second has passed since the last one. */
void khib_progress_update(struct khib_progress *p, uint64_t done);
/* Write the progress lines (and khib_progress_note's) to /dev/console too
 * when stderr is not a terminal: under systemd in an initramfs it is a
 * socket to journald, which is frozen before a jump, so the last lines
 * would be lost.  Best effort: without a console, stderr alone. */
void khib_progress_console(struct khib_progress *p);
/* A line on stdout, and on the console as above. */
void khib_progress_note(const struct khib_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Close the console, if it was opened. */
void khib_progress_end(struct khib_progress *p);
/* MiB/s over done bytes since the start. */
double khib_progress_rate(const struct khib_progress *p, uint64_t done);

#endif
