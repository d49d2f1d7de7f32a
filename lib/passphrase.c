#define _GNU_SOURCE
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int passphrase_open(struct passphrase_source *ps, const char *console, int fd, unsigned timeout_s, char *err,
                    size_t errlen)
{
    memset(ps, 0, sizeof *ps);
    ps->timeout_s = timeout_s;
    ps->fd = fd;
    if (fd < 0) {
        /* The terminal khib-restore runs on, else the console.  O_NOCTTY:
         * R's /init must not acquire the console as its terminal. */
        if (!console)
            ps->fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (!console && ps->fd < 0)
            console = "/dev/console";
        if (console)
            ps->fd = open(console, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (ps->fd < 0) {
            snprintf(err, errlen, "cannot open the console %s to ask for the passphrase: %s", console,
                     strerror(errno));
            return -1;
        }
        ps->own = 1;
    }
    if (isatty(ps->fd) && tcgetattr(ps->fd, &ps->saved) == 0) {
        struct termios t = ps->saved;
        t.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(ps->fd, TCSAFLUSH, &t) != 0) {
            snprintf(err, errlen, "cannot turn the echo off on %s: %s", console, strerror(errno));
            passphrase_close(ps);
            return -1;
        }
        ps->tty = 1;
    }
    return 0;
}

static void put(const struct passphrase_source *ps, const char *s)
{
    ssize_t w = write(ps->tty ? ps->fd : 2, s, strlen(s));
    (void)w;
}

void passphrase_say(const struct passphrase_source *ps, const char *msg)
{
    put(ps, msg);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int passphrase_read(struct passphrase_source *ps, const char *prompt, char *buf, size_t *len, char *err,
                    size_t errlen)
{
    *len = 0;
    buf[0] = 0;
    if (ps->tty)
        put(ps, prompt);
    double deadline = now_s() + ps->timeout_s;
    for (;;) {
        if (ps->timeout_s) {
            double left = deadline - now_s();
            struct pollfd pfd = {.fd = ps->fd, .events = POLLIN};
            int n = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(err, errlen, "cannot wait for the passphrase: %s", strerror(errno));
                return -1;
            }
            if (n == 0) {
                snprintf(err, errlen, "no passphrase within %u s", ps->timeout_s);
                put(ps, "\n");
                return 1;
            }
        }
        char ch;
        ssize_t n = read(ps->fd, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read the passphrase: %s", strerror(errno));
            return -1;
        }
        if (n == 0 || ch == 3 || ch == 4) {
            snprintf(err, errlen, "%s", n == 0 ? "no more input" : "cancelled");
            put(ps, ps->tty ? "\n" : "");
            return 1;
        }
        if (ch == '\n' || ch == '\r') {
            if (ps->tty)
                put(ps, "\n");
            buf[*len] = 0;
            return 0;
        }
        if (ch == 127 || ch == 8) {
            if (*len) {
                buf[--*len] = 0;
                if (ps->tty)
                    put(ps, "\b \b");
            }
            continue;
        }
        if (*len + 1 < PASSPHRASE_MAX) {
            buf[(*len)++] = ch;
            if (ps->tty)
                put(ps, "*");
        }
    }
}

void passphrase_close(struct passphrase_source *ps)
{
    if (ps->tty)
        (void)tcsetattr(ps->fd, TCSAFLUSH, &ps->saved);
    if (ps->own && ps->fd >= 0)
        close(ps->fd);
    ps->fd = -1;
    ps->own = ps->tty = 0;
}
