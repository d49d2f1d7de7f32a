/* The image's data area, appended in order and written in large aligned
 * writes by an I/O thread while the caller fills the next buffer.  O_DIRECT
 * when the target allows it (buffered otherwise, or from the first write the
 * target refuses).  With a limit: past it nothing more is written, but
 * appends are still counted so that the saver can say how much room the
 * whole image needs. */
#ifndef KHIB_SAVE_WRITER_H
#define KHIB_SAVE_WRITER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "save_budget.h"   /* KHIB_WRITER_BUFFER(S) */

struct writer {
    int fd;
    const char *path;
    uint8_t *buf[KHIB_WRITER_BUFFERS];
    size_t sent[KHIB_WRITER_BUFFERS];   /* bytes queued for writing; 0: free */
    uint64_t off[KHIB_WRITER_BUFFERS];  /* their image offset */
    unsigned cur;                  /* buffer being filled */
    size_t len;                    /* bytes in it */
    uint64_t buf_start;            /* image offset of buf[cur][0] */
    uint64_t pos;                  /* image offset of the next appended byte */
    uint64_t limit;                /* appended bytes must end at or before this offset */
    int overflow;                  /* the limit was passed: writing stopped */
    int direct;                    /* O_DIRECT in use */
    int fell_back;                 /* the target refused a direct write: buffered since */
    /* The I/O thread. */
    pthread_t io;
    int io_started, quit;
    unsigned next_io;              /* next buffer to write, in order */
    int io_failed;
    char io_err[400];
    double io_busy;                /* seconds spent writing so far */
    uint64_t io_done;              /* bytes written so far */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Appends start at image offset start (a multiple of 4096).  Tries O_DIRECT
 * on fd.  Starts the I/O thread.  0 or -1 with err. */
int writer_init(struct writer *w, int fd, const char *path, uint64_t start, uint64_t limit, char *err,
                size_t errlen);

/* Append n bytes.  0 or -1 with err (a write failed). */
int writer_append(struct writer *w, const void *data, size_t n, char *err, size_t errlen);

/* Bytes per second the writes so far took while they ran (0 before the
 * first has ended), and in *written the bytes they wrote. */
double writer_rate(struct writer *w, uint64_t *written);

/* Write out the rest (the last write is padded with zeros to 4096 bytes: the
 * padding lies before the page-aligned index), wait for every write, stop the
 * I/O thread and turn O_DIRECT off again.  0 or -1 with err. */
int writer_finish(struct writer *w, char *err, size_t errlen);

/* Stops the thread if still running and frees the buffers. */
void writer_free(struct writer *w);

#endif
