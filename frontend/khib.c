/* khib: the front end that runs in the system to be hibernated. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootargs.h"
#include "check.h"
#include "hibernate.h"
#include "logind.h"
#include "retire.h"
#include "settings.h"
#include "setup_encryption.h"
#include "sleep.h"
#include "target_file.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: khib COMMAND [OPTIONS]\n"
            "Hibernate this system through a kexec jump into a transient kernel.\n"
            "\n"
            "Commands:\n"
            "  check        report every precondition of a hibernation, each PASS or FAIL with its fix\n"
            "  hibernate    save memory to the target and power off; the next boot of the restore\n"
            "               kernel resumes here, and the command then returns\n"
            "  retire       mark a committed image on the target ABANDONED: run early in a normal boot\n"
            "               (khib-retire.service), before the disks change, so that it never resumes\n"
            "  boot-args    print the restore entry's kernel command-line words (for /etc/grub.d/45_khib)\n"
            "  sleep VERB   (systemd-hibernate.service) khib check, the system-sleep hooks, khib hibernate\n"
            "  rescue-stick DEV|FILE  write khib's rescue stick (BIOS and UEFI): resume the hibernated\n"
            "               system of the machine it boots, or boot its installed system\n"
            "               (khib rescue-stick --help, khib-rescue-stick(8))\n"
            "  setup-target --file PATH --size SIZE  the image in a file on ext4 or xfs instead of a\n"
            "               partition (khib setup-target --help; docs/file-target.md)\n"
            "  setup-encryption  once: the key pair that encrypts the images, the passphrase\n"
            "               (khib setup-encryption --help; docs/encryption.md)\n"
            "\n"
            "Options of check and hibernate (override " KHIB_CONF " and the defaults):\n"
            "  --target DEV      block device that receives the image (no default), or the image\n"
            "                    file of khib setup-target (with target-device= and target-offset=)\n"
            "  --kernel FILE     transient kernel (default /boot/vmlinuz-$(uname -r))\n"
            "  --initrd FILE     khib initramfs (default " KHIB_DEFAULT_INITRD ")\n"
            "  --kexec FILE      kexec-tools binary (default /usr/sbin/kexec)\n"
            "  --window SIZE     memory [0, SIZE) for the transient kernel (default 192M)\n"
            "  --level L         saver's level: auto (the default), store, or zstd's N\n"
            "  --append WORDS    extra command-line words for the transient kernel\n"
            "  --boot MODE       how the next boot reaches the restore entry: auto (the default: grub\n"
            "                    when GRUB has khib's entries), grub (its one-shot next_entry), none\n"
            "  --restore-append WORDS  extra words for the restore entry (boot-args, update-grub)\n"
            "  --config FILE     read FILE instead of " KHIB_CONF "\n"
            "  --test            hibernate: save, verify and come back instead of powering off\n"
            "  --hybrid          hibernate: suspend-to-both: save, then sleep in RAM; a wake comes back\n"
            "                    here, a power loss resumes from the image (docs/hybrid.md)\n"
            "  --no-trim         hibernate: keep the caches, and where free pages are not left out\n"
            "                    of the image, save them as they are (trim=no)\n"
            "  --no-exclude-free hibernate: save the free pages too instead of leaving them out of\n"
            "                    the image (exclude-free=no)\n"
            "  --image-size SIZE hibernate: keep the image within SIZE, freeing the page cache and\n"
            "                    pushing memory to swap first, or refuse (image-size=SIZE; none)\n"
            "  --ignore-fs DIR   do not refuse the file system mounted at DIR (ignore-fs=DIR):\n"
            "                    a change to it before the resume is corrupted by the resume\n"
            "  --reason TEXT     retire: why (default \"a normal boot started\")\n"
            "  --quiet           check: print only the FAILs (to stderr)\n"
            "  --logind          check: make logind's CanHibernate follow the result (" LOGIND_DROPIN ")\n"
            "\n"
            "Exit status of hibernate: 0 resumed (or test snapshot saved), 1 bad usage,\n"
            "3 refused before the jump (nothing changed), 4 the save failed (the system kept\n"
            "running, no image committed), 5 the transient kernel gave no report.\n"
            "See khib(8): docs/khib.md.\n");
}

static int settings_main(const char *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'}, {"kernel", required_argument, 0, 'k'},
        {"initrd", required_argument, 0, 'i'}, {"kexec", required_argument, 0, 'x'},
        {"window", required_argument, 0, 'w'}, {"level", required_argument, 0, 'l'},
        {"append", required_argument, 0, 'a'}, {"config", required_argument, 0, 'c'},
        {"test", no_argument, 0, 'T'},         {"no-trim", no_argument, 0, 'N'},
        {"ignore-fs", required_argument, 0, 'g'}, {"reason", required_argument, 0, 'r'},
        {"boot", required_argument, 0, 'b'},  {"restore-append", required_argument, 0, 'R'},
        {"quiet", no_argument, 0, 'q'},       {"logind", no_argument, 0, 'L'},
        {"no-exclude-free", no_argument, 0, 'E'}, {"hybrid", no_argument, 0, 'Y'},
        {"image-size", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    /* The config file is read first so that options override it. */
    const char *conf = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            conf = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            conf = argv[i] + 9;
    }
    struct settings s;
    char err[512];
    if (settings_load(&s, conf, err, sizeof err) != 0) {
        fprintf(stderr, "khib %s: %s\n", cmd, err);
        return 1;
    }
    int c, test = 0, quiet = 0, logind = 0, hybrid = 0;
    const char *reason = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 't': key = "target"; break;
        case 'k': key = "kernel"; break;
        case 'i': key = "initrd"; break;
        case 'x': key = "kexec"; break;
        case 'w': key = "window"; break;
        case 'l': key = "level"; break;
        case 'a': key = "append"; break;
        case 'c': break;
        case 'T': test = 1; break;
        case 'Y': hybrid = 1; break;
        case 'N': s.trim = 0; break;
        case 'E': s.exclude_free = 0; break;
        case 'S': key = "image-size"; break;
        case 'g': key = "ignore-fs"; break;
        case 'r': reason = optarg; break;
        case 'b': key = "boot"; break;
        case 'R': key = "restore-append"; break;
        case 'q': quiet = 1; break;
        case 'L': logind = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
        if (key && settings_set(&s, key, optarg, err, sizeof err) != 0) {
            fprintf(stderr, "khib %s: --%s\n", cmd, err);
            return 1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "khib %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return 1;
    }
    if (reason && strcmp(cmd, "retire")) {
        fprintf(stderr, "khib %s: --reason belongs to 'khib retire'\n", cmd);
        return 1;
    }
    if ((quiet || logind) && strcmp(cmd, "check")) {
        fprintf(stderr, "khib %s: --%s belongs to 'khib check'\n", cmd, quiet ? "quiet" : "logind");
        return 1;
    }
    if (!strcmp(cmd, "boot-args")) {
        char words[1024];
        if (test || restore_words(&s, words, sizeof words, err, sizeof err) != 0) {
            fprintf(stderr, "khib boot-args: %s\n", test ? "--test belongs to 'khib hibernate'" : err);
            return test ? 1 : 3;
        }
        printf("%s\n", words);
        return 0;
    }
    if (!strcmp(cmd, "retire"))
        return khib_retire(&s, reason ? reason : "a normal boot started");
    if (!strcmp(cmd, "check")) {
        if (test) {
            fprintf(stderr, "khib check: --test belongs to 'khib hibernate'\n");
            return 1;
        }
        struct khib_fs_record fs[KHIB_FS_MAX];
        uint32_t fs_count;
        int failures = run_checks(&s, !quiet, fs, &fs_count);
        if (!quiet)
            printf("%s\n", failures ? "khib check: this system cannot hibernate yet: fix the FAILs above"
                                    : "khib check: ready to hibernate");
        if (logind) {
            if (logind_verdict_write(failures, err, sizeof err) != 0) {
                fprintf(stderr, "khib check: %s\n", err);
                return 2;
            }
            if (!quiet)
                printf("khib check: logind's CanHibernate now answers %s\n",
                       failures ? "no (na with systemd 252)" : "yes");
        }
        return failures ? 3 : 0;
    }
    if (hybrid && (strcmp(cmd, "hibernate") || test)) {
        fprintf(stderr, "khib %s: --hybrid belongs to 'khib hibernate', without --test\n", cmd);
        return 1;
    }
    s.test = test;
    s.hybrid = hybrid;
    return khib_hibernate(&s);
}

/* khib rescue-stick: the shell script that writes the stick (mkrescue-stick.sh,
 * installed as RESCUE_STICK; KHIB_RESCUE_STICK names another, for tests). */
#define RESCUE_STICK "/usr/lib/khib/mkrescue-stick"
static int rescue_stick(char **argv)
{
    const char *script = getenv("KHIB_RESCUE_STICK");
    if (!script || !*script)
        script = RESCUE_STICK;
    if (setenv("KHIB_PROG", "khib rescue-stick", 1) != 0) {
        fprintf(stderr, "khib rescue-stick: setenv: %s\n", strerror(errno));
        return 1;
    }
    argv[0] = (char *)script;
    execv(script, argv);
    fprintf(stderr, "khib rescue-stick: cannot run %s: %s (reinstall khib)\n", script, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "check") || !strcmp(cmd, "hibernate") || !strcmp(cmd, "retire") || !strcmp(cmd, "boot-args"))
        return settings_main(cmd, argc - 1, argv + 1);
    if (!strcmp(cmd, "sleep"))
        return khib_sleep_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "rescue-stick"))
        return rescue_stick(argv + 1);
    if (!strcmp(cmd, "setup-target"))
        return setup_target_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "setup-encryption"))
        return khib_setup_encryption_main(argc - 1, argv + 1);
    fprintf(stderr, "khib: unknown command '%s' (try 'khib --help')\n", cmd);
    return 1;
}
