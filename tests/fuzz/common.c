/* Helpers shared by the fuzz harnesses (fuzz.h). */
#define _GNU_SOURCE
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void khib_fuzz_check(int ok, const char *what, const char *file, int line)
{
    if (ok)
        return;
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

int khib_fuzz_memfd(int *slot, const uint8_t *data, size_t size, char *path, size_t pathlen)
{
    if (*slot < 0) {
        *slot = memfd_create("khib-fuzz", MFD_CLOEXEC);
        if (*slot < 0)
            return -1;
    }
    if (ftruncate(*slot, 0) != 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(*slot, data + done, size - done, (off_t)done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", *slot);
    return 0;
}

int khib_fuzz_lowest_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd;
}
