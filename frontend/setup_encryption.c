#define _GNU_SOURCE
#include "setup_encryption.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encryption.h"
#include "image.h"
#include "keyheader.h"
#include "passphrase.h"
#include "progress.h"
#include "settings.h"

#define CMD "khib setup-encryption"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: khib setup-encryption [options]\n"
            "Make the key pair that encrypts every hibernation image (docs/encryption.md): the\n"
            "public key goes to public-key= of " KHIB_CONF " (default " KHIB_DEFAULT_PUBLIC_KEY "),\n"
            "the secret key, wrapped with a key that Argon2id derives from a passphrase, into\n"
            "the key header in the target's second 4 KiB block.  Asks for the passphrase\n"
            "twice on the terminal.  Images sealed to an earlier key can no longer be opened.\n"
            "\n"
            "  --target DEV         the image target (default target= of " KHIB_CONF ")\n"
            "  --public-key FILE    where the public key goes (default public-key=)\n"
            "  --key-file FILE      also write the key header into FILE (a USB stick: give\n"
            "                       khib.keyfile=FILE to the restore kernel)\n"
            "  --argon2-ops N       Argon2id passes (default %u)\n"
            "  --argon2-mem SIZE    Argon2id memory (default %llu MiB; the restore kernel runs it\n"
            "                       inside its window)\n"
            "  --passphrase-fd N    (tests) read the passphrase from N, once, without asking\n"
            "  --force              replace a key header that is already there\n"
            "  --config FILE        read FILE instead of " KHIB_CONF "\n"
            "  --help               this text\n"
            "\n"
            "Exit status: 0 set up; 1 bad usage; 3 refused (a committed image or a key header\n"
            "on the target, passphrases that differ); 4 a write failed.\n",
            KHIB_ARGON2_OPS_DEFAULT, KHIB_ARGON2_MEM_DEFAULT >> 20);
}

struct setup {
    struct settings s;
    const char *key_file;
    int passphrase_fd;
    uint64_t ops, mem;
    int force;
};

static int parse(int argc, char **argv, struct setup *st)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},     {"public-key", required_argument, 0, 'p'},
        {"key-file", required_argument, 0, 'k'},   {"argon2-ops", required_argument, 0, 'o'},
        {"argon2-mem", required_argument, 0, 'm'}, {"passphrase-fd", required_argument, 0, 'P'},
        {"force", no_argument, 0, 'f'},            {"config", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *conf = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            conf = argv[i + 1];
    char err[512];
    if (settings_load(&st->s, conf, err, sizeof err) != 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return 1;
    }
    st->key_file = NULL;
    st->passphrase_fd = -1;
    st->ops = KHIB_ARGON2_OPS_DEFAULT;
    st->mem = KHIB_ARGON2_MEM_DEFAULT;
    st->force = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
        case 'p':
            if (settings_set(&st->s, c == 't' ? "target" : "public-key", optarg, err, sizeof err) != 0) {
                fprintf(stderr, CMD ": %s\n", err);
                return 1;
            }
            break;
        case 'k': st->key_file = optarg; break;
        case 'o':
        case 'P':
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v > 1000000) {
                fprintf(stderr, CMD ": --%s needs a number, not '%s'\n", c == 'o' ? "argon2-ops" : "passphrase-fd",
                        optarg);
                return 1;
            }
            if (c == 'o')
                st->ops = v;
            else
                st->passphrase_fd = (int)v;
            break;
        case 'm':
            if (parse_size(optarg, &st->mem) != 0) {
                fprintf(stderr, CMD ": --argon2-mem needs a size (64M), not '%s'\n", optarg);
                return 1;
            }
            break;
        case 'f': st->force = 1; break;
        case 'c': break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, CMD ": unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (!st->s.target[0]) {
        fprintf(stderr, CMD ": no target: give --target DEV or set target= in " KHIB_CONF "\n");
        return 1;
    }
    return 0;
}

/* Nothing on the target may be lost: a committed image (its data starts
 * where the key header goes) or a key header (images sealed to it). */
static int target_free(const struct setup *st)
{
    char err[600];
    struct khib_image img;
    int rc = khib_image_open(&img, st->s.target, KHIB_OPEN_READ, err, sizeof err);
    int committed = rc == KHIB_IMG_OK && img.sb.state == KHIB_STATE_COMMITTED;
    khib_image_close(&img);
    if (committed) {
        fprintf(stderr, CMD ": %s holds a committed image: resume it, or retire it (khib retire), first\n",
                st->s.target);
        return -1;
    }
    struct khib_keyheader kh;
    rc = khib_keyheader_read(st->s.target, KHIB_KEYHDR_OFFSET, &kh, err, sizeof err);
    if (rc != KHIB_KH_NONE && !st->force) {
        fprintf(stderr, CMD ": %s already holds a key header%s%s: give --force to replace it (images sealed to"
                " it can then no longer be opened)\n", st->s.target, rc == KHIB_KH_OK ? "" : ": ",
                rc == KHIB_KH_OK ? "" : err);
        return -1;
    }
    return 0;
}

/* The passphrase into pass (locked, PASSPHRASE_MAX bytes): twice on the
 * terminal, or once from the descriptor.  0 or -1. */
static int get_passphrase(const struct setup *st, char *pass, size_t *len)
{
    char err[300];
    struct passphrase_source ps;
    if (passphrase_open(&ps, NULL, st->passphrase_fd, 0, err, sizeof err) != 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return -1;
    }
    int rc = -1;
    char *again = sodium_malloc(PASSPHRASE_MAX);
    size_t len2;
    if (!again) {
        fprintf(stderr, CMD ": out of locked memory\n");
    } else if (passphrase_read(&ps, "New passphrase for the hibernation images: ", pass, len, err, sizeof err) != 0) {
        fprintf(stderr, CMD ": no passphrase: %s\n", err);
    } else if (*len == 0) {
        fprintf(stderr, CMD ": the passphrase is empty\n");
    } else if (st->passphrase_fd < 0 &&
               passphrase_read(&ps, "The same passphrase again: ", again, &len2, err, sizeof err) != 0) {
        fprintf(stderr, CMD ": no passphrase: %s\n", err);
    } else if (st->passphrase_fd < 0 && (len2 != *len || sodium_memcmp(again, pass, *len) != 0)) {
        fprintf(stderr, CMD ": the two passphrases differ; nothing was changed\n");
    } else {
        rc = 0;
    }
    if (again)
        sodium_free(again);
    passphrase_close(&ps);
    return rc;
}

static int write_header(const char *path, uint64_t off, const struct khib_keyheader *kh, int create)
{
    char err[600];
    /* A block device exclusively: it must not be mounted. */
    struct stat st;
    int excl = !create && stat(path, &st) == 0 && S_ISBLK(st.st_mode);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0) | (excl ? O_EXCL : 0), 0600);
    if (fd < 0) {
        fprintf(stderr, CMD ": cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = khib_keyheader_write(fd, path, off, kh, err, sizeof err);
    if (close(fd) != 0 && rc == 0) {
        snprintf(err, sizeof err, "cannot close %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        fprintf(stderr, CMD ": %s\n", err);
    return rc;
}

/* The public key, one line of hex, replacing path whole. */
static int write_public_key(const char *path, const char *hex)
{
    char tmp[300], dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, CMD ": cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", hex) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        fprintf(stderr, CMD ": cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int khib_setup_encryption_main(int argc, char **argv)
{
    struct setup st;
    int rc = parse(argc, argv, &st);
    if (rc != 0)
        return rc;
    char err[600];
    if (khib_sodium_init(err, sizeof err) != 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return 4;
    }
    if (target_free(&st) != 0)
        return 3;
    uint8_t *keys = sodium_malloc(2 * KHIB_KEY_BYTES);
    char *pass = sodium_malloc(PASSPHRASE_MAX);
    if (!keys || !pass) {
        fprintf(stderr, CMD ": out of locked memory\n");
        rc = 4;
        goto out;
    }
    size_t len;
    rc = 3;
    if (get_passphrase(&st, pass, &len) != 0)
        goto out;
    uint8_t *pk = keys, *sk = keys + KHIB_KEY_BYTES;
    crypto_box_keypair(pk, sk);
    struct khib_keyheader kh;
    double t0 = khib_now();
    rc = 4;
    if (khib_keyheader_create(&kh, pk, sk, pass, len, st.ops, st.mem, khib_realtime_ns(), err, sizeof err) != 0) {
        fprintf(stderr, CMD ": %s\n", err);
        goto out;
    }
    double argon = khib_now() - t0;
    char hex[2 * KHIB_KEY_BYTES + 1];
    khib_key_hex(pk, hex);
    /* The key header first: a public key without it would make encrypt=yes
     * refuse, not encrypt to a key nobody holds. */
    if (write_header(st.s.target, KHIB_KEYHDR_OFFSET, &kh, 0) != 0 ||
        (st.key_file && write_header(st.key_file, 0, &kh, 1) != 0) || write_public_key(st.s.public_key, hex) != 0)
        goto out;
    printf(CMD ": key header written to %s (block 1)%s%s\n", st.s.target, st.key_file ? " and to " : "",
           st.key_file ? st.key_file : "");
    printf(CMD ": public key %s in %s\n", hex, st.s.public_key);
    printf(CMD ": Argon2id: %" PRIu64 " passes over %" PRIu64 " MiB, %.2f s here\n", st.ops, st.mem >> 20, argon);
    rc = 0;
out:
    if (keys)
        sodium_free(keys);
    if (pass)
        sodium_free(pass);
    return rc;
}
