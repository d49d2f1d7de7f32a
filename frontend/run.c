#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int run_program(char *const argv[], char *out, size_t outlen)
{
    int fds[2] = {-1, -1};
    if (out && pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (out) {
            close(fds[0]);
            close(fds[1]);
        }
        errno = e;
        return -1;
    }
    if (pid == 0) {
        if (out && dup2(fds[1], 1) < 0)
            _exit(127);
        execv(argv[0], argv);
        fprintf(stderr, "khib: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (out) {
        close(fds[1]);
        size_t used = 0;
        char sink[512];
        for (;;) {
            char *dst = used + 1 < outlen ? out + used : sink;
            size_t room = used + 1 < outlen ? outlen - 1 - used : sizeof sink;
            ssize_t n = read(fds[0], dst, room);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (dst != sink)
                used += (size_t)n;
        }
        if (outlen)
            out[used] = 0;
        close(fds[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
