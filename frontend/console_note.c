#define _GNU_SOURCE
#include "console_note.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void console_note(const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
    if (isatty(STDOUT_FILENO))
        return;
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[600];
    int n = snprintf(buf, sizeof buf, "<5>%s\n", line);
    if (n > 0 && (size_t)n < sizeof buf && write(fd, buf, (size_t)n) != n) {
        /* Ignored, as the header says. */
    }
    close(fd);
}
