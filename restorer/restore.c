#define _GNU_SOURCE
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultpoint.h"
#include "physmem.h"
#include "threads.h"

#define ZERO_BUF (64u << 10)

static int needs_zero_buf(const struct restore_dest *dst)
{
    return dst && !dst->by_mmap && dst->zero_from != UINT64_MAX;
}

size_t restore_mem(unsigned threads, const struct restore_dest *dst)
{
    return (size_t)restore_blocks(threads) * RESTORE_BLOCK +
           (size_t)threads * (KHIB_CHUNK_RAW_MAX + khib_decoder_mem() + (needs_zero_buf(dst) ? ZERO_BUF : 0));
}

struct block {
    uint8_t *buf;
    uint64_t start;          /* image offset of buf[0] */
    uint32_t a, b;           /* chunks [a, b) */
    uint32_t pending;        /* of those, not finished */
};

struct pipeline;

struct worker {
    struct pipeline *p;
    pthread_t t;
    int started;
    struct khib_decoder dd;
    uint8_t *raw;            /* a chunk's nonzero pages */
    uint8_t *zeros;          /* pwrite of zero pages where the file is not known zero */
    struct khib_physmem pm;  /* by_mmap: this worker's window */
    int pm_open;
};

struct pipeline {
    const struct khib_image *img;
    const struct khib_chunk *chunks;
    uint32_t n;
    const struct restore_dest *dst;
    struct block *blk;
    unsigned nblk;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t next;           /* next chunk for a worker */
    uint32_t loaded;         /* chunks below this are in blocks */
    uint64_t done;           /* bytes of memory finished */
    uint64_t half;           /* restoring: half of the memory's bytes, rounded up (0: verifying) */
    int stop;
    int rc;
    uint32_t err_index;
    char err[600];
};

/* Record a failure of chunk index (the lowest index wins) and stop.  Lock held. */
static void fail_locked(struct pipeline *p, int rc, uint32_t index, const char *msg)
{
    if (!p->rc || index < p->err_index) {
        p->rc = rc;
        p->err_index = index;
        snprintf(p->err, sizeof p->err, "%s", msg);
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
}

/* Place the nonzero pages of raw and zero the pages marked zero, writing a
 * zero page only where memory is not zero already. */
static void scatter(uint8_t *dst, const struct khib_chunk *c, const uint8_t *raw)
{
    for (uint32_t p = 0; p < c->pages; p++) {
        uint8_t *page = dst + (size_t)p * KHIB_PAGE_SIZE;
        if (khib_bitmap_test(c->zero_bitmap, p)) {
            if (!khib_page_is_zero(page))
                memset(page, 0, KHIB_PAGE_SIZE);
        } else {
            memcpy(page, raw, KHIB_PAGE_SIZE);
            raw += KHIB_PAGE_SIZE;
        }
    }
}

/* Zeros at [off, end), except what is known zero already. */
static int write_zeros(struct worker *wk, uint64_t off, uint64_t end, char *err, size_t errlen)
{
    const struct restore_dest *d = wk->p->dst;
    if (end > d->zero_from)
        end = d->zero_from;
    while (off < end) {
        size_t n = end - off < ZERO_BUF ? (size_t)(end - off) : ZERO_BUF;
        if (khib_pwrite_all(d->fd, wk->zeros, n, off, d->name, err, errlen) != 0)
            return -1;
        off += n;
    }
    return 0;
}

/* The runs of nonzero pages of raw with pwrite, zero pages as needed. */
static int write_pages(struct worker *wk, const struct khib_chunk *c, const uint8_t *raw, char *err, size_t errlen)
{
    const struct restore_dest *d = wk->p->dst;
    uint64_t base = c->first_pfn << KHIB_PAGE_SHIFT;
    uint32_t p = 0;
    while (p < c->pages) {
        int zero = khib_bitmap_test(c->zero_bitmap, p);
        uint32_t q = p + 1;
        while (q < c->pages && khib_bitmap_test(c->zero_bitmap, q) == zero)
            q++;
        uint64_t off = base + (uint64_t)p * KHIB_PAGE_SIZE, len = (uint64_t)(q - p) * KHIB_PAGE_SIZE;
        if (zero) {
            if (write_zeros(wk, off, off + len, err, errlen) != 0)
                return -1;
        } else {
            if (khib_pwrite_all(d->fd, raw, (size_t)len, off, d->name, err, errlen) != 0)
                return -1;
            raw += len;
        }
        p = q;
    }
    return 0;
}

/* Check chunk i (its frame at frame) and write its pages.  0, or a
 * KHIB_IMG_* / RESTORE_MEM_ERROR code with msg. */
static int restore_chunk(struct worker *wk, uint32_t i, const uint8_t *frame, char *msg, size_t msglen)
{
    const struct pipeline *p = wk->p;
    const struct khib_chunk *c = &p->chunks[i];
    const struct restore_dest *d = p->dst;
    char name[80], why[400];
    khib_chunk_name(i, c, name, sizeof name);
    size_t bytes = (size_t)c->pages * KHIB_PAGE_SIZE;
    uint8_t *mem = NULL;
    if (d && d->by_mmap) {
        mem = khib_physmem_map(&wk->pm, c->first_pfn << KHIB_PAGE_SHIFT, bytes, why, sizeof why);
        if (!mem) {
            snprintf(msg, msglen, "%s: %s", name, why);
            return RESTORE_MEM_ERROR;
        }
    }
    /* Without zero pages the frame expands straight into memory. */
    int direct = mem && c->raw_len == bytes;
    if (khib_chunk_expand(&wk->dd, c, frame, direct ? mem : wk->raw, why, sizeof why) != 0) {
        snprintf(msg, msglen, "%s: %s: the image is damaged", name, why);
        return KHIB_IMG_BAD;
    }
    if (mem && !direct)
        scatter(mem, c, wk->raw);
    if (d && !d->by_mmap && write_pages(wk, c, wk->raw, why, sizeof why) != 0) {
        snprintf(msg, msglen, "%s: %s", name, why);
        return RESTORE_MEM_ERROR;
    }
    return KHIB_IMG_OK;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct pipeline *p = wk->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next < p->n && p->next >= p->loaded)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->next >= p->n)
            break;
        uint32_t i = p->next++;
        struct block *b = NULL;
        for (unsigned k = 0; k < p->nblk && !b; k++)
            if (p->blk[k].pending && i >= p->blk[k].a && i < p->blk[k].b)
                b = &p->blk[k];
        pthread_mutex_unlock(&p->mu);

        const struct khib_chunk *c = &p->chunks[i];
        const uint8_t *frame = c->stored_len ? b->buf + (c->offset - b->start) : NULL;
        char msg[600];
        int rc = restore_chunk(wk, i, frame, msg, sizeof msg);

        pthread_mutex_lock(&p->mu);
        if (rc != KHIB_IMG_OK)
            fail_locked(p, rc, i, msg);
        uint64_t before = p->done;
        p->done += (uint64_t)c->pages * KHIB_PAGE_SIZE;
        /* The lock held: every other thread stops at its next chunk. */
        if (p->half && rc == KHIB_IMG_OK && before < p->half && p->done >= p->half)
            khib_faultpoint(KHIB_FP_RESTORE_HALF_MEMORY);
        if (--b->pending == 0)
            pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static uint64_t align_down(uint64_t x)
{
    return x & ~(uint64_t)(KHIB_DIRECT_ALIGN - 1);
}

static uint64_t align_up(uint64_t x)
{
    return align_down(x + KHIB_DIRECT_ALIGN - 1);
}

/* The chunks [a, *b) whose frames fit one block, and the aligned image
 * bytes [*start, *end) holding them. */
static void plan_block(const struct pipeline *p, uint32_t a, uint32_t *b, uint64_t *start, uint64_t *end)
{
    uint32_t i = a;
    int any = 0;
    *start = *end = 0;
    for (; i < p->n; i++) {
        const struct khib_chunk *c = &p->chunks[i];
        if (!c->stored_len)
            continue;
        uint64_t s = any ? *start : align_down(c->offset), e = align_up(c->offset + c->stored_len);
        if (any && e - s > RESTORE_BLOCK)
            break;
        *start = s;
        *end = e;
        any = 1;
    }
    *b = i;
}

/* The caller's part: blocks in order, as they become free. */
static void read_all(struct pipeline *p, int *direct, struct khib_progress *prog)
{
    const struct khib_image *img = p->img;
    uint32_t a = 0;
    for (unsigned k = 0; a < p->n; k++) {
        struct block *b = &p->blk[k % p->nblk];
        pthread_mutex_lock(&p->mu);
        while (!p->stop && b->pending)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        uint64_t done = p->done;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return;
        if (prog)
            khib_progress_update(prog, done);
        uint32_t end_chunk;
        uint64_t start, end;
        plan_block(p, a, &end_chunk, &start, &end);
        char why[400];
        int rc = 0;
        if (end > start && end - start > RESTORE_BLOCK) {
            snprintf(why, sizeof why, "frame of %" PRIu32 " bytes is larger than a read", p->chunks[a].stored_len);
            rc = -1;
        } else if (end > start) {
            rc = khib_pread_direct(img->t.fd, b->buf, (size_t)(end - start), start, img->t.path, direct, why,
                                   sizeof why);
        }
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            char name[80], msg[600];
            khib_chunk_name(a, &p->chunks[a], name, sizeof name);
            snprintf(msg, sizeof msg, "%s: %s", name, why);
            fail_locked(p, KHIB_IMG_IO, a, msg);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        b->start = start;
        b->a = a;
        b->b = end_chunk;
        b->pending = end_chunk - a;
        p->loaded = end_chunk;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        a = end_chunk;
    }
}

int restore_memory(struct khib_image *img, const struct restore_dest *dst, unsigned threads,
                   struct khib_progress *prog, int *direct_out, char *err, size_t errlen)
{
    struct pipeline p;
    memset(&p, 0, sizeof p);
    p.img = img;
    p.chunks = img->idx.chunks;
    p.n = img->idx.chunk_count;
    p.dst = dst;
    p.nblk = restore_blocks(threads);
    if (dst)
        p.half = (img->sb.pages_total * KHIB_PAGE_SIZE + 1) / 2;
    int rc = KHIB_IMG_IO, sync_ok = 0, direct = 0;
    struct worker *wk = calloc(threads, sizeof *wk);
    p.blk = calloc(p.nblk, sizeof *p.blk);
    if (!wk || !p.blk)
        goto oom;
    for (unsigned k = 0; k < p.nblk; k++) {
        void *m;
        if (posix_memalign(&m, KHIB_DIRECT_ALIGN, RESTORE_BLOCK) != 0)
            goto oom;
        p.blk[k].buf = m;
    }
    for (unsigned t = 0; t < threads; t++) {
        wk[t].p = &p;
        if (!(wk[t].raw = malloc(KHIB_CHUNK_RAW_MAX)) || khib_decoder_init(&wk[t].dd, err, errlen) != 0)
            goto oom;
        if (needs_zero_buf(dst) && !(wk[t].zeros = calloc(1, ZERO_BUF)))
            goto oom;
        if (dst && dst->by_mmap) {
            if (khib_physmem_open(&wk[t].pm, dst->fd, dst->name, dst->seg, dst->nseg, 1, KHIB_PHYSMEM_WINDOW, err,
                                  errlen) != 0) {
                rc = RESTORE_MEM_ERROR;
                goto out;
            }
            wk[t].pm_open = 1;
        }
    }
    if (khib_sync_init(&p.mu, &p.cv, err, errlen) != 0)
        goto out;
    sync_ok = 1;
    /* Large aligned reads straight from the device; a refusal is no error. */
    direct = khib_direct_io(img->t.fd, 1) == 0;
    if (!direct)
        (void)posix_fadvise(img->t.fd, (off_t)img->sb.data_offset, (off_t)img->sb.data_bytes,
                            POSIX_FADV_SEQUENTIAL);
    for (unsigned t = 0; t < threads; t++) {
        if (khib_thread_start(&wk[t].t, worker_main, &wk[t], "decompression", err, errlen) != 0) {
            pthread_mutex_lock(&p.mu);
            fail_locked(&p, KHIB_IMG_IO, 0, err);
            pthread_mutex_unlock(&p.mu);
            break;
        }
        wk[t].started = 1;
    }
    read_all(&p, &direct, prog);
    for (unsigned t = 0; t < threads; t++)
        if (wk[t].started)
            pthread_join(wk[t].t, NULL);
    if (direct && khib_direct_io(img->t.fd, 0) != 0 && !p.rc) {
        snprintf(err, errlen, "cannot turn O_DIRECT off on %s: %s", img->t.path, strerror(errno));
        goto out;
    }
    if (direct_out)
        *direct_out = direct;
    direct = 0;
    if (p.rc) {
        rc = p.rc;
        snprintf(err, errlen, "%s", p.err);
        goto out;
    }
    if (prog)
        khib_progress_update(prog, p.done);
    rc = KHIB_IMG_OK;
    goto out;
oom:
    snprintf(err, errlen, "out of memory for the restore buffers");
out:
    if (direct)
        (void)khib_direct_io(img->t.fd, 0);
    if (sync_ok) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    for (unsigned t = 0; wk && t < threads; t++) {
        if (wk[t].pm_open)
            khib_physmem_close(&wk[t].pm);
        if (wk[t].dd.dctx)
            khib_decoder_free(&wk[t].dd);
        free(wk[t].raw);
        free(wk[t].zeros);
    }
    for (unsigned k = 0; p.blk && k < p.nblk; k++)
        free(p.blk[k].buf);
    free(p.blk);
    free(wk);
    return rc;
}
