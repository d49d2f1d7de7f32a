/* khib-save: save the memory an ELF core header describes as a khib image.
 * Runs in the transient kernel B (headers from A, memory through /dev/mem)
 * and in tests (a core file with its data).  docs/khib-save.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk_codec.h"
#include "elfcore.h"
#include "faultpoint.h"
#include "fsrecord.h"
#include "image.h"
#include "physmem.h"
#include "progress.h"
#include "save.h"
#include "threads.h"
#include "uuid.h"
#include "writer.h"
#include "xxhash64.h"

#define PROG "khib-save"
#define DEFAULT_LEVEL KHIB_LEVEL_AUTO
#define CHUNK_PAGES 256u

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_TARGET = 3, EXIT_FS = 4 };

struct options {
    const char *core;
    const char *elfcorehdr;
    const char *mem;
    const char *target;
    int level;          /* 0: from the note, else DEFAULT_LEVEL */
    uint64_t entry;
    int verify_after;
    int quiet;
    unsigned threads;   /* 0: khib_default_threads() */
    int mmap;           /* map a file instead of reading it */
};

static void usage(FILE *out)
{
    char level[16];
    khib_level_format(DEFAULT_LEVEL, level, sizeof level);
    fprintf(out,
            "Usage: khib-save --core FILE [options]\n"
            "       khib-save --elfcorehdr FILE [--mem DEV] [options]\n"
            "Save the physical memory an ELF core header describes as a khib image.\n"
            "\n"
            "Input (one of):\n"
            "  --core FILE            an ELF core with the memory after its headers (tests)\n"
            "  --elfcorehdr FILE      an ELF core header only; the memory is read from DEV\n"
            "  --mem DEV              memory device for --elfcorehdr (default /dev/mem)\n"
            "Options:\n"
            "  --target PATH          block device or file for the image (default: the target\n"
            "                         named in the header's khib note).  A regular file that is\n"
            "                         empty or missing grows to the image's size; otherwise the\n"
            "                         image must fit in the file's or device's size\n"
            "  --level N|auto|store   zstd level; auto: level 1, but where the CPUs compress\n"
            "                         slower than the target writes, chunks are stored\n"
            "                         uncompressed to balance the two; store: every chunk\n"
            "                         uncompressed (default: the note's, else %s)\n"
            "  --threads N            compression threads (default: the CPUs, at most %u)\n"
            "  --mmap                 map a core or memory file in windows, as a memory device\n"
            "                         always is, instead of reading it (benchmarks)\n"
            "  --jump-back-entry ADDR hex physical address the restorer jumps to\n"
            "  --verify-after         after committing, read the image back and compare every\n"
            "                         chunk with memory; on a mismatch the image is invalidated\n"
            "  --quiet                no progress lines\n"
            "  --help                 this text\n"
            "\n"
            "Exit status: 0 saved and committed; 1 usage error; 2 input error (bad core\n"
            "header, unreadable memory); 3 target error (too small, I/O error, verification\n"
            "failed); 4 a file system the saved system had mounted cannot be recorded (not\n"
            "found, or not readable: nothing was written).  After any failure the target\n"
            "holds no committed image.\n",
            level, KHIB_THREADS_DEFAULT_MAX);
}

/* A mapping of memory that is not there (a core file truncated while we
 * read it, a /dev/mem page the kernel refuses) raises SIGBUS. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char msg[200] = PROG ": memory read failed (SIGBUS at 0x";
    size_t n = strlen(msg);
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int shift = (int)sizeof a * 8 - 4; shift >= 0; shift -= 4)
        msg[n++] = "0123456789abcdef"[(a >> shift) & 15];
    const char *tail = "): the core file shrank, or the kernel refused a page of /dev/mem;"
                       " no image was committed\n";
    memcpy(msg + n, tail, strlen(tail));
    n += strlen(tail);
    ssize_t w = write(2, msg, n);
    (void)w;
    _exit(EXIT_INPUT);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"core", required_argument, 0, 'c'},         {"elfcorehdr", required_argument, 0, 'e'},
        {"mem", required_argument, 0, 'm'},          {"target", required_argument, 0, 't'},
        {"level", required_argument, 0, 'l'},        {"jump-back-entry", required_argument, 0, 'j'},
        {"verify-after", no_argument, 0, 'v'},       {"quiet", no_argument, 0, 'q'},
        {"threads", required_argument, 0, 'T'},      {"mmap", no_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->core = optarg; break;
        case 'e': o->elfcorehdr = optarg; break;
        case 'm': o->mem = optarg; break;
        case 't': o->target = optarg; break;
        case 'l':
            if (khib_level_parse(optarg, &o->level) != 0) {
                fprintf(stderr, PROG ": --level needs auto, store or a nonzero zstd level, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            errno = 0;
            o->entry = strtoull(optarg, &end, 16);
            if (errno || *end || end == optarg) {
                fprintf(stderr, PROG ": --jump-back-entry needs a hex address, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'T':
            if (khib_threads_option(PROG, optarg, &o->threads) != 0)
                return EXIT_USAGE;
            break;
        case 'M': o->mmap = 1; break;
        case 'v': o->verify_after = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o->core == !o->elfcorehdr) {
        fprintf(stderr, PROG ": give exactly one of --core FILE and --elfcorehdr FILE (see --help)\n");
        return EXIT_USAGE;
    }
    if (o->core && o->mem) {
        fprintf(stderr, PROG ": --mem goes with --elfcorehdr, not --core\n");
        return EXIT_USAGE;
    }
    if (!o->mem)
        o->mem = "/dev/mem";
    if (!o->threads)
        o->threads = khib_default_threads();
    return EXIT_OK;
}

/* The memory to save: the core's segments, readable through src. */
struct input {
    struct khib_elfcore core;
    int fd;
    const char *name;
    struct khib_segment *seg;   /* core.seg, or identity segments for /dev/mem */
    struct khib_range *ranges;
    struct khib_physmem src;
    int is_device;              /* a character device (/dev/mem): mapped, never read */
};

static int open_input(const struct options *o, struct input *in, char *err, size_t errlen)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    const char *hdr = o->core ? o->core : o->elfcorehdr;
    if (khib_elfcore_load(hdr, &in->core, err, errlen) != 0)
        return -1;
    uint32_t n = in->core.nseg;
    in->ranges = calloc(n, sizeof *in->ranges);
    if (!in->ranges) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        in->ranges[i].start_pfn = in->core.seg[i].paddr >> KHIB_PAGE_SHIFT;
        in->ranges[i].pages = in->core.seg[i].size >> KHIB_PAGE_SHIFT;
    }
    if (in->core.has_note) {
        const struct khib_note *nt = &in->core.note;
        uint64_t ws = nt->window_start, we = nt->window_start + nt->window_size;
        for (uint32_t i = 0; i < n; i++) {
            const struct khib_segment *s = &in->core.seg[i];
            if (s->paddr < we && s->paddr + s->size > ws) {
                snprintf(err, errlen, "%s: PT_LOAD [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps the window [0x%" PRIx64
                         ", 0x%" PRIx64 ") where the transient and restore kernels live: the header is wrong",
                         hdr, s->paddr, s->paddr + s->size, ws, we);
                return -1;
            }
        }
    }
    in->name = o->core ? o->core : o->mem;
    in->fd = open(in->name, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", in->name, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", in->name, strerror(errno));
        return -1;
    }
    in->is_device = S_ISCHR(st.st_mode);
    if (o->core) {
        char why[400];
        if (khib_elfcore_check_data(&in->core, (uint64_t)st.st_size, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s", in->name, why);
            return -1;
        }
        in->seg = in->core.seg;
    } else {
        in->seg = khib_segments_identity(in->ranges, n);
        if (!in->seg) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return khib_physmem_open(&in->src, in->fd, in->name, in->seg, n, 0, KHIB_PHYSMEM_WINDOW, err, errlen);
}

static void close_input(struct input *in)
{
    khib_physmem_close(&in->src);
    if (in->seg != in->core.seg)
        free(in->seg);
    free(in->ranges);
    if (in->fd >= 0)
        close(in->fd);
    khib_elfcore_free(&in->core);
}

/* The state of every file system A had mounted, taken before anything is
 * written: one that cannot be recorded fails the save, since a resume could
 * not tell whether it changed in between. */
static int record_file_systems(const struct khib_note *nt, struct khib_superblock *sb)
{
    for (uint32_t i = 0; i < nt->fs_count; i++) {
        char err[800];
        sb->fs[i] = nt->fs[i];
        if (khib_fs_take(&sb->fs[i], err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s; not saving\n", err);
            return -1;
        }
        char what[200];
        khib_fs_describe(&sb->fs[i], what, sizeof what);
        printf(PROG ": recorded %s\n", what);
    }
    sb->fs_count = nt->fs_count;
    return 0;
}

static uint64_t align_page(uint64_t x)
{
    return (x + KHIB_PAGE_SIZE - 1) & ~(uint64_t)(KHIB_PAGE_SIZE - 1);
}

static void too_small(const char *target, uint64_t need, uint64_t have, int at_least)
{
    char a[32], b[32];
    khib_fmt_size(need, a, sizeof a);
    khib_fmt_size(have, b, sizeof b);
    fprintf(stderr, PROG ": target %s is too small: the image needs %s%s, the target holds %s"
            " (use a larger partition, or a higher --level)\n", target, at_least ? "at least " : "", a, b);
}

struct plan {
    struct khib_chunk *chunks;
    uint32_t count;
    struct khib_index idx;
    uint64_t index_bytes;
};

/* The superblock as step 1 writes it: everything known before the data. */
static int init_superblock(const struct options *o, const struct input *in, int level, struct khib_superblock *sb)
{
    memset(sb, 0, sizeof *sb);
    memcpy(sb->magic, KHIB_MAGIC, 8);
    sb->version = KHIB_VERSION;
    sb->sb_size = KHIB_SB_SIZE;
    sb->page_size = KHIB_PAGE_SIZE;
    sb->state = KHIB_STATE_WRITING;
    sb->created_ns = khib_realtime_ns();
    sb->jump_back_entry = o->entry;
    sb->chunk_pages = CHUNK_PAGES;
    sb->compression = KHIB_COMP_ZSTD;
    sb->level = level;
    sb->range_count = in->core.nseg;
    sb->pages_total = in->core.total_bytes >> KHIB_PAGE_SHIFT;
    sb->data_offset = KHIB_SB_SIZE;
    if (in->core.has_note) {
        const struct khib_note *nt = &in->core.note;
        memcpy(sb->kernel_release, nt->kernel_release, KHIB_RELEASE_LEN);
        sb->build_id_len = nt->build_id_len;
        memcpy(sb->build_id, nt->build_id, KHIB_BUILD_ID_MAX);
        sb->memmap_digest = nt->memmap_digest;
        sb->mailbox_addr = nt->mailbox_addr;
        sb->mailbox_nonce = nt->nonce;
        sb->window_start = nt->window_start;
        sb->window_size = nt->window_size;
        return record_file_systems(nt, sb);
    }
    return 0;
}

static int save(const struct options *o, struct input *in, const char *target, int level)
{
    char err[600];
    struct khib_superblock sb;
    if (init_superblock(o, in, level, &sb) != 0)
        return EXIT_FS;
    if (khib_uuid_generate(sb.uuid, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_INPUT;
    }

    struct plan pl = {0};
    if (khib_plan_chunks(in->ranges, in->core.nseg, CHUNK_PAGES, &pl.chunks, &pl.count, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_INPUT;
    }
    sb.chunk_count = pl.count;
    pl.index_bytes = khib_index_size(sb.range_count, sb.chunk_count);

    /* The level is checked before anything is written. */
    struct khib_coder cd;
    if (khib_coder_init(&cd, level, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        free(pl.chunks);
        return EXIT_USAGE;
    }
    khib_coder_free(&cd);

    int rc = EXIT_TARGET;
    uint8_t *index = NULL;
    struct writer w = {0};
    struct khib_target t;
    if (khib_target_open(&t, target, KHIB_OPEN_CREATE, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (t.capacity < KHIB_SB_SIZE) {
        too_small(target, KHIB_SB_SIZE + align_page(pl.index_bytes), t.capacity, 1);
        goto out;
    }
    /* Step 1: WRITING, synced: an older image on the target is invalid from here on. */
    if (khib_superblock_write(t.fd, target, &sb, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    khib_faultpoint(KHIB_FP_SAVE_WRITING);
    if (t.capacity < KHIB_SB_SIZE + pl.index_bytes) {
        too_small(target, KHIB_SB_SIZE + pl.index_bytes, t.capacity, 1);
        goto out;
    }

    /* Step 2: the chunks, then the index; synced. */
    uint64_t data_limit = t.capacity == UINT64_MAX ? UINT64_MAX
                                                  : (t.capacity - pl.index_bytes) & ~(uint64_t)(KHIB_PAGE_SIZE - 1);
    /* Storing chunks uncompressed must never make an image overflow a
     * target that the compressed image would fit: only with room for all of
     * the memory as it is. */
    uint64_t worst = in->core.total_bytes + (uint64_t)pl.count * (khib_stored_frame_len(KHIB_CHUNK_RAW_MAX) -
                                                                  KHIB_CHUNK_RAW_MAX);
    if (level == KHIB_LEVEL_AUTO && data_limit < worst) {
        char have[32], need[32];
        khib_fmt_size(data_limit, have, sizeof have);
        khib_fmt_size(worst, need, sizeof need);
        printf(PROG ": level auto stores nothing uncompressed: the target has room for %s of chunks, the memory"
               " takes %s uncompressed; every chunk is compressed at level 1\n", have, need);
        level = sb.level = 1;
    }
    if (writer_init(&w, t.fd, target, KHIB_SB_SIZE, data_limit, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    struct save_input sin = {.src = &in->src, .by_mmap = o->mmap || in->is_device};
    char bufs[32], table[32];
    khib_fmt_size(save_mem(&sin, o->threads, level), bufs, sizeof bufs);
    khib_fmt_size(save_table_mem(pl.count, pl.index_bytes), table, sizeof table);
    printf(PROG ": using %u thread%s and %s of buffers (and %s for the index), %s writes\n", o->threads,
           o->threads == 1 ? "" : "s", bufs, table, w.direct ? "direct (O_DIRECT)" : "buffered");
    fflush(stdout);
    struct khib_progress prog;
    khib_progress_start(&prog, PROG, in->core.total_bytes, o->quiet);
    double t0 = khib_now();
    struct save_totals tot;
    int src = save_chunks(&sin, o->threads, level, pl.chunks, pl.count, &w, &prog, &tot, err, sizeof err);
    if (src != 0) {
        fprintf(stderr, PROG ": %s; no image was committed\n", err);
        rc = src == SAVE_INPUT_ERROR ? EXIT_INPUT : EXIT_TARGET;
        goto out;
    }
    khib_faultpoint(KHIB_FP_SAVE_DATA);
    double t_data = khib_now() - t0;
    sb.pages_zero = tot.pages_zero;
    sb.pages_stored = tot.pages_stored;
    sb.data_bytes = tot.data_bytes;
    sb.index_offset = align_page(KHIB_SB_SIZE + tot.data_bytes);
    sb.index_bytes = pl.index_bytes;
    uint64_t image_bytes = sb.index_offset + sb.index_bytes;
    if (w.overflow || image_bytes > t.capacity) {
        too_small(target, image_bytes, t.capacity, 0);
        goto out;
    }
    index = malloc(pl.index_bytes);
    if (!index) {
        fprintf(stderr, PROG ": out of memory for the index\n");
        goto out;
    }
    pl.idx.range_count = sb.range_count;
    pl.idx.chunk_count = sb.chunk_count;
    pl.idx.ranges = in->ranges;
    pl.idx.chunks = pl.chunks;
    khib_index_encode(&pl.idx, index);
    sb.index_checksum = khib_hash64(index, pl.index_bytes, 0);
    if (khib_pwrite_all(t.fd, index, pl.index_bytes, sb.index_offset, target, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s; no image was committed\n", err);
        goto out;
    }
    khib_faultpoint(KHIB_FP_SAVE_INDEX);
    /* The data and the index, synced together: the end of step 2. */
    if (khib_datasync(t.fd, target, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s; no image was committed\n", err);
        goto out;
    }
    khib_faultpoint(KHIB_FP_SAVE_SYNCED);

    /* Step 3: COMMITTED, synced. */
    sb.state = KHIB_STATE_COMMITTED;
    sb.saved_ns = khib_realtime_ns();
    if (khib_superblock_write(t.fd, target, &sb, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        /* The commit may or may not have reached the disk: take it back. */
        sb.state = KHIB_STATE_WRITING;
        if (khib_superblock_write(t.fd, target, &sb, err, sizeof err) != 0)
            fprintf(stderr, PROG ": cannot invalidate the image either: %s\n", err);
        goto out;
    }
    khib_faultpoint(KHIB_FP_SAVE_COMMITTED);
    double t_total = khib_now() - t0;

    if (o->verify_after) {
        struct khib_progress vprog;
        khib_progress_start(&vprog, PROG " (verify)", in->core.total_bytes, o->quiet);
        double v0 = khib_now();
        int vrc = save_verify(target, sb.uuid, &sin, o->threads, &vprog, err, sizeof err);
        if (vrc != KHIB_IMG_OK) {
            fprintf(stderr, PROG ": verification after the save failed: %s\n", err);
            sb.state = KHIB_STATE_WRITING;
            if (khib_superblock_write(t.fd, target, &sb, err, sizeof err) != 0)
                fprintf(stderr, PROG ": cannot invalidate the image: %s\n", err);
            else
                fprintf(stderr, PROG ": the image was invalidated (state WRITING)\n");
            goto out;
        }
        printf(PROG ": verified every chunk against memory in %.1f s\n", khib_now() - v0);
    }

    char uuid[40], total[32], stored[32], lv[16];
    khib_uuid_format(sb.uuid, uuid, sizeof uuid);
    khib_fmt_size(in->core.total_bytes, total, sizeof total);
    khib_fmt_size(image_bytes, stored, sizeof stored);
    khib_level_format(level, lv, sizeof lv);
    printf(PROG ": saved image %s on %s: %s of memory in %s (ratio %.2f), zstd level %s\n", uuid, target, total,
           stored, image_bytes ? (double)in->core.total_bytes / (double)image_bytes : 0.0, lv);
    printf(PROG ": pages: %" PRIu64 " total, %" PRIu64 " zero, %" PRIu64 " stored in %" PRIu32 " chunks"
           " (%" PRIu32 " of them uncompressed)\n", sb.pages_total, sb.pages_zero, sb.pages_stored, sb.chunk_count,
           tot.chunks_stored);
    printf(PROG ": time %.2f s, %.0f MiB/s (compression %.2f s)%s\n", t_total,
           t_total > 0 ? (double)in->core.total_bytes / (1 << 20) / t_total : 0.0, t_data,
           w.fell_back ? "; the target refused O_DIRECT writes, buffered instead" : "");
    rc = EXIT_OK;
out:
    free(index);
    writer_free(&w);
    khib_target_close(&t);
    free(pl.chunks);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    khib_fault_init(PROG);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        fprintf(stderr, PROG ": sigaction: %s\n", strerror(errno));
        return EXIT_INPUT;
    }

    char err[600];
    struct input in;
    if (open_input(&o, &in, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        close_input(&in);
        return EXIT_INPUT;
    }
    const char *target = o.target;
    if (!target && in.core.has_note && in.core.note.target[0])
        target = in.core.note.target;
    int level = o.level ? o.level : (in.core.has_note && in.core.note.level ? in.core.note.level : DEFAULT_LEVEL);
    if (!target) {
        fprintf(stderr, PROG ": no target: give --target PATH (the core header names none)\n");
        close_input(&in);
        return EXIT_USAGE;
    }
    rc = save(&o, &in, target, level);
    close_input(&in);
    return rc;
}
