/* Worker threads of khib-save and khib-restore: how many CPUs there are,
 * and starting a thread with an error message. */
#ifndef KHIB_THREADS_H
#define KHIB_THREADS_H

#include <pthread.h>
#include <stddef.h>

/* Most worker threads --threads accepts. */
#define KHIB_THREADS_MAX 256u
/* Most worker threads chosen by default (bounds the buffers: see
 * docs/performance.md). */
#define KHIB_THREADS_DEFAULT_MAX 8u

/* CPUs this process may run on (sched_getaffinity), at least 1. */
unsigned khib_cpu_count(void);

/* The default number of worker threads: the CPUs, at most
 * KHIB_THREADS_DEFAULT_MAX. */
unsigned khib_default_threads(void);

/* Parse a --threads value: 1..KHIB_THREADS_MAX.  0 or -1. */
int khib_parse_threads(const char *text, unsigned *out);

/* pthread_create with a message.  0 or -1 with err. */
int khib_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *what, char *err, size_t errlen);

/* pthread_mutex_init and pthread_cond_init, both or neither.  0, or -1
 * with err. */
int khib_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv, char *err, size_t errlen);

/* Parse the --threads value of program prog into *out, or say why not on
 * stderr.  0 or -1. */
int khib_threads_option(const char *prog, const char *text, unsigned *out);

#endif
