/* khib-restore: inspect, verify, or restore a khib image and jump into the
 * saved kernel.  Runs in the restore kernel R, and anywhere for --info and
 * --verify.  docs/khib-restore.md. */
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

#include "checks.h"
#include "faultpoint.h"
#include "handoff_codec.h"
#include "image.h"
#include "info.h"
#include "jump_back.h"
#include "mailbox_post.h"
#include "memmap.h"
#include "physmem.h"
#include "poison.h"
#include "progress.h"
#include "scan.h"
#include "threads.h"
#include "unlock.h"
#include "uuid.h"
#include "walk.h"

#define PROG "khib-restore"

enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_IMAGE = 2,     /* unreadable or damaged image */
    EXIT_REFUSED = 3,   /* the image does not fit this machine or its disks */
    EXIT_MEMORY = 4,    /* memory could not be written */
    EXIT_JUMP = 5,      /* the jump failed; the image stays COMMITTED */
    EXIT_NONE = 10,     /* no committed image: boot normally */
    EXIT_LOCKED = 11,   /* encrypted, no right passphrase: boot normally, keep the image */
};

#define PASSPHRASE_TIMEOUT 120u   /* seconds per try */

struct options {
    const char *image;
    uint64_t offset;      /* --offset: an image in a file, first block at this device byte */
    const char *memory_file;
    const char *mem;
    const char *memmap_dir;
    const char *efi_map_dir;
    int memmap_text;
    const char *abandon;  /* --abandon REASON */
    const char *sys_block; /* --sys-block DIR */
    int info, verify, jump, consume, quiet, scan;
    int resumable;        /* --resumable: the checks only, in the normal kernel's initramfs */
    int clear_locked;     /* --clear-locked: forget that the image stayed locked */
    unsigned threads;   /* 0: khib_default_threads() */
    int mmap;           /* write a memory file through mmap windows */
    struct unlock_options unlock;   /* an encrypted image (unlock.h) */
    int require_encryption;         /* refuse an image in clear */
    int poison;         /* --poison-excluded (tests) */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: khib-restore --image PATH (--info | --verify | --abandon REASON | --resumable |\n"
            "                    --clear-locked |\n"
            "                    [--mem DEV] [--jump] | --memory-file FILE [--consume]) [options]\n"
            "       khib-restore --scan [PATH...]\n"
            "Inspect, verify or restore a khib image.\n"
            "\n"
            "  --image PATH        block device or file holding the image\n"
            "  --offset BYTES      the image lives in a file on PATH's file system, its first\n"
            "                      block at this byte of PATH (khib.offset=, the target-offset=\n"
            "                      of khib setup-target): read its extent map there, and read\n"
            "                      and write only inside the file's extents\n"
            "  --scan [PATH...]    list the khib images on PATHs, or on every block device\n"
            "                      (" KHIB_SYS_BLOCK "): one line each, tab-separated: device,\n"
            "                      state, host name, kernel release, time saved, uuid; exit 0 when\n"
            "                      one is COMMITTED, 10 when none is (the rescue stick's list)\n"
            "  --sys-block DIR     --scan: list the block devices of DIR instead (tests)\n"
            "  --info              print the superblock (any state) and exit\n"
            "  --verify            decompress and check every chunk; write nothing\n"
            "  --abandon REASON    mark a committed image ABANDONED (a normal boot goes ahead:\n"
            "                      it must never be restored); exit 10 when there is none\n"
            "  --resumable         run every check a restore with --jump runs before it\n"
            "                      touches memory, and write nothing: exit 0 (and print the\n"
            "                      window's size in MiB, for the restore kernel's command\n"
            "                      line) when a restore would start, else as below; 11\n"
            "                      when the encrypted image stayed locked at the last boot\n"
            "                      (R exited 11 and marked it: the boot goes on, the image\n"
            "                      is kept, not resumed by this boot)\n"
            "  --clear-locked      forget that mark, so that a later boot may try again;\n"
            "                      exit 10 when there is no committed image\n"
            "  --mem DEV           restore into physical memory through DEV (default /dev/mem)\n"
            "  --memory-file FILE  restore into FILE at offset = physical address (tests);\n"
            "                      skips the memory-map check unless --memmap-dir is given\n"
            "  --memmap-dir DIR    firmware memory map to check (default /sys/firmware/memmap)\n"
            "  --efi-map-dir DIR   EFI runtime map to check (default /sys/firmware/efi/runtime-map,\n"
            "                      none when --memmap-dir is given)\n"
            "  --memmap            print what the memory-map check compares on this machine\n"
            "                      (the text its digest covers, docs/image-format.md) and exit\n"
            "  --jump              after restoring: load the jump, report in the saved system's\n"
            "                      mailbox, mark the image CONSUMED and jump into it\n"
            "  --consume           (tests) the same without the jump: mailbox, then CONSUMED\n"
            "  --threads N         decompression threads (default: the CPUs, at most %u)\n"
            "  --mmap              write a memory file through mmap windows, as a memory\n"
            "                      device always is, instead of pwrite (tests)\n"
            "  --key-file FILE     an encrypted image's key header from FILE (khib.keyfile=)\n"
            "                      instead of the target's\n"
            "  --console DEV       where to ask an encrypted image's passphrase (default\n"
            "                      /dev/tty, else /dev/console): echo off, %u tries\n"
            "  --passphrase-fd N   (tests) read the passphrases from N, one line per try\n"
            "  --passphrase-timeout S  seconds to wait for each try (default %u; 0: forever)\n"
            "  --require-encryption  refuse an image that is not encrypted (khib.encrypted=1:\n"
            "                      whoever can write the target could choose its memory)\n"
            "  --poison-excluded   (tests) after restoring, fill every page the image left out\n"
            "                      as free with a poison pattern, so that a page wrongly left\n"
            "                      out shows in the resumed system\n"
            "  --quiet             no progress lines\n"
            "  --help              this text\n"
            "\n"
            "Everything is checked before memory is touched: superblock and index checksums,\n"
            "state COMMITTED, no range inside the restore kernel's window, the memory map,\n"
            "the file systems the saved system had mounted; for an encrypted image also the\n"
            "MAC of superblock and index and every chunk's tag (docs/encryption.md).\n"
            "\n"
            "Exit status: 0 done; 1 usage error; 2 image unreadable or damaged (a bad chunk\n"
            "is named); 3 image refused for this machine (memory map, window, file systems);\n"
            "4 memory could not be written; 5 the jump failed (the image stays COMMITTED);\n"
            "10 no committed image (none, unfinished, abandoned, or already restored): boot\n"
            "normally; 11 an encrypted image stays locked (%u wrong passphrases, none in\n"
            "time, no console, too little memory): boot normally, but keep the image for\n"
            "the next boot; with --scan: 0 a committed image listed, 10 none, 2 the\n"
            "devices cannot be listed.\n",
            KHIB_THREADS_DEFAULT_MAX, UNLOCK_TRIES, PASSPHRASE_TIMEOUT, UNLOCK_TRIES);
}

static void on_sigbus(int sig)
{
    (void)sig;
    static const char msg[] = PROG ": writing memory failed (SIGBUS): the kernel refused a page of the memory"
                                   " device, or the memory file's file system is full\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(EXIT_MEMORY);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"image", required_argument, 0, 'i'},       {"info", no_argument, 0, 'I'},
        {"verify", no_argument, 0, 'v'},            {"memory-file", required_argument, 0, 'f'},
        {"mem", required_argument, 0, 'm'},         {"memmap-dir", required_argument, 0, 'd'},
        {"jump", no_argument, 0, 'j'},              {"consume", no_argument, 0, 'c'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"threads", required_argument, 0, 'T'},     {"mmap", no_argument, 0, 'M'},
        {"key-file", required_argument, 0, 'K'},    {"console", required_argument, 0, 'C'},
        {"passphrase-fd", required_argument, 0, 'F'}, {"passphrase-timeout", required_argument, 0, 'W'},
        {"require-encryption", no_argument, 0, 'E'},
        {"abandon", required_argument, 0, 'A'},     {"resumable", no_argument, 0, 'R'},
        {"scan", no_argument, 0, 'S'},              {"sys-block", required_argument, 0, 'B'},
        {"poison-excluded", no_argument, 0, 'X'},  {"clear-locked", no_argument, 0, 'L'},
        {"offset", required_argument, 0, 'O'},
        {"efi-map-dir", required_argument, 0, 'Z'}, {"memmap", no_argument, 0, 'P'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->unlock.passphrase_fd = -1;
    o->unlock.timeout_s = PASSPHRASE_TIMEOUT;
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': o->image = optarg; break;
        case 'I': o->info = 1; break;
        case 'v': o->verify = 1; break;
        case 'f': o->memory_file = optarg; break;
        case 'm': o->mem = optarg; break;
        case 'd': o->memmap_dir = optarg; break;
        case 'j': o->jump = 1; break;
        case 'c': o->consume = 1; break;
        case 'q': o->quiet = 1; break;
        case 'T':
            if (khib_threads_option(PROG, optarg, &o->threads) != 0)
                return EXIT_USAGE;
            break;
        case 'M': o->mmap = 1; break;
        case 'A': o->abandon = optarg; break;
        case 'K': o->unlock.key_file = optarg; break;
        case 'E': o->require_encryption = 1; break;
        case 'C': o->unlock.console = optarg; break;
        case 'F':
        case 'W': {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v > 1000000) {
                fprintf(stderr, PROG ": --%s needs a number, not '%s'\n",
                        c == 'F' ? "passphrase-fd" : "passphrase-timeout", optarg);
                return EXIT_USAGE;
            }
            if (c == 'F')
                o->unlock.passphrase_fd = (int)v;
            else
                o->unlock.timeout_s = (unsigned)v;
            break;
        }
        case 'R': o->resumable = 1; break;
        case 'S': o->scan = 1; break;
        case 'B': o->sys_block = optarg; break;
        case 'X': o->poison = 1; break;
        case 'L': o->clear_locked = 1; break;
        case 'O':
            errno = 0;
            o->offset = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-' || o->offset == 0 || o->offset % 4096) {
                fprintf(stderr, PROG ": --offset needs a byte offset, a nonzero multiple of 4096, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'Z': o->efi_map_dir = optarg; break;
        case 'P': o->memmap_text = 1; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    const char *why = NULL;
    if (o->memmap_text) {
        if (o->image || o->scan || optind < argc)
            why = "--memmap prints this machine's map: no --image, --scan or argument";
    } else if (o->scan) {
        if (o->image || o->info || o->verify || o->abandon || o->memory_file || o->mem || o->jump || o->consume ||
            o->mmap || o->resumable || o->clear_locked)
            why = "--scan only lists: no --image, --info, --verify, --abandon, --mem, --memory-file, --jump";
        else if (o->sys_block && optind < argc)
            why = "--sys-block lists the block devices when no PATH is given";
    } else if (o->sys_block)
        why = "--sys-block belongs to --scan";
    else if (optind < argc)
        why = "unexpected argument";
    else if (!o->image && !o->scan)
        why = "--image PATH is required (or --scan)";
    else if (o->info + o->verify + !!o->abandon + o->resumable + o->clear_locked > 1)
        why = "--info, --verify, --abandon, --resumable and --clear-locked exclude each other";
    else if (o->resumable && (o->memory_file || o->mem || o->jump || o->consume || o->mmap))
        why = "--resumable writes nothing: no --mem, --memory-file, --mmap, --jump or --consume";
    else if ((o->abandon || o->clear_locked) && (o->memory_file || o->mem || o->jump || o->consume || o->mmap))
        why = "--abandon and --clear-locked restore nothing: no --mem, --memory-file, --mmap, --jump or --consume";
    else if ((o->info || o->verify) && (o->memory_file || o->mem || o->jump || o->consume || o->mmap || o->poison))
        why = "--info and --verify write nothing: no --mem, --memory-file, --mmap, --jump, --consume or"
              " --poison-excluded";
    else if ((o->abandon || o->clear_locked) && o->poison)
        why = "--abandon and --clear-locked restore nothing: no --poison-excluded";
    else if (o->memory_file && o->mem)
        why = "--memory-file and --mem exclude each other";
    else if (o->memory_file && o->jump)
        why = "--jump needs real memory (--mem), not --memory-file";
    else if (o->jump && o->consume)
        why = "--jump already marks the image consumed";
    if (why) {
        fprintf(stderr, PROG ": %s (see --help)\n", why);
        return EXIT_USAGE;
    }
    if (!o->memory_file && !o->mem)
        o->mem = "/dev/mem";
    if (!o->threads)
        o->threads = khib_default_threads();
    return EXIT_OK;
}

/* Open the image and insist on state COMMITTED (or CONSUMED for --verify). */
static int open_committed(const struct options *o, struct khib_image *img)
{
    char err[600];
    int rc = khib_image_open_at(img, o->image, o->offset, (o->verify || o->info || o->resumable) ? KHIB_OPEN_READ : KHIB_OPEN_WRITE,
                             err, sizeof err);
    if (rc == KHIB_IMG_NONE) {
        fprintf(stderr, PROG ": no committed image on %s (%s)\n", o->image, err);
        return EXIT_NONE;
    }
    if (rc != KHIB_IMG_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_IMAGE;
    }
    if (o->info)
        return EXIT_OK;
    const struct khib_superblock *sb = &img->sb;
    char uuid[40];
    khib_uuid_format(sb->uuid, uuid, sizeof uuid);
    if (sb->state == KHIB_STATE_CONSUMED && !o->verify) {
        char when[64];
        khib_fmt_time_ns(sb->consumed_ns, when, sizeof when);
        if (sb->consumed_ns)
            fprintf(stderr, PROG ": image %s on %s was already restored on %s; not resuming twice\n", uuid,
                    o->image, when);
        else
            fprintf(stderr, PROG ": image %s on %s is CONSUMED (already restored, or a retired test snapshot);"
                    " not resuming twice\n", uuid, o->image);
        return EXIT_NONE;
    }
    if (sb->state == KHIB_STATE_ABANDONED && !o->verify) {
        char when[64];
        khib_fmt_time_ns(sb->abandoned_ns, when, sizeof when);
        fprintf(stderr, PROG ": image %s on %s was abandoned on %s (%s); not restoring it\n", uuid, o->image, when,
                sb->abandon_reason[0] ? sb->abandon_reason : "no reason given");
        return EXIT_NONE;
    }
    if (sb->state == KHIB_STATE_EMPTY || sb->state == KHIB_STATE_WRITING) {
        fprintf(stderr, PROG ": no committed image on %s (state %s%s)\n", o->image, khib_state_name(sb->state),
                sb->state == KHIB_STATE_WRITING ? ": a save did not finish, or failed" : "");
        return EXIT_NONE;
    }
    rc = khib_image_load_index(img, err, sizeof err);
    if (rc != KHIB_IMG_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_IMAGE;
    }
    return EXIT_OK;
}

/* An encrypted image: the passphrase, the keys into img->seal (*seal to
 * free), the MAC of superblock and index; then, unless the walk that
 * follows only checks, every chunk's tag, before any memory is written. */
static int unlock(const struct options *o, struct khib_image *img, enum khib_walk_action then, struct khib_seal **seal)
{
    char err[600];
    int rc = unlock_image(img, &o->unlock, seal, err, sizeof err);
    if (rc == UNLOCK_LOCKED) {
        fprintf(stderr, PROG ": the encrypted image on %s stays locked: %s; not restoring, the image is kept"
                " (COMMITTED) for the next boot\n", o->image, err);
        return EXIT_LOCKED;
    }
    if (rc == UNLOCK_ERROR) {
        /* Not the image's fault (no console, too little memory for
         * Argon2id): keep it for a boot that can unlock it. */
        fprintf(stderr, PROG ": the encrypted image on %s cannot be unlocked here: %s; not restoring, the image is"
                " kept (COMMITTED) for the next boot\n", o->image, err);
        return EXIT_LOCKED;
    }
    if (rc != UNLOCK_OK) {
        fprintf(stderr, PROG ": %s; not restoring\n", err);
        return EXIT_IMAGE;
    }
    img->seal = *seal;
    if (then == KHIB_WALK_CHECK)
        return EXIT_OK;
    double t0 = khib_now();
    struct khib_progress prog;
    khib_progress_start(&prog, PROG " (authenticating)", img->sb.pages_total * KHIB_PAGE_SIZE, o->quiet);
    rc = khib_walk(img, KHIB_WALK_AUTH, NULL, o->threads, &prog, NULL, err, sizeof err);
    if (rc != KHIB_IMG_OK) {
        fprintf(stderr, PROG ": %s; not restoring, no memory was written\n", err);
        khib_seal_free(*seal);
        *seal = NULL;
        img->seal = NULL;
        return EXIT_IMAGE;
    }
    printf(PROG ": every chunk of the encrypted image authenticated in %.2f s, before any memory is written\n",
           khib_now() - t0);
    fflush(stdout);
    return EXIT_OK;
}

/* "khib-restore: using 2 threads and 22.3 MiB of buffers" on stdout. */
static void print_buffers(const struct options *o, enum khib_walk_action action, const struct khib_walk_memory *dst)
{
    char size[32];
    khib_fmt_size(khib_walk_buffers(o->threads, action, dst), size, sizeof size);
    printf(PROG ": using %u thread%s and %s of buffers\n", o->threads, o->threads == 1 ? "" : "s", size);
    fflush(stdout);
}

static int verify(const struct options *o, struct khib_image *img)
{
    char err[600], uuid[40];
    struct khib_seal *seal = NULL;
    int rc = img->sb.cipher ? unlock(o, img, KHIB_WALK_CHECK, &seal) : EXIT_OK;
    if (rc != EXIT_OK)
        return rc;
    struct khib_progress prog;
    khib_progress_start(&prog, PROG, img->sb.pages_total * KHIB_PAGE_SIZE, o->quiet);
    print_buffers(o, KHIB_WALK_CHECK, NULL);
    rc = khib_walk(img, KHIB_WALK_CHECK, NULL, o->threads, &prog, NULL, err, sizeof err);
    khib_seal_free(seal);
    img->seal = NULL;
    if (rc != KHIB_IMG_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_IMAGE;
    }
    khib_uuid_format(img->sb.uuid, uuid, sizeof uuid);
    uint64_t bytes = img->sb.pages_total * KHIB_PAGE_SIZE;
    printf(PROG ": image %s on %s is intact (%s): %" PRIu32 " chunks, %.1f MiB of memory, %.0f MiB/s\n", uuid,
           o->image, khib_state_name(img->sb.state), img->idx.chunk_count, (double)bytes / (1 << 20),
           khib_progress_rate(&prog, bytes));
    return EXIT_OK;
}

/* The maps the memory-map check reads: the kernel's, or the options'. */
static const char *memmap_dir(const struct options *o)
{
    return o->memmap_dir ? o->memmap_dir : KHIB_MEMMAP_DIR;
}

static const char *efi_map_dir(const struct options *o)
{
    return o->efi_map_dir ? o->efi_map_dir : o->memmap_dir ? NULL : KHIB_EFI_RUNTIME_MAP_DIR;
}

/* --memmap: the text the memory-map digest covers, on stdout. */
static int print_memmap(const struct options *o)
{
    char *text, err[400];
    size_t len;
    if (khib_memmap_text(memmap_dir(o), efi_map_dir(o), &text, &len, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    uint64_t d = 0;
    if (khib_memmap_digest(memmap_dir(o), efi_map_dir(o), &d, err, sizeof err) == 0)
        printf("digest %016" PRIx64 "\n", d);
    return EXIT_OK;
}

/* Everything about this machine, checked before memory is touched. */
static int preflight(const struct options *o, const struct khib_image *img)
{
    char err[600];
    if (o->require_encryption && !img->sb.cipher) {
        snprintf(err, sizeof err, "it is not encrypted, and this restore requires encryption (khib.encrypted=1):"
                 " whoever can write the target could have chosen its memory");
        goto refused;
    }
    if (check_window(img, err, sizeof err) != 0)
        goto refused;
    if ((!o->memory_file || o->memmap_dir) && check_memmap(img, memmap_dir(o), efi_map_dir(o), err, sizeof err) != 0)
        goto refused;
    if (check_file_systems(img, err, sizeof err) != 0)
        goto refused;
    if (o->jump || o->resumable) {
        if (!img->sb.jump_back_entry) {
            snprintf(err, sizeof err, "the image has no jump-back entry: it was not saved by a kexec jump");
            goto refused;
        }
        if (check_in_ranges(img, img->sb.jump_back_entry, "jump-back entry", err, sizeof err) != 0)
            goto refused;
    }
    if ((o->jump || o->consume || o->resumable) && img->sb.mailbox_addr &&
        check_in_ranges(img, img->sb.mailbox_addr, "mailbox", err, sizeof err) != 0)
        goto refused;
    return EXIT_OK;
refused:
    fprintf(stderr, PROG ": not restoring %s: %s\n", o->image, err);
    return EXIT_REFUSED;
}

/* The destination: a memory file (created, sized to cover the ranges) or the
 * memory device. */
static int open_memory(const struct options *o, const struct khib_image *img, int *fd, const char **name,
                       struct khib_walk_memory *dst)
{
    *name = o->memory_file ? o->memory_file : o->mem;
    *fd = open(*name, O_RDWR | O_CLOEXEC | (o->memory_file ? O_CREAT : 0), 0644);
    if (*fd < 0) {
        fprintf(stderr, PROG ": cannot open %s for writing: %s\n", *name, strerror(errno));
        return EXIT_MEMORY;
    }
    struct stat st;
    if (fstat(*fd, &st) != 0) {
        fprintf(stderr, PROG ": cannot stat %s: %s\n", *name, strerror(errno));
        return EXIT_MEMORY;
    }
    /* A memory device is written through mmap (the only way past a confined
     * kernel's high_memory); files and block devices with pwrite (page
     * faults on a shared file mapping cost ten times more). */
    memset(dst, 0, sizeof *dst);
    dst->fd = *fd;
    dst->name = *name;
    dst->by_mmap = S_ISCHR(st.st_mode) || o->mmap;
    dst->zero_from = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
    if (o->memory_file) {
        const struct khib_range *last = &img->idx.ranges[img->idx.range_count - 1];
        uint64_t end = (last->start_pfn + last->pages) << KHIB_PAGE_SHIFT;
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            fprintf(stderr, PROG ": %s is not a regular file\n", *name);
            return EXIT_MEMORY;
        }
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end && ftruncate(*fd, (off_t)end) != 0) {
            fprintf(stderr, PROG ": cannot extend %s to %" PRIu64 " bytes: %s\n", *name, end, strerror(errno));
            return EXIT_MEMORY;
        }
    }
    return EXIT_OK;
}

struct finish {
    const struct options *o;
    struct khib_image *img;
    const char *memdev;
    uint64_t restored_ns;
    double restore_s;
    int rc;
};

/* Report in the mailbox and mark the image CONSUMED: everything between the
 * restore and the jump.  0, or -1 with f->rc set and the cause printed. */
static int before_jump(void *ctx)
{
    struct finish *f = ctx;
    char err[600], uuid[40];
    const struct khib_superblock *sb = &f->img->sb;
    khib_uuid_format(sb->uuid, uuid, sizeof uuid);
    if (sb->mailbox_addr) {
        struct khib_mailbox m;
        khib_mailbox_report(sb, KHIB_MBX_RESTORED, &m);
        m.restored_ns = f->restored_ns;
        m.restore_ms = (uint64_t)(f->restore_s * 1000);
        snprintf(m.msg, sizeof m.msg, "restored from image %s", uuid);
        const uint64_t *nonce = sb->mailbox_nonce ? &sb->mailbox_nonce : NULL;
        if (khib_mailbox_post(f->memdev, sb->mailbox_addr, nonce, &m, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": the restored memory is not the hibernated system's: %s; not jumping,"
                    " the image stays COMMITTED\n", err);
            f->rc = EXIT_IMAGE;
            return -1;
        }
    }
    /* CONSUMED before the jump: after a crash of the resumed system the image
     * must never be restored again. */
    khib_faultpoint(KHIB_FP_RESTORE_BEFORE_CONSUMED);
    if (khib_image_mark(f->img, KHIB_STATE_CONSUMED, khib_realtime_ns(), err, sizeof err) != 0) {
        fprintf(stderr, PROG ": cannot mark the image consumed: %s; not jumping\n", err);
        f->rc = EXIT_IMAGE;
        return -1;
    }
    khib_faultpoint(KHIB_FP_RESTORE_CONSUMED);
    if (!f->o->jump) {
        printf(PROG ": image %s marked CONSUMED (no jump: --consume)\n", uuid);
        return 0;
    }
    printf(PROG ": jumping into the restored system at 0x%" PRIx64 "\n", sb->jump_back_entry);
    fflush(stdout);
    sync();
    khib_faultpoint(KHIB_FP_RESTORE_BEFORE_JUMP);
    return 0;
}

/* After the memory is written: report in the mailbox, mark CONSUMED, and
 * (with --jump) jump (lib/jump_back.c).  The kexec image is loaded first,
 * so that a failing load leaves the image COMMITTED. */
static int finish(const struct options *o, struct khib_image *img, const char *memdev, uint64_t restored_ns,
                  double restore_s)
{
    struct finish f = {o, img, memdev, restored_ns, restore_s, EXIT_OK};
    if (!o->jump)
        return before_jump(&f) == 0 ? EXIT_OK : f.rc;
    char err[600];
    int rc = khib_jump_back(memdev, img->sb.jump_back_entry, before_jump, &f, err, sizeof err);
    if (rc == KHIB_JB_LOAD) {
        fprintf(stderr, PROG ": cannot prepare the jump: %s; the image stays COMMITTED\n", err);
        return EXIT_JUMP;
    }
    if (rc == KHIB_JB_BEFORE) {
        if (err[0])
            fprintf(stderr, PROG ": %s\n", err);
        return f.rc;
    }
    /* Still here: the jump did not happen.  Take CONSUMED back so that the
     * next boot can try again. */
    fprintf(stderr, PROG ": the jump failed: %s\n", err);
    if (khib_image_mark(img, KHIB_STATE_COMMITTED, 0, err, sizeof err) != 0)
        fprintf(stderr, PROG ": cannot mark the image COMMITTED again: %s\n", err);
    else
        fprintf(stderr, PROG ": the image stays COMMITTED\n");
    return EXIT_JUMP;
}

static int restore_unlocked(const struct options *o, struct khib_image *img);

/* The image stays locked (exit 11) and is kept: recorded in locked_ns, so
 * that the ordinary boot that follows does not start R for it again.  R
 * started by that boot's hook reboots when it does not jump
 * (khib.normal=reboot, hooks/khib-resume.sh): without the mark every boot
 * would start R and ask again. */
static void mark_locked(const struct options *o, struct khib_image *img)
{
    char err[600];
    struct khib_superblock sb = img->sb;
    sb.locked_ns = khib_realtime_ns();
    if (khib_superblock_write(img->t.fd, img->t.path, &sb, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": cannot record on %s that the image stayed locked: %s; the next ordinary boot"
                " starts the restore kernel again (fix: boot once with khib.noresume, which retires the image)\n",
                o->image, err);
        return;
    }
    img->sb = sb;
}

static int restore(const struct options *o, struct khib_image *img)
{
    int rc = preflight(o, img);
    if (rc != EXIT_OK)
        return rc;
    struct khib_seal *seal = NULL;
    if (img->sb.cipher && (rc = unlock(o, img, KHIB_WALK_WRITE, &seal)) != EXIT_OK) {
        if (rc == EXIT_LOCKED)
            mark_locked(o, img);
        return rc;
    }
    rc = restore_unlocked(o, img);
    khib_seal_free(seal);
    img->seal = NULL;
    return rc;
}

static int restore_unlocked(const struct options *o, struct khib_image *img)
{
    khib_faultpoint(KHIB_FP_RESTORE_VALIDATED);
    int fd = -1;
    struct khib_progress prog = {.console_fd = -1};
    const char *memdev;
    struct khib_walk_memory dst;
    int rc = open_memory(o, img, &fd, &memdev, &dst);
    struct khib_segment *seg = NULL;
    char err[600];
    if (rc != EXIT_OK)
        goto out;
    seg = khib_segments_identity(img->idx.ranges, img->idx.range_count);
    if (!seg) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = EXIT_MEMORY;
        goto out;
    }
    dst.seg = seg;
    dst.nseg = img->idx.range_count;
    print_buffers(o, KHIB_WALK_WRITE, &dst);
    uint64_t bytes = img->sb.pages_total * KHIB_PAGE_SIZE;
    khib_progress_start(&prog, PROG, bytes, o->quiet);
    /* Into real memory this is R: its lines belong on the console. */
    if (!o->memory_file)
        khib_progress_console(&prog);
    double t0 = khib_now();
    int direct = 0;
    int r = khib_walk(img, KHIB_WALK_WRITE, &dst, o->threads, &prog, &direct, err, sizeof err);
    if (r != KHIB_IMG_OK) {
        fprintf(stderr, PROG ": %s; the restore stopped, the image stays COMMITTED\n", err);
        rc = r == KHIB_WALK_MEM_ERROR ? EXIT_MEMORY : EXIT_IMAGE;
        goto out;
    }
    double dt = khib_now() - t0;
    uint64_t restored_ns = khib_realtime_ns();
    char uuid[40];
    khib_uuid_format(img->sb.uuid, uuid, sizeof uuid);
    khib_progress_note(&prog, PROG ": restored image %s: %.1f MiB of memory into %s in %.2f s, %.0f MiB/s (%s reads), %"
                       PRIu64 " free pages left out", uuid, (double)bytes / (1 << 20), memdev, dt,
                       dt > 0 ? (double)bytes / (1 << 20) / dt : 0.0, direct ? "direct" : "buffered",
                       img->sb.pages_excluded);
    if (o->poison) {
        struct khib_physmem pm;
        int64_t n = -1;
        if (khib_physmem_open(&pm, fd, memdev, seg, dst.nseg, 1, KHIB_PHYSMEM_WINDOW, err, sizeof err) == 0) {
            n = khib_poison_excluded(&pm, img->idx.chunks, img->idx.chunk_count, err, sizeof err);
            khib_physmem_close(&pm);
        }
        if (n < 0) {
            fprintf(stderr, PROG ": --poison-excluded: %s; the image stays COMMITTED\n", err);
            rc = EXIT_MEMORY;
            goto out;
        }
        printf(PROG ": poisoned %" PRId64 " excluded pages (--poison-excluded)\n", n);
    }
    close(fd);
    fd = -1;
    if (o->jump || o->consume)
        rc = finish(o, img, memdev, restored_ns, dt);
out:
    khib_progress_end(&prog);
    free(seg);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The hook in a distribution's normal initramfs asks before it loads the
 * restore kernel: every check of preflight() (the same machine, the same
 * disks: the firmware memory map and the file systems read the same in this
 * kernel as in R), on a read-only image.  R runs them again.  The restore
 * kernel must be confined to the image's window, which must start at 0
 * (docs/architecture.md): its size in MiB goes to stdout. */
static int resumable(const struct options *o, const struct khib_image *img)
{
    const struct khib_superblock *sb = &img->sb;
    if (sb->locked_ns) {
        fprintf(stderr, PROG ": not restoring %s: the encrypted image stayed locked at the last boot: kept, not"
                " resumed by this boot\n", o->image);
        return EXIT_LOCKED;
    }
    if (sb->window_start != 0 || sb->window_size < (64ULL << 20) || sb->window_size % (1ULL << 20)) {
        fprintf(stderr, PROG ": not restoring %s: its window [0x%" PRIx64 ", +0x%" PRIx64 ") does not start at 0"
                " or is not a whole number of MiB of at least 64: no restore kernel can be confined to it\n",
                o->image, sb->window_start, sb->window_size);
        return EXIT_REFUSED;
    }
    int rc = preflight(o, img);
    if (rc == EXIT_OK)
        printf("%" PRIu64 "\n", sb->window_size >> 20);
    return rc;
}

/* One line when a committed image is retired; silent when there is none. */
static int abandon(const struct options *o)
{
    char err[600], uuid[40];
    uint8_t id[16];
    int rc = khib_image_abandon_at(o->image, o->offset, o->abandon, id, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, PROG ": cannot abandon the image on %s: %s\n", o->image, err);
        return EXIT_IMAGE;
    }
    if (rc == 0)
        return EXIT_NONE;
    khib_uuid_format(id, uuid, sizeof uuid);
    fprintf(stderr, PROG ": image %s on %s abandoned: %s; it will never be restored\n", uuid, o->image, o->abandon);
    return EXIT_OK;
}

/* Forget that the image stayed locked (--resumable then checks it again). */
static int clear_locked(const struct options *o)
{
    char err[600];
    struct khib_image img;
    int rc = khib_image_open_at(&img, o->image, o->offset, KHIB_OPEN_WRITE, err, sizeof err);
    if (rc == KHIB_IMG_OK && img.sb.state == KHIB_STATE_COMMITTED) {
        rc = EXIT_OK;
        struct khib_superblock sb = img.sb;
        sb.locked_ns = 0;
        if (img.sb.locked_ns && khib_superblock_write(img.t.fd, img.t.path, &sb, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": cannot clear the locked mark on %s: %s\n", o->image, err);
            rc = EXIT_IMAGE;
        }
    } else if (rc == KHIB_IMG_OK || rc == KHIB_IMG_NONE || rc == KHIB_IMG_BAD) {
        rc = EXIT_NONE;
    } else {
        fprintf(stderr, PROG ": %s\n", err);
        rc = EXIT_IMAGE;
    }
    khib_image_close(&img);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.memmap_text)
        return print_memmap(&o);
    if (o.abandon)
        return abandon(&o);
    if (o.clear_locked)
        return clear_locked(&o);
    if (o.scan) {
        int n = scan_images(stdout, argv + optind, argc - optind, o.sys_block ? o.sys_block : KHIB_SYS_BLOCK);
        return n < 0 ? EXIT_IMAGE : n > 0 ? EXIT_OK : EXIT_NONE;
    }
    khib_fault_init(PROG);
    if (signal(SIGBUS, on_sigbus) == SIG_ERR) {
        fprintf(stderr, PROG ": signal: %s\n", strerror(errno));
        return EXIT_MEMORY;
    }
    struct khib_image img;
    rc = open_committed(&o, &img);
    if (rc == EXIT_OK) {
        if (o.info)
            print_info(stdout, &img);
        else if (o.verify)
            rc = verify(&o, &img);
        else if (o.resumable)
            rc = resumable(&o, &img);
        else
            rc = restore(&o, &img);
    } else if (o.info && rc == EXIT_IMAGE) {
        /* Nothing decodable to show. */
    }
    khib_image_close(&img);
    return rc;
}
