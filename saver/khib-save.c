/* khib-save: save the memory an ELF core header describes as a khib image.
 * Runs in the transient kernel B (headers from A, memory through /dev/mem)
 * and in tests (a core file with its data).  docs/khib-save.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk_codec.h"
#include "commit.h"
#include "elfcore.h"
#include "exclude.h"
#include "extents.h"
#include "encrypt.h"
#include "faultpoint.h"
#include "fsrecord.h"
#include "image.h"
#include "jump_back.h"
#include "mailbox_post.h"
#include "physmem.h"
#include "poison.h"
#include "progress.h"
#include "save.h"
#include "threads.h"
#include "uuid.h"
#include "writer.h"
#include "xxhash64.h"

#define PROG "khib-save"
#define DEFAULT_LEVEL KHIB_LEVEL_AUTO
#define CHUNK_PAGES 256u

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_TARGET = 3, EXIT_FS = 4, EXIT_JUMP = 5, EXIT_KEY = 6,
       EXIT_SIZE = 7 };

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
    int report;         /* --report: the outcome into the saved system's mailbox */
    int jump_back;      /* --return: only jump back to the saved system */
    int poison;         /* --poison-excluded (tests) */
    const char *public_key; /* --public-key HEX: encrypt (docs/encryption.md) */
    uint32_t cipher;
    const char *extents; /* --extents FILE: an image in a file's extent map (default KHIB_EXTENTS_FILE) */
    uint64_t image_size; /* --image-size BYTES: 0, or the most the image may take */
};

/* The saved system's mailbox, mapped and checked before the save (--report),
 * so that even the SIGBUS handler can report; and the last error printed,
 * which is the cause it reports.  State of this one small program. */
static struct khib_mailbox_page mailbox;
static char last_error[KHIB_MAILBOX_MSG_LEN];
/* An image in a file (docs/file-target.md): the file's extents, from
 * --extents as the note describes them; count 0 for a partition. */
static struct khib_extmap file_map;

/* Print "khib-save: MESSAGE" on stderr and keep it as the cause. */
static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(last_error, sizeof last_error, PROG ": ");
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", last_error);
}

static void usage(FILE *out)
{
    char level[16];
    khib_level_format(DEFAULT_LEVEL, level, sizeof level);
    fprintf(out,
            "Usage: khib-save --core FILE [options]\n"
            "       khib-save --elfcorehdr FILE [--mem DEV] [options]\n"
            "       khib-save --return --elfcorehdr FILE --jump-back-entry ADDR [--mem DEV]\n"
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
            "  --report               write the outcome (saved, or the cause of the failure) into\n"
            "                         the saved system's mailbox named in the header's khib note\n"
            "  --return               save nothing: jump back to the saved system at the\n"
            "                         jump-back entry (the transient kernel's /init, after a\n"
            "                         test save or a failure)\n"
            "  --poison-excluded      (tests) after the save, fill every page left out as free\n"
            "                         with a poison pattern in the saved system's memory, so\n"
            "                         that a page wrongly left out shows when it runs again\n"
            "  --public-key HEX       encrypt the image to this X25519 public key (64 hex\n"
            "                         digits, /etc/khib/khib.pub); the target's key header\n"
            "                         (khib setup-encryption) must hold the same key\n"
            "  --cipher NAME          xchacha20poly1305 (the default) or aes256gcm (AES-NI)\n"
            "  --extents FILE         the extent map of an image in a file, when the note\n"
            "                         describes one (default " KHIB_EXTENTS_FILE "): the image is\n"
            "                         written through the target device inside those extents\n"
            "  --image-size BYTES     save nothing (exit 7) when the image could take more:\n"
            "                         every page not left out as free, uncompressed, with\n"
            "                         its index (khib hibernate --image-size)\n"
            "  --quiet                no progress lines\n"
            "  --help                 this text\n"
            "\n"
            "Exit status: 0 saved and committed; 1 usage error; 2 input error (bad core\n"
            "header, unreadable memory); 3 target error (too small, I/O error, verification\n"
            "failed); 4 a file system the saved system had mounted cannot be recorded (not\n"
            "found, or not readable: nothing was written); 5 (--return) the jump back failed;\n"
            "6 the image cannot be encrypted (no or another key header on the target; nothing\n"
            "was written); 7 the image could exceed --image-size (nothing was written).\n"
            "After any failure the target holds no committed image.\n"
            "With the note's hybrid flag (khib hibernate --hybrid, docs/hybrid.md) it sleeps in\n"
            "S3 after the commit; on wake it retires the image and jumps back (--mem,\n"
            "--jump-back-entry); without S3 it exits 0 and the caller powers off.\n",
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
    if (mailbox.p) {
        /* Only stores into a page mapped before: safe in a signal handler. */
        static struct khib_mailbox m;
        m.status = KHIB_MBX_SAVE_FAILED;
        memcpy(m.msg, msg, n - 1 < sizeof m.msg - 1 ? n - 1 : sizeof m.msg - 1);
        khib_mailbox_store(&mailbox, &m);
    }
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
        {"report", no_argument, 0, 'R'},            {"return", no_argument, 0, 'B'},
        {"poison-excluded", no_argument, 0, 'X'},
        {"public-key", required_argument, 0, 'P'},   {"cipher", required_argument, 0, 'C'},
        {"extents", required_argument, 0, 'E'},
        {"image-size", required_argument, 0, 'S'},
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
        case 'E': o->extents = optarg; break;
        case 'v': o->verify_after = 1; break;
        case 'q': o->quiet = 1; break;
        case 'R': o->report = 1; break;
        case 'B': o->jump_back = 1; break;
        case 'X': o->poison = 1; break;
        case 'P': o->public_key = optarg; break;
        case 'S':
            errno = 0;
            o->image_size = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || !o->image_size) {
                fprintf(stderr, PROG ": --image-size needs a number of bytes, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'C':
            if (khib_cipher_parse(optarg, &o->cipher) != 0) {
                fprintf(stderr, PROG ": --cipher needs xchacha20poly1305 or aes256gcm, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
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
    if (o->jump_back && (!o->elfcorehdr || !o->entry)) {
        fprintf(stderr, PROG ": --return needs --elfcorehdr FILE and --jump-back-entry ADDR\n");
        return EXIT_USAGE;
    }
    if (o->poison && o->core) {
        fprintf(stderr, PROG ": --poison-excluded writes the saved system's memory: --elfcorehdr, not --core\n");
        return EXIT_USAGE;
    }
    if (o->core && o->mem) {
        fprintf(stderr, PROG ": --mem goes with --elfcorehdr, not --core\n");
        return EXIT_USAGE;
    }
    if (!o->mem)
        o->mem = "/dev/mem";
    if (!o->cipher)
        o->cipher = KHIB_CIPHER_XCHACHA20POLY1305;
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
        uint32_t i = khib_window_overlap(in->ranges, n, nt->window_start, nt->window_size);
        if (i < n) {
            const struct khib_segment *s = &in->core.seg[i];
            snprintf(err, errlen, "%s: PT_LOAD [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps the window [0x%" PRIx64
                     ", 0x%" PRIx64 ") where the transient and restore kernels live: the header is wrong", hdr,
                     s->paddr, s->paddr + s->size, nt->window_start, nt->window_start + nt->window_size);
            return -1;
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
            error("%s; not saving", err);
            return -1;
        }
        char what[200];
        khib_fs_describe(&sb->fs[i], what, sizeof what);
        printf(PROG ": recorded %s\n", what);
    }
    sb->fs_count = nt->fs_count;
    return 0;
}

struct plan {
    struct khib_chunk *chunks;
    uint32_t count;
    uint64_t index_bytes;
};

/* The extent map the note announces (an image in a file): read from
 * --extents, bound to the note by count and checksum, checked whole by
 * commit_begin_at against the device.  0, or -1 after error(). */
static int load_extents(const struct options *o, const struct khib_note *nt)
{
    const char *path = o->extents ? o->extents : KHIB_EXTENTS_FILE;
    uint64_t want = khib_extmap_bytes(nt->extent_count);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error("the note describes an image in a file, but its extent map %s cannot be opened: %s; not saving", path,
              strerror(errno));
        return -1;
    }
    struct stat st;
    uint8_t *buf = NULL;
    char err[400];
    int rc = -1;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != want) {
        error("the extent map %s is not the %" PRIu64 " bytes of the %" PRIu32 " extents the note describes; not"
              " saving", path, want, nt->extent_count);
    } else if (!(buf = malloc(want))) {
        error("out of memory for the extent map");
    } else if (khib_pread_all(fd, buf, want, 0, path, err, sizeof err) != 0) {
        error("%s; not saving", err);
    } else if (khib_hash64(buf, want, 0) != nt->extmap_checksum) {
        error("the extent map %s does not match the note's checksum of it; not saving", path);
    } else if (khib_extmap_decode(buf, want, &file_map, err, sizeof err) != 0) {
        error("%s: %s; not saving", path, err);
    } else if (file_map.e[0].physical != nt->file_base) {
        error("the extent map %s does not begin at the note's device byte %" PRIu64 "; not saving", path,
              nt->file_base);
    } else {
        rc = 0;
    }
    free(buf);
    close(fd);
    return rc;
}

/* The image file's device must be that of a file system the saved system
 * had mounted, found here under the same name with the same identity
 * (khib_fs_take checked the uuid): B never writes into another disk. */
static int check_file_device(const struct khib_note *nt, const struct khib_superblock *sb, const char *target)
{
    for (uint32_t i = 0; i < sb->fs_count; i++) {
        char dev[KHIB_FS_DEV_LEN + 8];
        snprintf(dev, sizeof dev, "%s%s", nt->fs[i].dev[0] == '/' ? "" : "/dev/", nt->fs[i].dev);
        if (!strcmp(dev, target) && !strcmp(nt->fs[i].dev, sb->fs[i].dev) && !(sb->fs[i].flags & KHIB_FSREC_RDONLY))
            return 0;
    }
    error("the image file's device %s is not the device of a file system the saved system had mounted"
          " read-write, found here with the same identity: not writing into it", target);
    return -1;
}

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
        memcpy(sb->host_name, nt->host_name, KHIB_HOST_LEN);
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

/* Level auto stores chunks uncompressed only with room for all of the
 * memory as it is: storing must never make an image overflow a target that
 * the compressed image would fit.  Returns the level to use. */
static int fitting_level(int level, uint64_t data_limit, const struct input *in, const struct plan *pl,
                         const struct khib_superblock *sb)
{
    uint64_t worst = in->core.total_bytes + (uint64_t)pl->count * (khib_stored_frame_len(KHIB_CHUNK_RAW_MAX) -
                                                                   KHIB_CHUNK_RAW_MAX +
                                                                   (sb->cipher ? KHIB_SEAL_OVERHEAD : 0));
    data_limit = data_limit > sb->data_offset ? data_limit - sb->data_offset : 0;
    if (level != KHIB_LEVEL_AUTO || data_limit >= worst)
        return level;
    char have[32], need[32];
    khib_fmt_size(data_limit, have, sizeof have);
    khib_fmt_size(worst, need, sizeof need);
    printf(PROG ": level auto stores nothing uncompressed: the target has room for %s of chunks, the memory"
           " takes %s uncompressed; every chunk is compressed at level 1\n", have, need);
    return 1;
}

/* Step 2's data: every chunk through the pipeline (save.h).  Exit status. */
static int save_data(const struct options *o, struct input *in, struct commit *cm, struct khib_superblock *sb,
                     struct plan *pl, struct save_totals *tot, int *fell_back)
{
    char err[600];
    struct writer w = {0};
    if (writer_init(&w, cm->t.fd, cm->path, sb->data_offset, commit_data_limit(cm), err, sizeof err) != 0) {
        error("%s", err);
        return EXIT_TARGET;
    }
    struct save_input sin = {.src = &in->src, .by_mmap = o->mmap || in->is_device, .seal = cm->seal};
    char bufs[32], table[32];
    khib_fmt_size(save_mem(&sin, o->threads, sb->level), bufs, sizeof bufs);
    khib_fmt_size(save_table_mem(pl->count, pl->index_bytes), table, sizeof table);
    printf(PROG ": using %u thread%s and %s of buffers (and %s for the index), %s writes\n", o->threads,
           o->threads == 1 ? "" : "s", bufs, table, w.direct ? "direct (O_DIRECT)" : "buffered");
    fflush(stdout);
    struct khib_progress prog;
    khib_progress_start(&prog, PROG, in->core.total_bytes, o->quiet);
    int src = save_chunks(&sin, o->threads, sb->level, pl->chunks, pl->count, &w, &prog, tot, err,
                          sizeof err);
    int overflow = w.overflow;
    *fell_back = w.fell_back;
    writer_free(&w);
    if (src != 0) {
        error("%s; no image was committed", err);
        return src == SAVE_INPUT_ERROR ? EXIT_INPUT : EXIT_TARGET;
    }
    khib_faultpoint(KHIB_FP_SAVE_DATA);
    sb->pages_zero = tot->pages_zero;
    sb->pages_excluded = tot->pages_excluded;
    sb->pages_stored = tot->pages_stored;
    sb->data_bytes = tot->data_bytes;
    struct khib_index idx = {.range_count = sb->range_count, .chunk_count = sb->chunk_count,
                             .ranges = in->ranges, .chunks = pl->chunks};
    if (commit_index(cm, sb, &idx, overflow, err, sizeof err) != 0) {
        error("%s", err);
        return EXIT_TARGET;
    }
    return EXIT_OK;
}

/* --verify-after: every chunk read back and compared with memory; on a
 * mismatch the commit is taken back.  Exit status. */
static int verify_after(const struct options *o, struct input *in, struct commit *cm, struct khib_superblock *sb)
{
    char err[600];
    struct khib_progress vprog;
    khib_progress_start(&vprog, PROG " (verify)", in->core.total_bytes, o->quiet);
    double v0 = khib_now();
    struct save_input sin = {.src = &in->src, .by_mmap = o->mmap || in->is_device, .seal = cm->seal};
    if (save_verify(cm->path, sb->file_base, sb->uuid, &sin, o->threads, &vprog, err, sizeof err) != KHIB_IMG_OK) {
        error("verification after the save failed: %s", err);
        if (commit_revoke(cm, sb, err, sizeof err) != 0)
            error("cannot invalidate the image: %s", err);
        else
            error("the image was invalidated (state WRITING)");
        return EXIT_TARGET;
    }
    printf(PROG ": verified every chunk against memory in %.1f s\n", khib_now() - v0);
    return EXIT_OK;
}

static void print_summary(const struct input *in, const char *target, const struct khib_superblock *sb,
                          const struct save_totals *tot, double t_total, double t_data, int fell_back)
{
    char uuid[40], total[32], stored[32], lv[16];
    uint64_t image_bytes = commit_image_bytes(sb);
    khib_uuid_format(sb->uuid, uuid, sizeof uuid);
    khib_fmt_size(in->core.total_bytes, total, sizeof total);
    khib_fmt_size(image_bytes, stored, sizeof stored);
    khib_level_format(sb->level, lv, sizeof lv);
    printf(PROG ": saved image %s on %s: %s of memory in %s (ratio %.2f), zstd level %s%s%s\n", uuid, target,
           total, stored, image_bytes ? (double)in->core.total_bytes / (double)image_bytes : 0.0, lv,
           sb->cipher ? ", encrypted with " : "", sb->cipher ? khib_cipher_name(sb->cipher) : "");
    printf(PROG ": pages: %" PRIu64 " total, %" PRIu64 " zero, %" PRIu64 " excluded, %" PRIu64 " stored in %"
           PRIu32 " chunks (%" PRIu32 " of them uncompressed)\n", sb->pages_total, sb->pages_zero,
           sb->pages_excluded, sb->pages_stored, sb->chunk_count, tot->chunks_stored);
    printf(PROG ": time %.2f s, %.0f MiB/s (compression %.2f s)%s\n", t_total,
           t_total > 0 ? (double)in->core.total_bytes / (1 << 20) / t_total : 0.0, t_data,
           fell_back ? "; the target refused O_DIRECT writes, buffered instead" : "");
}

/* --poison-excluded: the excluded pages of the saved system's memory
 * filled with the poison pattern (lib/poison.h).  Exit status. */
static int poison(const struct options *o, const struct input *in, const struct plan *pl)
{
    char err[600];
    int fd = open(o->mem, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error("--poison-excluded: cannot open %s for writing: %s", o->mem, strerror(errno));
        return EXIT_INPUT;
    }
    struct khib_physmem pm;
    int64_t n = -1;
    if (khib_physmem_open(&pm, fd, o->mem, in->seg, in->core.nseg, 1, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0) {
        n = khib_poison_excluded(&pm, pl->chunks, pl->count, err, sizeof err);
        khib_physmem_close(&pm);
    }
    close(fd);
    if (n < 0) {
        error("--poison-excluded: %s", err);
        return EXIT_INPUT;
    }
    printf(PROG ": poisoned %" PRId64 " excluded pages of the saved system (--poison-excluded)\n", n);
    return EXIT_OK;
}

/* Suspend-to-both (docs/hybrid.md): the image committed, the machine
 * sleeps in S3 instead of powering off.  On wake, the jump back to the saved
 * system is loaded first, then the image retired (ABANDONED: the system
 * runs on, so it must never be restored) and the wake posted in the mailbox,
 * then the jump: the mirror of the restorer's CONSUMED right before its
 * jump.  Returns EXIT_OK when the machine could not sleep or the image could
 * not be retired (the caller powers off: the image stays COMMITTED and the
 * next boot resumes from it, since the saved system never ran after the
 * commit), EXIT_JUMP when the jump failed after the image was retired. */
struct woke {
    struct commit *cm;
    struct khib_superblock *sb;
    double slept;
};

static int retire_after_wake(void *ctx)
{
    struct woke *w = ctx;
    char err[400];
    struct khib_superblock sb = *w->sb;
    sb.state = KHIB_STATE_ABANDONED;
    sb.abandoned_ns = khib_realtime_ns();
    memset(sb.abandon_reason, 0, sizeof sb.abandon_reason);
    snprintf(sb.abandon_reason, sizeof sb.abandon_reason, "the system woke from suspend-to-both and ran on");
    if (khib_superblock_write(w->cm->t.fd, w->cm->path, &sb, err, sizeof err) != 0) {
        error("cannot retire the image after the wake: %s; powering off instead: the next boot resumes from it", err);
        return -1;
    }
    *w->sb = sb;
    printf(PROG ": the image on %s is retired (ABANDONED); jumping back to the saved system\n", w->cm->path);
    if (mailbox.p) {
        struct khib_mailbox m;
        khib_mailbox_report(&sb, KHIB_MBX_WOKE, &m);
        m.restored_ns = sb.abandoned_ns;
        snprintf(m.msg, sizeof m.msg, "woke from suspend-to-both after %.1f s in RAM; the image on %s was retired",
                 w->slept, w->cm->path);
        khib_mailbox_store(&mailbox, &m);
    }
    fflush(stdout);
    return 0;
}

/* Write text into a sysfs file: 0, or the errno. */
static int write_sys(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    int e = ok ? 0 : errno;
    if (fd >= 0)
        close(fd);
    return e;
}

static int hybrid_sleep(const struct options *o, struct commit *cm, struct khib_superblock *sb)
{
    char err[400];
    sync();
    /* deep: S3, the memory powered and everything else off; s2idle would
     * keep the CPUs idling, and no firmware wake would end it. */
    int e = write_sys("/sys/power/mem_sleep", "deep");
    if (e) {
        error("suspend-to-both: this kernel or machine has no suspend to RAM (S3: /sys/power/mem_sleep: %s):"
              " powering off instead; the next boot resumes from the image", strerror(e));
        return EXIT_OK;
    }
    printf(PROG ": suspend-to-both: the image is committed; suspending to RAM (S3)\n");
    fflush(stdout);
    uint64_t t0 = khib_realtime_ns();
    e = write_sys("/sys/power/state", "mem");
    if (e) {
        error("suspend-to-both: suspend to RAM failed (/sys/power/state: %s): powering off instead; the next boot"
              " resumes from the image", strerror(e));
        return EXIT_OK;
    }
    struct woke w = {cm, sb, (double)(khib_realtime_ns() - t0) / 1e9};
    printf(PROG ": woke after %.1f s in RAM\n", w.slept);
    fflush(stdout);
    int rc = khib_jump_back(o->mem ? o->mem : "/dev/mem", o->entry, retire_after_wake, &w, err, sizeof err);
    if (rc == KHIB_JB_BEFORE)
        return EXIT_OK;
    if (rc == KHIB_JB_LOAD) {
        error("cannot load the jump back after the wake: %s; powering off: the next boot resumes from the image",
              err);
        return EXIT_OK;
    }
    error("the jump back to the saved system failed after its image was retired: %s", err);
    return EXIT_JUMP;
}

/* The image of in's memory on target, committed (commit.h).  Exit status;
 * *sb the image's superblock, *ex what became of the free pages. */
static int save(const struct options *o, struct input *in, const char *target, int level,
                struct khib_superblock *sb, struct exclude_result *ex)
{
    char err[600];
    if (init_superblock(o, in, level, sb) != 0)
        return EXIT_FS;
    if (khib_uuid_generate(sb->uuid, err, sizeof err) != 0) {
        error("%s", err);
        return EXIT_INPUT;
    }
    struct plan pl = {0};
    if (khib_plan_chunks(in->ranges, in->core.nseg, CHUNK_PAGES, &pl.chunks, &pl.count, err, sizeof err) != 0) {
        error("%s", err);
        return EXIT_INPUT;
    }
    sb->chunk_count = pl.count;
    pl.index_bytes = khib_index_size(sb->range_count, sb->chunk_count);
    struct exclude_input exin = {.fd = in->fd, .name = in->name, .seg = in->seg, .nseg = in->core.nseg,
                                 .note = in->core.has_note ? &in->core.note : NULL, .entry = o->entry,
                                 .a_free_pages = mailbox.p ? mailbox.m.a_free_pages : 0,
                                 .a_pcp_pages = mailbox.p ? mailbox.m.a_pcp_pages : 0};
    exclude_free_pages(&exin, pl.chunks, pl.count, ex);
    printf(PROG ": %s\n", ex->line);
    /* The size limit, before anything is written: every page that is not
     * left out, as if none compressed. */
    uint64_t bound = khib_image_bytes_bound((sb->pages_total - ex->pages) << KHIB_PAGE_SHIFT);
    if (o->image_size && bound > o->image_size) {
        error("the image could take %" PRIu64 " MiB (%" PRIu64 " pages, %" PRIu64 " of them left out as free), above"
              " image-size=%" PRIu64 " MiB; nothing written%s",
              bound >> 20, sb->pages_total, ex->pages, o->image_size >> 20,
              ex->pages ? "" : " (the free pages could not be left out: see the line above)");
        free(pl.chunks);
        return EXIT_SIZE;
    }

    /* The level is checked before anything is written. */
    struct khib_coder cd;
    if (khib_coder_init(&cd, level, err, sizeof err) != 0) {
        error("%s", err);
        free(pl.chunks);
        return EXIT_USAGE;
    }
    khib_coder_free(&cd);

    /* The key header and the image key, before anything is written. */
    struct khib_seal *seal = NULL;
    if (save_encryption(target, o->public_key, o->cipher, sb, &seal, err, sizeof err) != 0) {
        error("%s; not saving", err);
        free(pl.chunks);
        return EXIT_KEY;
    }
    if (file_map.count) {
        if (seal || o->public_key) {
            error("an image in a file cannot be encrypted (docs/file-target.md); not saving");
            khib_seal_free(seal);
            free(pl.chunks);
            return EXIT_KEY;
        }
        uint64_t bytes = khib_extmap_bytes(file_map.count);
        uint8_t *enc = malloc(bytes);
        if (!enc) {
            error("out of memory for the extent map");
            free(pl.chunks);
            return EXIT_INPUT;
        }
        khib_extmap_encode(&file_map, enc);
        sb->extmap_checksum = khib_hash64(enc, bytes, 0);
        free(enc);
        sb->extmap_offset = KHIB_EXTMAP_OFFSET;
        sb->extmap_count = file_map.count;
        sb->file_base = file_map.e[0].physical;
        sb->data_offset = khib_extmap_data_offset(file_map.count);
        if (check_file_device(&in->core.note, sb, target) != 0) {
            free(pl.chunks);
            return EXIT_TARGET;
        }
    }
    int rc = EXIT_TARGET;
    struct commit cm;
    if (commit_begin_at(&cm, target, file_map.count ? &file_map : NULL, sb, pl.index_bytes, err, sizeof err) != 0) {
        error("%s", err);
        goto out;
    }
    cm.seal = seal;
    sb->level = fitting_level(level, commit_data_limit(&cm), in, &pl, sb);
    double t0 = khib_now();
    struct save_totals tot;
    int fell_back = 0;
    rc = save_data(o, in, &cm, sb, &pl, &tot, &fell_back);
    if (rc != EXIT_OK)
        goto out;
    double t_data = khib_now() - t0;
    rc = EXIT_TARGET;
    if (commit_finish(&cm, sb, err, sizeof err) != 0) {
        error("%s", err);
        /* The commit may or may not have reached the disk: take it back. */
        if (commit_revoke(&cm, sb, err, sizeof err) != 0)
            error("cannot invalidate the image either: %s", err);
        goto out;
    }
    double t_total = khib_now() - t0;
    if (o->verify_after && verify_after(o, in, &cm, sb) != EXIT_OK)
        goto out;
    /* A test snapshot of an image in a file is retired here, before the
     * saved system runs on: there, a kernel may refuse writes to the disk
     * whose file system is mounted (CONFIG_BLK_DEV_WRITE_MOUNTED), and it
     * must never be restored (docs/file-target.md). */
    if (file_map.count && in->core.has_note && (in->core.note.flags & KHIB_NOTE_TEST)) {
        sb->state = KHIB_STATE_CONSUMED;
        sb->consumed_ns = khib_realtime_ns();
        if (khib_superblock_write(cm.t.fd, cm.path, sb, err, sizeof err) != 0) {
            error("cannot retire the test snapshot: %s", err);
            if (commit_revoke(&cm, sb, err, sizeof err) != 0)
                error("cannot invalidate it either: %s", err);
            rc = EXIT_TARGET;
            goto out;
        }
        printf(PROG ": test snapshot retired (CONSUMED) before the saved system runs on\n");
    }
    if (o->poison && (rc = poison(o, in, &pl)) != EXIT_OK) {
        /* Failed after the commit: take it back, as --verify-after does. */
        if (commit_revoke(&cm, sb, err, sizeof err) != 0)
            error("cannot invalidate the image: %s", err);
        else
            error("the image was invalidated (state WRITING)");
        goto out;
    }
    print_summary(in, target, sb, &tot, t_total, t_data, fell_back);
    if (in->core.has_note && (in->core.note.flags & KHIB_NOTE_HYBRID) && !o->verify_after) {
        rc = hybrid_sleep(o, &cm, sb);
        goto out;
    }
    rc = EXIT_OK;
out:
    commit_close(&cm);
    khib_seal_free(seal);
    free(pl.chunks);
    return rc;
}

/* --report: the outcome into the saved system's mailbox. */
static void report(const struct options *o, const struct khib_superblock *sb, const char *target, int rc,
                   const struct exclude_result *ex)
{
    struct khib_mailbox m;
    if (rc == EXIT_OK) {
        khib_mailbox_report(sb, KHIB_MBX_SAVED, &m);
        snprintf(m.msg, sizeof m.msg, "image saved%s on %s; %.300s", o->verify_after ? " and verified" : "", target,
                 ex->line);
    } else {
        memset(&m, 0, sizeof m);
        m.status = KHIB_MBX_SAVE_FAILED;
        snprintf(m.msg, sizeof m.msg, "%s", last_error[0] ? last_error : PROG " failed with no message");
    }
    khib_mailbox_store(&mailbox, &m);
}

/* --return: load the jump to the entry and jump back to the saved system. */
static int jump_back(const struct options *o)
{
    char err[600];
    struct khib_elfcore core;
    if (khib_elfcore_load(o->elfcorehdr, &core, err, sizeof err) != 0) {
        error("%s: %s", o->elfcorehdr, err);
        return EXIT_INPUT;
    }
    int has_note = core.has_note;
    khib_elfcore_free(&core);
    if (!has_note) {
        error("%s: no khib note", o->elfcorehdr);
        return EXIT_INPUT;
    }
    khib_jump_back(o->mem, o->entry, NULL, NULL, err, sizeof err);
    error("cannot jump back to the saved system: %s", err);
    return EXIT_JUMP;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.jump_back)
        return jump_back(&o);
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

    char err[600], why[300];
    struct input in;
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    struct exclude_result ex = {0};
    const char *target = o.target;
    int open_rc = open_input(&o, &in, err, sizeof err);
    if (o.report && in.core.has_note &&
        khib_mailbox_open(&mailbox, o.mem, in.core.note.mailbox_addr, &in.core.note.nonce, why, sizeof why) != 0)
        fprintf(stderr, PROG ": cannot report to the saved system: %s\n", why);
    if (open_rc != 0) {
        error("%s", err);
        rc = EXIT_INPUT;
        goto out;
    }
    if (!target && in.core.has_note && in.core.note.target[0])
        target = in.core.note.target;
    if (in.core.has_note && in.core.note.extent_count && load_extents(&o, &in.core.note) != 0) {
        rc = EXIT_INPUT;
        goto out;
    }
    int level = o.level ? o.level : (in.core.has_note && in.core.note.level ? in.core.note.level : DEFAULT_LEVEL);
    if (!target) {
        error("no target: give --target PATH (the core header names none)");
        rc = EXIT_USAGE;
        goto out;
    }
    rc = save(&o, &in, target, level, &sb, &ex);
out:
    if (mailbox.p)
        report(&o, &sb, target, rc, &ex);
    khib_mailbox_close(&mailbox);
    close_input(&in);
    khib_extmap_free(&file_map);
    return rc;
}
