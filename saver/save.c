#define _GNU_SOURCE
#include "save.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "faultpoint.h"
#include "image_codec.h"
#include "save_budget.h"
#include "target.h"
#include "threads.h"
#include "walk.h"

/* A run of consecutive chunks of one segment, mapped or read at once. */
struct window {
    uint32_t first, count;   /* chunks */
    uint32_t seg;
    uint64_t paddr, len;     /* memory it covers */
    uint8_t *map;            /* mapped: its first map_len bytes (the rest is past p_filesz: zero) */
    size_t map_len;
    uint32_t left;           /* chunks not compressed yet */
};

int save_needs_bounce(const struct save_input *in)
{
    if (!in->by_mmap)
        return 1;
    for (uint32_t i = 0; i < in->src->nseg; i++)
        if (in->src->seg[i].filesz < in->src->seg[i].size)
            return 1;
    return 0;
}

size_t save_mem(const struct save_input *in, unsigned threads, int level)
{
    return khib_save_buffers(threads, level, save_needs_bounce(in));
}

size_t save_table_mem(uint32_t chunks, uint64_t index_bytes)
{
    return (size_t)chunks * (sizeof(struct khib_chunk) + sizeof(struct window) + sizeof(uint32_t)) +
           (size_t)index_bytes;
}

struct pipeline;

struct worker {
    struct pipeline *p;
    pthread_t t;
    int started;
    struct khib_coder cd;
    uint8_t *bounce;         /* mapped chunks reaching past a segment's p_filesz */
};

struct pipeline {
    const struct save_input *in;
    struct khib_chunk *chunks;
    uint32_t n;
    struct window *win;
    uint32_t nwin;
    uint32_t *chunk_win;     /* window of each chunk */
    uint8_t *slots;
    size_t slot_size;
    unsigned nslots;
    uint32_t *slot_done;     /* chunk index + 1 of the frame ready in each slot, 0: none */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t next;           /* next chunk to compress */
    uint32_t consumed;       /* chunks the writer has taken */
    uint32_t ready;          /* windows mapped or read so far (in order) */
    struct writer *wr;
    int level;               /* KHIB_LEVEL_AUTO: store_chunk() decides; KHIB_LEVEL_STORE: store all */
    unsigned threads;
    /* What level auto has learnt so far: wall seconds the workers spent
     * compressing and storing, the raw bytes of both, the compressed output;
     * and the fraction of a chunk owed to storing. */
    double comp_s, store_s, credit;
    uint64_t comp_in, comp_out, store_in;
    int stop;
    int rc;                  /* first error: SAVE_INPUT_ERROR or SAVE_TARGET_ERROR */
    char err[600];
};

/* Record the first error and stop everyone.  Called with the lock held. */
static void fail_locked(struct pipeline *p, int rc, const char *msg)
{
    if (!p->rc) {
        p->rc = rc;
        snprintf(p->err, sizeof p->err, "%s", msg);
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
}

static void fail(struct pipeline *p, int rc, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    fail_locked(p, rc, msg);
    pthread_mutex_unlock(&p->mu);
}

static int plan_windows(struct pipeline *p)
{
    const struct khib_segment *sg = p->in->src->seg;
    uint32_t nseg = p->in->src->nseg;
    p->win = calloc(p->n, sizeof *p->win);
    p->chunk_win = calloc(p->n, sizeof *p->chunk_win);
    if (!p->win || !p->chunk_win)
        return -1;
    uint64_t max = SAVE_WINDOW;
    uint32_t seg = 0;
    struct window *w = NULL;
    for (uint32_t i = 0; i < p->n; i++) {
        const struct khib_chunk *c = &p->chunks[i];
        uint64_t paddr = c->first_pfn << KHIB_PAGE_SHIFT, len = (uint64_t)c->pages * KHIB_PAGE_SIZE;
        while (seg < nseg && paddr >= sg[seg].paddr + sg[seg].size)
            seg++;
        if (seg == nseg || paddr < sg[seg].paddr)
            return -1;
        if (!w || w->seg != seg || w->paddr + w->len != paddr || w->len + len > max) {
            w = &p->win[p->nwin++];
            w->first = i;
            w->seg = seg;
            w->paddr = paddr;
        }
        w->count++;
        w->left++;
        w->len += len;
        p->chunk_win[i] = (uint32_t)(w - p->win);
    }
    return 0;
}

/* The file bytes of window w: [*off, *off + return value). */
static size_t file_part(const struct pipeline *p, const struct window *w, uint64_t *off)
{
    const struct khib_segment *s = &p->in->src->seg[w->seg];
    return khib_segment_in_file(s, w->paddr - s->paddr, w->len, off);
}

static void chunk_error(const struct pipeline *p, uint32_t i, const char *why, char *err, size_t errlen)
{
    char name[80];
    khib_chunk_name(i, &p->chunks[i], name, sizeof name);
    snprintf(err, errlen, "cannot read the memory of %s: %s", name, why);
}

/* Map window w (faulted in here rather than in the workers). */
static int map_window(struct pipeline *p, struct window *w, char *err, size_t errlen)
{
    uint64_t off;
    size_t len = file_part(p, w, &off);
    if (len == 0)
        return 0;
    const struct khib_segment *s = &p->in->src->seg[w->seg];
    char why[300];
    void *m = khib_physmem_map_read(p->in->src, s, w->paddr - s->paddr, len, why, sizeof why);
    if (!m) {
        chunk_error(p, w->first, why, err, errlen);
        return -1;
    }
    w->map = m;
    w->map_len = len;
    return 0;
}

/* Ask the kernel to read the file bytes of window i in the background. */
static void read_ahead(const struct pipeline *p, uint32_t i)
{
    if (i >= p->nwin)
        return;
    const struct window *w = &p->win[i];
    const struct khib_segment *s = &p->in->src->seg[w->seg];
    khib_physmem_read_ahead(p->in->src, s, w->paddr - s->paddr, w->len);
}

/* Read the pages of chunk i into the worker's buffer (zeros past the file). */
static int read_chunk(struct worker *wk, uint32_t i, char *err, size_t errlen)
{
    const struct pipeline *p = wk->p;
    const struct khib_chunk *c = &p->chunks[i];
    const struct khib_segment *s = &p->in->src->seg[p->win[p->chunk_win[i]].seg];
    char why[400];
    if (khib_physmem_read(p->in->src, s, (c->first_pfn << KHIB_PAGE_SHIFT) - s->paddr, wk->bounce,
                          (size_t)c->pages * KHIB_PAGE_SIZE, why, sizeof why) != 0) {
        chunk_error(p, i, why, err, errlen);
        return -1;
    }
    return 0;
}

static void *reader_main(void *arg)
{
    struct pipeline *p = arg;
    for (uint32_t i = 0; !p->in->by_mmap && i < SAVE_DEPTH; i++)
        read_ahead(p, i);
    for (uint32_t i = 0; i < p->nwin; i++) {
        /* Window i takes the place of window i - SAVE_DEPTH. */
        pthread_mutex_lock(&p->mu);
        while (!p->stop && i >= SAVE_DEPTH && p->win[i - SAVE_DEPTH].left)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        char err[600];
        int rc = 0;
        if (p->in->by_mmap)
            rc = map_window(p, &p->win[i], err, sizeof err);
        else
            read_ahead(p, i + SAVE_DEPTH); /* the workers read window i themselves */
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            fail_locked(p, SAVE_INPUT_ERROR, err);
        } else {
            p->ready = i + 1;
            pthread_cond_broadcast(&p->cv);
        }
        pthread_mutex_unlock(&p->mu);
        if (rc != 0)
            break;
    }
    return NULL;
}

/* Level auto: whether to store the next chunk uncompressed, by the rates
 * measured so far (khib_store_fraction).  The target's rate counts at half:
 * a disk's rate in bursts overstates what it sustains (write caches,
 * throttling, and idle time refilling both), and storing too much costs
 * more than storing too little.  Until 16 MiB have been written and 8 MiB
 * compressed everything is compressed.  Called with the lock held. */
static int store_chunk(struct pipeline *p)
{
    uint64_t written;
    double rate = writer_rate(p->wr, &written) / 2;
    if (written < (16u << 20) || p->comp_in < (8u << 20) || p->comp_s <= 0)
        return 0;
    double vc = (double)p->comp_in / p->comp_s;
    double vs = p->store_in && p->store_s > 0 ? (double)p->store_in / p->store_s : 20 * vc;
    p->credit += khib_store_fraction(p->threads, vc, vs, (double)p->comp_out / (double)p->comp_in, rate);
    if (p->credit < 1)
        return 0;
    p->credit -= 1;
    return 1;
}

/* The mapped pages of chunk i (or, where the chunk reaches past the file,
 * a copy in the bounce buffer: then *own is set). */
static uint8_t *chunk_pages(struct worker *wk, uint32_t i, int *own)
{
    struct pipeline *p = wk->p;
    const struct khib_chunk *c = &p->chunks[i];
    const struct window *w = &p->win[p->chunk_win[i]];
    uint64_t rel = (c->first_pfn << KHIB_PAGE_SHIFT) - w->paddr;
    size_t bytes = (size_t)c->pages * KHIB_PAGE_SIZE;
    *own = 0;
    if (rel + bytes <= w->map_len)
        return w->map + rel;
    size_t have = rel < w->map_len ? w->map_len - (size_t)rel : 0;
    if (have)
        memcpy(wk->bounce, w->map + rel, have);
    memset(wk->bounce + have, 0, bytes - have);
    *own = 1;
    return wk->bounce;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct pipeline *p = wk->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next < p->n &&
               (p->next >= p->consumed + p->nslots || p->chunk_win[p->next] >= p->ready))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->next >= p->n)
            break;
        uint32_t i = p->next++;
        int store = p->level == KHIB_LEVEL_STORE || (p->level == KHIB_LEVEL_AUTO && store_chunk(p));
        pthread_mutex_unlock(&p->mu);

        struct khib_chunk *c = &p->chunks[i];
        uint8_t *slot = p->slots + (size_t)(i % p->nslots) * p->slot_size;
        char why[500], msg[600];
        int own = 1, rc = 0;
        uint8_t *pages = wk->bounce;
        /* A chunk of excluded pages only is not read at all. */
        int skip = khib_bitmap_count(c->excluded_bitmap, c->pages) == c->pages;
        if (p->in->by_mmap)
            pages = chunk_pages(wk, i, &own);
        else if (!skip && (rc = read_chunk(wk, i, msg, sizeof msg)) != 0)
            goto failed;
        double t0 = khib_now();
        rc = own ? khib_chunk_compress_in_place(&wk->cd, pages, c, slot, p->slot_size, store, why, sizeof why)
                 : khib_chunk_compress(&wk->cd, pages, c, slot, p->slot_size, store, why, sizeof why);
        double took = khib_now() - t0;
        /* Encrypted: the frame and its checksum, sealed in the slot. */
        if (rc == 0 && p->in->seal)
            rc = khib_seal_chunk(p->in->seal, i, c, slot, c->stored_len, why, sizeof why);
        if (rc != 0) {
            char name[80];
            khib_chunk_name(i, c, name, sizeof name);
            snprintf(msg, sizeof msg, "%s: %s", name, why);
        }
    failed:
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            fail_locked(p, SAVE_INPUT_ERROR, msg);
            break;
        }
        p->slot_done[i % p->nslots] = i + 1;
        if (c->flags & KHIB_CHUNK_STORED) {
            p->store_s += took;
            p->store_in += c->raw_len;
        } else if (c->raw_len) {
            p->comp_s += took;
            p->comp_in += c->raw_len;
            p->comp_out += c->stored_len;
        }
        struct window *w = &p->win[p->chunk_win[i]];
        if (--w->left == 0 && w->map) {
            uint8_t *m = w->map;
            size_t len = w->map_len;
            w->map = NULL;
            pthread_mutex_unlock(&p->mu);
            munmap(m, len);
            pthread_mutex_lock(&p->mu);
        }
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The caller's part: frames in chunk order to the writer. */
static void collect(struct pipeline *p, struct writer *wr, struct khib_progress *prog, struct save_totals *tot)
{
    uint64_t done = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        unsigned s = i % p->nslots;
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->slot_done[s] != i + 1)
            pthread_cond_wait(&p->cv, &p->mu);
        int ready = p->slot_done[s] == i + 1;
        pthread_mutex_unlock(&p->mu);
        if (!ready)
            return;
        struct khib_chunk *c = &p->chunks[i];
        c->offset = wr->pos;
        char err[600];
        if (writer_append(wr, p->slots + (size_t)s * p->slot_size, c->stored_len, err, sizeof err) != 0) {
            fail(p, SAVE_TARGET_ERROR, err);
            return;
        }
        pthread_mutex_lock(&p->mu);
        p->slot_done[s] = 0;
        p->consumed = i + 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        uint32_t excluded = khib_bitmap_count(c->excluded_bitmap, c->pages);
        uint32_t stored = c->raw_len / KHIB_PAGE_SIZE;
        tot->pages_zero += c->pages - stored - excluded;
        tot->pages_excluded += excluded;
        tot->pages_stored += stored;
        tot->data_bytes += c->stored_len;
        tot->chunks_stored += (c->flags & KHIB_CHUNK_STORED) != 0;
        done += (uint64_t)c->pages * KHIB_PAGE_SIZE;
        khib_progress_update(prog, done);
        /* Only the caller appends: stopped here, no frame follows. */
        if (i + 1 == (p->n + 1) / 2)
            khib_faultpoint(KHIB_FP_SAVE_HALF_DATA);
    }
}

int save_chunks(const struct save_input *in, unsigned threads, int level, struct khib_chunk *chunks, uint32_t n,
                struct writer *wr, struct khib_progress *prog, struct save_totals *tot, char *err, size_t errlen)
{
    memset(tot, 0, sizeof *tot);
    struct pipeline p;
    memset(&p, 0, sizeof p);
    p.in = in;
    p.chunks = chunks;
    p.n = n;
    p.wr = wr;
    p.threads = threads;
    p.level = level;
    p.nslots = khib_save_slots(threads);
    p.slot_size = khib_frame_bound() + KHIB_SEAL_OVERHEAD;
    int bounce = save_needs_bounce(in);
    struct worker *wk = calloc(threads, sizeof *wk);
    p.slots = malloc((size_t)p.nslots * p.slot_size);
    p.slot_done = calloc(p.nslots, sizeof *p.slot_done);
    int rc = SAVE_INPUT_ERROR;
    int sync_ok = 0;
    pthread_t reader;
    int reader_started = 0;
    if (!wk || !p.slots || !p.slot_done)
        goto oom;
    if (plan_windows(&p) != 0) {
        snprintf(err, errlen, "out of memory for the reading plan, or chunks outside the memory");
        goto out;
    }
    for (unsigned t = 0; t < threads; t++) {
        wk[t].p = &p;
        if (khib_coder_init(&wk[t].cd, level, err, errlen) != 0)
            goto out;
        if (bounce && !(wk[t].bounce = malloc(KHIB_CHUNK_RAW_MAX)))
            goto oom;
    }
    if (khib_sync_init(&p.mu, &p.cv, err, errlen) != 0)
        goto out;
    sync_ok = 1;
    if (khib_thread_start(&reader, reader_main, &p, "reader", err, errlen) != 0)
        goto out;
    reader_started = 1;
    for (unsigned t = 0; t < threads; t++) {
        if (khib_thread_start(&wk[t].t, worker_main, &wk[t], "compression", err, errlen) != 0) {
            fail(&p, SAVE_INPUT_ERROR, err);
            break;
        }
        wk[t].started = 1;
    }
    collect(&p, wr, prog, tot);
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory for the compression buffers");
out:
    if (sync_ok && (rc != 0 || p.rc)) {
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
    }
    for (unsigned t = 0; t < threads; t++)
        if (wk && wk[t].started)
            pthread_join(wk[t].t, NULL);
    if (reader_started)
        pthread_join(reader, NULL);
    if (rc == 0 && p.rc) {
        rc = p.rc;
        snprintf(err, errlen, "%s", p.err);
    }
    if (rc == 0 && writer_finish(wr, err, errlen) != 0)
        rc = SAVE_TARGET_ERROR;
    for (uint32_t i = 0; p.win && i < p.nwin; i++)
        if (p.win[i].map)
            munmap(p.win[i].map, p.win[i].map_len);
    if (sync_ok) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    for (unsigned t = 0; wk && t < threads; t++) {
        khib_coder_free(&wk[t].cd);
        free(wk[t].bounce);
    }
    free(wk);
    free(p.win);
    free(p.chunk_win);
    free(p.slots);
    free(p.slot_done);
    return rc;
}

int save_verify(const char *path, uint64_t offset, const uint8_t uuid[16], const struct save_input *in, unsigned threads,
                struct khib_progress *prog, char *err, size_t errlen)
{
    struct khib_image img;
    int rc = khib_image_open_at(&img, path, offset, KHIB_OPEN_READ, err, errlen);
    if (rc != KHIB_IMG_OK) {
        khib_image_close(&img);
        return rc == KHIB_IMG_NONE ? KHIB_IMG_BAD : rc;
    }
    /* Read from the device, not from the page cache we wrote through. */
    (void)posix_fadvise(img.t.fd, 0, 0, POSIX_FADV_DONTNEED);
    if (img.sb.state != KHIB_STATE_COMMITTED || memcmp(img.sb.uuid, uuid, 16) != 0) {
        snprintf(err, errlen, "%s does not hold the image just committed (state %s)", path,
                 khib_state_name(img.sb.state));
        rc = KHIB_IMG_BAD;
    } else {
        rc = khib_image_load_index(&img, err, errlen);
    }
    img.seal = in->seal;
    if (rc == KHIB_IMG_OK && img.sb.cipher != (in->seal ? in->seal->cipher : KHIB_CIPHER_NONE)) {
        snprintf(err, errlen, "%s does not hold the image just committed (cipher %s)", path,
                 khib_cipher_name(img.sb.cipher));
        rc = KHIB_IMG_BAD;
    }
    if (rc == KHIB_IMG_OK && img.sb.cipher)
        rc = khib_seal_check_image(in->seal, img.t.fd, path, &img.sb, &img.idx, err, errlen) ? KHIB_IMG_BAD : 0;
    if (rc == KHIB_IMG_OK) {
        const struct khib_physmem *src = in->src;
        struct khib_walk_memory mem = {.fd = src->fd, .name = src->name, .by_mmap = 1, .seg = src->seg,
                                       .nseg = src->nseg};
        rc = khib_walk(&img, KHIB_WALK_COMPARE, &mem, threads, prog, NULL, err, errlen);
    }
    khib_image_close(&img);
    return rc;
}
