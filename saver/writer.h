/* The image's data area written in large sequential writes, with a limit:
 * past it nothing more is written, but appends are still counted so that the
 * saver can say how much room the whole image needs. */
#ifndef KHIB_SAVE_WRITER_H
#define KHIB_SAVE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define WRITER_BUFFER (8u << 20)

struct writer {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap, len;
    uint64_t buf_start;   /* image offset of buf[0] */
    uint64_t pos;         /* image offset of the next appended byte */
    uint64_t limit;       /* appended bytes must end at or before this offset */
    int overflow;         /* the limit was passed: writing stopped */
};

/* Appends start at image offset start. */
int writer_init(struct writer *w, int fd, const char *path, uint64_t start, uint64_t limit, char *err,
                size_t errlen);

/* Room for up to max bytes at the current position (max <= WRITER_BUFFER);
 * fill it, then writer_commit() the bytes used.  NULL with err on failure. */
void *writer_reserve(struct writer *w, size_t max, char *err, size_t errlen);
int writer_commit(struct writer *w, size_t n, char *err, size_t errlen);

/* Write out what is buffered. */
int writer_flush(struct writer *w, char *err, size_t errlen);
void writer_free(struct writer *w);

#endif
