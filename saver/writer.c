#define _GNU_SOURCE
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

int writer_init(struct writer *w, int fd, const char *path, uint64_t start, uint64_t limit, char *err,
                size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->path = path;
    w->cap = WRITER_BUFFER;
    w->buf = malloc(w->cap);
    if (!w->buf) {
        snprintf(err, errlen, "out of memory for the write buffer");
        return -1;
    }
    w->buf_start = w->pos = start;
    w->limit = limit;
    w->overflow = start > limit;
    return 0;
}

int writer_flush(struct writer *w, char *err, size_t errlen)
{
    if (w->len && !w->overflow &&
        khib_pwrite_all(w->fd, w->buf, w->len, w->buf_start, w->path, err, errlen) != 0)
        return -1;
    w->buf_start = w->pos;
    w->len = 0;
    return 0;
}

void *writer_reserve(struct writer *w, size_t max, char *err, size_t errlen)
{
    if (max > w->cap) {
        snprintf(err, errlen, "write of %zu bytes exceeds the buffer", max);
        return NULL;
    }
    if (w->cap - w->len < max && writer_flush(w, err, errlen) != 0)
        return NULL;
    return w->buf + w->len;
}

int writer_commit(struct writer *w, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    w->pos += n;
    if (w->overflow) {
        /* Counting only: the buffer is scratch space from here on. */
        w->len = 0;
        w->buf_start = w->pos;
        return 0;
    }
    if (w->pos > w->limit) {
        w->overflow = 1;
        w->len = 0;
        w->buf_start = w->pos;
        return 0;
    }
    w->len += n;
    return 0;
}

void writer_free(struct writer *w)
{
    free(w->buf);
    w->buf = NULL;
}
