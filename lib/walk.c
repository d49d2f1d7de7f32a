#define _GNU_SOURCE
#include "walk.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultpoint.h"
#include "physmem.h"
#include "reader.h"
#include "seal.h"
#include "target.h"
#include "threads.h"

#define ZERO_BUF (64u << 10)

static int needs_zero_buf(enum khib_walk_action action, const struct khib_walk_memory *mem)
{
    return action == KHIB_WALK_WRITE && !mem->by_mmap && mem->zero_from != 0; /* zeros to write somewhere */
}

static int maps_memory(enum khib_walk_action action, const struct khib_walk_memory *mem)
{
    return action == KHIB_WALK_COMPARE || (action == KHIB_WALK_WRITE && mem->by_mmap);
}

size_t khib_walk_buffers(unsigned threads, enum khib_walk_action action, const struct khib_walk_memory *mem)
{
    return (size_t)reader_blocks(threads) * READER_BLOCK +
           (size_t)threads * (KHIB_CHUNK_RAW_MAX + khib_decoder_mem() +
                              (needs_zero_buf(action, mem) ? ZERO_BUF : 0));
}

struct block {
    struct reader_block rb;
    uint32_t pending;        /* chunks of the block not finished */
};

struct walk;

struct worker {
    struct walk *p;
    pthread_t t;
    int started;
    struct khib_decoder dd;
    uint8_t *raw;            /* a chunk's nonzero pages */
    uint8_t *zeros;          /* pwrite of zero pages where the file is not known zero */
    struct khib_physmem pm;  /* mapped memory: this worker's window */
    int pm_open;
};

struct walk {
    const struct khib_chunk *chunks;
    uint32_t n;
    enum khib_walk_action action;
    const struct khib_walk_memory *mem;
    const struct khib_seal *seal;   /* encrypted image: its keys (img->seal) */
    struct block *blk;
    unsigned nblk;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t next;           /* next chunk for a worker */
    uint32_t loaded;         /* chunks below this are in blocks */
    uint64_t done;           /* bytes of memory finished */
    uint64_t half;           /* writing: half of the memory's bytes, rounded up (else 0) */
    int stop;
    int rc;
    uint32_t err_index;
    char err[600];
};

/* Record a failure of chunk index (the lowest index wins) and stop.  Lock held. */
static void fail_locked(struct walk *p, int rc, uint32_t index, const char *msg)
{
    if (!p->rc || index < p->err_index) {
        p->rc = rc;
        p->err_index = index;
        snprintf(p->err, sizeof p->err, "%s", msg);
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
}

enum { PAGE_STORED, PAGE_ZERO, PAGE_EXCLUDED };

static int page_kind(const struct khib_chunk *c, uint32_t p)
{
    return khib_bitmap_test(c->excluded_bitmap, p) ? PAGE_EXCLUDED
           : khib_bitmap_test(c->zero_bitmap, p)   ? PAGE_ZERO
                                                   : PAGE_STORED;
}

/* Place the stored pages of raw and zero the pages marked zero, writing a
 * zero page only where memory is not zero already; excluded pages are not
 * touched. */
static void scatter(uint8_t *dst, const struct khib_chunk *c, const uint8_t *raw)
{
    for (uint32_t p = 0; p < c->pages; p++) {
        uint8_t *page = dst + (size_t)p * KHIB_PAGE_SIZE;
        int kind = page_kind(c, p);
        if (kind == PAGE_ZERO) {
            if (!khib_page_is_zero(page))
                memset(page, 0, KHIB_PAGE_SIZE);
        } else if (kind == PAGE_STORED) {
            memcpy(page, raw, KHIB_PAGE_SIZE);
            raw += KHIB_PAGE_SIZE;
        }
    }
}

/* The first page of the chunk that differs from mem, or c->pages (excluded
 * pages are not compared). */
static uint32_t compare(const uint8_t *mem, const struct khib_chunk *c, const uint8_t *raw)
{
    for (uint32_t p = 0; p < c->pages; p++) {
        const uint8_t *page = mem + (size_t)p * KHIB_PAGE_SIZE;
        int kind = page_kind(c, p);
        if (kind == PAGE_EXCLUDED)
            continue;
        if (kind == PAGE_ZERO ? !khib_page_is_zero(page) : memcmp(page, raw, KHIB_PAGE_SIZE) != 0)
            return p;
        if (kind == PAGE_STORED)
            raw += KHIB_PAGE_SIZE;
    }
    return c->pages;
}

/* Zeros at [off, end), except what is known zero already. */
static int write_zeros(struct worker *wk, uint64_t off, uint64_t end, char *err, size_t errlen)
{
    const struct khib_walk_memory *d = wk->p->mem;
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

/* The runs of stored pages of raw with pwrite, zero pages as needed,
 * excluded pages left alone. */
static int write_pages(struct worker *wk, const struct khib_chunk *c, const uint8_t *raw, char *err, size_t errlen)
{
    const struct khib_walk_memory *d = wk->p->mem;
    uint64_t base = c->first_pfn << KHIB_PAGE_SHIFT;
    uint32_t p = 0;
    while (p < c->pages) {
        int kind = page_kind(c, p);
        uint32_t q = p + 1;
        while (q < c->pages && page_kind(c, q) == kind)
            q++;
        uint64_t off = base + (uint64_t)p * KHIB_PAGE_SIZE, len = (uint64_t)(q - p) * KHIB_PAGE_SIZE;
        if (kind == PAGE_ZERO) {
            if (write_zeros(wk, off, off + len, err, errlen) != 0)
                return -1;
        } else if (kind == PAGE_STORED) {
            if (khib_pwrite_all(d->fd, raw, (size_t)len, off, d->name, err, errlen) != 0)
                return -1;
            raw += len;
        }
        p = q;
    }
    return 0;
}

/* Check chunk i (its frame at frame) and do the walk's action with its
 * pages.  0, or a KHIB_IMG_* / KHIB_WALK_MEM_ERROR code with msg. */
static int walk_chunk(struct worker *wk, uint32_t i, const uint8_t *frame, char *msg, size_t msglen)
{
    const struct walk *p = wk->p;
    const struct khib_chunk *c = &p->chunks[i];
    char name[80], why[400];
    khib_chunk_name(i, c, name, sizeof name);
    size_t bytes = (size_t)c->pages * KHIB_PAGE_SIZE;
    uint8_t *mem = NULL;
    if (wk->pm_open) {
        mem = khib_physmem_map(&wk->pm, c->first_pfn << KHIB_PAGE_SHIFT, bytes, why, sizeof why);
        if (!mem && p->action == KHIB_WALK_COMPARE) {
            snprintf(msg, msglen, "%s: cannot read the memory again: %s", name, why);
            return KHIB_IMG_IO;
        }
        if (!mem) {
            snprintf(msg, msglen, "%s: %s", name, why);
            return KHIB_WALK_MEM_ERROR;
        }
    }
    /* Encrypted (docs/encryption.md): the frame is authenticated and
     * decrypted in place, in the block that only this worker reads it from. */
    struct khib_chunk opened;
    if (p->seal && c->stored_len) {
        opened = *c;
        if (khib_open_chunk(p->seal, i, c, (uint8_t *)frame, &opened.stored_len, &opened.checksum, why,
                            sizeof why) != 0) {
            snprintf(msg, msglen, "%s: %s", name, why);
            return KHIB_IMG_BAD;
        }
        c = &opened;
    }
    if (p->action == KHIB_WALK_AUTH)
        return KHIB_IMG_OK;
    /* Writing without zero pages: the frame expands straight into memory. */
    int direct = p->action == KHIB_WALK_WRITE && mem && c->raw_len == bytes;
    if (khib_chunk_expand(&wk->dd, c, frame, direct ? mem : wk->raw, why, sizeof why) != 0) {
        snprintf(msg, msglen, "%s: %s: the image is damaged", name, why);
        return KHIB_IMG_BAD;
    }
    if (p->action == KHIB_WALK_COMPARE) {
        uint32_t bad = compare(mem, c, wk->raw);
        if (bad < c->pages) {
            snprintf(msg, msglen, "%s: page 0x%" PRIx64 " in the image differs from memory", name,
                     c->first_pfn + bad);
            return KHIB_IMG_BAD;
        }
    } else if (p->action == KHIB_WALK_WRITE && mem && !direct) {
        scatter(mem, c, wk->raw);
    } else if (p->action == KHIB_WALK_WRITE && !mem && write_pages(wk, c, wk->raw, why, sizeof why) != 0) {
        snprintf(msg, msglen, "%s: %s", name, why);
        return KHIB_WALK_MEM_ERROR;
    }
    return KHIB_IMG_OK;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct walk *p = wk->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next < p->n && p->next >= p->loaded)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->next >= p->n)
            break;
        uint32_t i = p->next++;
        struct block *b = NULL;
        for (unsigned k = 0; k < p->nblk && !b; k++)
            if (p->blk[k].pending && i >= p->blk[k].rb.a && i < p->blk[k].rb.b)
                b = &p->blk[k];
        pthread_mutex_unlock(&p->mu);

        const struct khib_chunk *c = &p->chunks[i];
        char msg[600];
        int rc = walk_chunk(wk, i, reader_frame(&b->rb, c), msg, sizeof msg);

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

/* The caller's part: blocks in order, as they become free. */
static void read_all(struct walk *p, struct reader *r, struct khib_progress *prog)
{
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
        char msg[600];
        int rc = reader_fill(r, &b->rb, a, msg, sizeof msg);
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            fail_locked(p, KHIB_IMG_IO, a, msg);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        b->pending = b->rb.b - a;
        p->loaded = b->rb.b;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        a = b->rb.b;
    }
}

/* A worker's buffers, decoder and (mapped memory) window.  0, or a
 * KHIB_IMG_IO / KHIB_WALK_MEM_ERROR code with err. */
static int worker_init(struct worker *wk, struct walk *p, char *err, size_t errlen)
{
    wk->p = p;
    if (!(wk->raw = malloc(KHIB_CHUNK_RAW_MAX)) || khib_decoder_init(&wk->dd, err, errlen) != 0 ||
        (needs_zero_buf(p->action, p->mem) && !(wk->zeros = calloc(1, ZERO_BUF)))) {
        snprintf(err, errlen, "out of memory for the walk's buffers");
        return KHIB_IMG_IO;
    }
    if (maps_memory(p->action, p->mem)) {
        const struct khib_walk_memory *m = p->mem;
        if (khib_physmem_open(&wk->pm, m->fd, m->name, m->seg, m->nseg, p->action == KHIB_WALK_WRITE,
                              KHIB_PHYSMEM_WINDOW, err, errlen) != 0)
            return KHIB_WALK_MEM_ERROR;
        wk->pm_open = 1;
    }
    return KHIB_IMG_OK;
}

static void worker_free(struct worker *wk)
{
    if (wk->pm_open)
        khib_physmem_close(&wk->pm);
    if (wk->dd.dctx)
        khib_decoder_free(&wk->dd);
    free(wk->raw);
    free(wk->zeros);
}

int khib_walk(struct khib_image *img, enum khib_walk_action action, const struct khib_walk_memory *mem,
              unsigned threads, struct khib_progress *prog, int *direct_out, char *err, size_t errlen)
{
    struct walk p;
    memset(&p, 0, sizeof p);
    p.chunks = img->idx.chunks;
    p.n = img->idx.chunk_count;
    p.action = action;
    p.mem = mem;
    p.seal = img->seal;
    p.nblk = reader_blocks(threads);
    if (action == KHIB_WALK_WRITE)
        p.half = (img->sb.pages_total * KHIB_PAGE_SIZE + 1) / 2;
    int rc = KHIB_IMG_IO, sync_ok = 0, reading = 0;
    struct reader r;
    struct worker *wk = calloc(threads, sizeof *wk);
    p.blk = calloc(p.nblk, sizeof *p.blk);
    if (!wk || !p.blk)
        goto oom;
    for (unsigned k = 0; k < p.nblk; k++)
        if (reader_block_alloc(&p.blk[k].rb) != 0)
            goto oom;
    for (unsigned t = 0; t < threads; t++)
        if ((rc = worker_init(&wk[t], &p, err, errlen)) != KHIB_IMG_OK)
            goto out;
    rc = KHIB_IMG_IO;
    if (khib_sync_init(&p.mu, &p.cv, err, errlen) != 0)
        goto out;
    sync_ok = 1;
    if (reader_init(&r, img, err, errlen) != 0)
        goto out;
    reading = 1;
    for (unsigned t = 0; t < threads; t++) {
        if (khib_thread_start(&wk[t].t, worker_main, &wk[t], "decompression", err, errlen) != 0) {
            pthread_mutex_lock(&p.mu);
            fail_locked(&p, KHIB_IMG_IO, 0, err);
            pthread_mutex_unlock(&p.mu);
            break;
        }
        wk[t].started = 1;
    }
    read_all(&p, &r, prog);
    for (unsigned t = 0; t < threads; t++)
        if (wk[t].started)
            pthread_join(wk[t].t, NULL);
    if (direct_out)
        *direct_out = r.direct;
    reading = 0;
    if (reader_finish(&r, err, errlen) != 0 && !p.rc)
        goto out;
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
    snprintf(err, errlen, "out of memory for the walk's buffers");
out:
    if (reading)
        (void)reader_finish(&r, err, 0);
    if (sync_ok) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    for (unsigned t = 0; wk && t < threads; t++)
        worker_free(&wk[t]);
    for (unsigned k = 0; p.blk && k < p.nblk; k++)
        free(p.blk[k].rb.buf);
    free(p.blk);
    free(wk);
    return rc;
}
