#define _GNU_SOURCE
#include "threads.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned khib_cpu_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

unsigned khib_default_threads(void)
{
    unsigned n = khib_cpu_count();
    return n > KHIB_THREADS_DEFAULT_MAX ? KHIB_THREADS_DEFAULT_MAX : n;
}

int khib_parse_threads(const char *text, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < 1 || v > KHIB_THREADS_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int khib_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *what, char *err, size_t errlen)
{
    int e = pthread_create(t, NULL, fn, arg);
    if (e != 0) {
        snprintf(err, errlen, "cannot start the %s thread: %s", what, strerror(e));
        return -1;
    }
    return 0;
}

int khib_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv, char *err, size_t errlen)
{
    int e = pthread_mutex_init(mu, NULL);
    if (e == 0 && (e = pthread_cond_init(cv, NULL)) != 0)
        pthread_mutex_destroy(mu);
    if (e != 0) {
        snprintf(err, errlen, "cannot set up the threads: %s", strerror(e));
        return -1;
    }
    return 0;
}

int khib_threads_option(const char *prog, const char *text, unsigned *out)
{
    if (khib_parse_threads(text, out) == 0)
        return 0;
    fprintf(stderr, "%s: --threads needs a number from 1 to %u, not '%s'\n", prog, KHIB_THREADS_MAX, text);
    return -1;
}
