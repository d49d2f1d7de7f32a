#define _GNU_SOURCE
#include "writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "target.h"
#include "threads.h"

/* One whole write at off; a direct write the target refuses is retried
 * buffered, and the rest of the image is written buffered. */
static int write_out(struct writer *w, const uint8_t *buf, size_t len, uint64_t off, char *err, size_t errlen)
{
    int was_direct = w->direct;
    int rc = khib_pwrite_direct(w->fd, buf, len, off, w->path, &w->direct, err, errlen);
    if (was_direct && !w->direct)
        w->fell_back = 1;
    return rc;
}

static void *io_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        unsigned b = w->next_io;
        while (!w->sent[b] && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->sent[b])
            break;
        size_t len = w->sent[b];
        uint64_t off = w->off[b];
        int failed = w->io_failed;
        double began = khib_now();
        pthread_mutex_unlock(&w->mu);
        char err[sizeof w->io_err];
        int rc = failed ? 0 : write_out(w, w->buf[b], len, off, err, sizeof err);
        double took = khib_now() - began;
        pthread_mutex_lock(&w->mu);
        w->io_busy += took;
        w->io_done += len;
        if (rc != 0 && !w->io_failed) {
            w->io_failed = 1;
            memcpy(w->io_err, err, sizeof err);
        }
        w->sent[b] = 0;
        w->next_io = (b + 1) % KHIB_WRITER_BUFFERS;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int writer_init(struct writer *w, int fd, const char *path, uint64_t start, uint64_t limit, char *err,
                size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->path = path;
    w->buf_start = w->pos = start;
    w->limit = limit;
    w->overflow = start > limit;
    for (unsigned i = 0; i < KHIB_WRITER_BUFFERS; i++) {
        void *p;
        int e = posix_memalign(&p, KHIB_DIRECT_ALIGN, KHIB_WRITER_BUFFER);
        if (e != 0) {
            snprintf(err, errlen, "out of memory for the write buffers");
            return -1;
        }
        w->buf[i] = p;
    }
    int e = pthread_mutex_init(&w->mu, NULL);
    if (e == 0 && (e = pthread_cond_init(&w->cv, NULL)) != 0)
        pthread_mutex_destroy(&w->mu);
    if (e != 0) {
        snprintf(err, errlen, "cannot set up the writer: %s", strerror(e));
        return -1;
    }
    /* Large aligned writes straight to the device; a refusal is no error. */
    w->direct = start % KHIB_DIRECT_ALIGN == 0 && khib_direct_io(fd, 1) == 0;
    if (khib_thread_start(&w->io, io_main, w, "writer", err, errlen) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    w->io_started = 1;
    return 0;
}

/* Hand the filled buffer to the I/O thread and wait until the next one is
 * free.  len is padded with zeros to the alignment (the last write only). */
static int submit(struct writer *w, char *err, size_t errlen)
{
    size_t len = w->len;
    if (len % KHIB_DIRECT_ALIGN) {
        size_t pad = KHIB_DIRECT_ALIGN - len % KHIB_DIRECT_ALIGN;
        memset(w->buf[w->cur] + len, 0, pad);
        len += pad;
    }
    pthread_mutex_lock(&w->mu);
    if (len && !w->overflow) {
        w->sent[w->cur] = len;
        w->off[w->cur] = w->buf_start;
        pthread_cond_broadcast(&w->cv);
        w->cur = (w->cur + 1) % KHIB_WRITER_BUFFERS;
    }
    while (w->sent[w->cur] && !w->io_failed)
        pthread_cond_wait(&w->cv, &w->mu);
    int failed = w->io_failed;
    if (failed)
        snprintf(err, errlen, "%s", w->io_err);
    pthread_mutex_unlock(&w->mu);
    w->buf_start += w->len;
    w->len = 0;
    return failed ? -1 : 0;
}

double writer_rate(struct writer *w, uint64_t *written)
{
    pthread_mutex_lock(&w->mu);
    double rate = w->io_busy > 0 ? (double)w->io_done / w->io_busy : 0;
    *written = w->io_done;
    pthread_mutex_unlock(&w->mu);
    return rate;
}

int writer_append(struct writer *w, const void *data, size_t n, char *err, size_t errlen)
{
    w->pos += n;
    if (w->overflow || w->pos > w->limit) {
        /* Counting only from here on. */
        w->overflow = 1;
        w->len = 0;
        w->buf_start = w->pos;
        return 0;
    }
    const uint8_t *p = data;
    while (n) {
        size_t room = KHIB_WRITER_BUFFER - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf[w->cur] + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
        if (w->len == KHIB_WRITER_BUFFER && submit(w, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static void stop_io(struct writer *w)
{
    if (!w->io_started)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->io, NULL);
    w->io_started = 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

int writer_finish(struct writer *w, char *err, size_t errlen)
{
    int rc = 0;
    if (w->len && !w->overflow)
        rc = submit(w, err, errlen);
    /* Wait for every write. */
    if (w->io_started) {
        pthread_mutex_lock(&w->mu);
        for (unsigned i = 0; i < KHIB_WRITER_BUFFERS; i++)
            while (w->sent[i] && !w->io_failed)
                pthread_cond_wait(&w->cv, &w->mu);
        if (w->io_failed && rc == 0) {
            snprintf(err, errlen, "%s", w->io_err);
            rc = -1;
        }
        pthread_mutex_unlock(&w->mu);
    }
    stop_io(w);
    if (w->direct && khib_direct_io(w->fd, 0) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot turn O_DIRECT off on %s: %s", w->path, strerror(errno));
        rc = -1;
    }
    w->direct = 0;
    return rc;
}

void writer_free(struct writer *w)
{
    stop_io(w);
    if (w->direct)
        (void)khib_direct_io(w->fd, 0);
    w->direct = 0;
    for (unsigned i = 0; i < KHIB_WRITER_BUFFERS; i++) {
        free(w->buf[i]);
        w->buf[i] = NULL;
    }
}
