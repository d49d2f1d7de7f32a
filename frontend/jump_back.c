/* `khib jump-back`, run by the transient kernel B's /init: write the outcome
 * of the save into A's mailbox and jump back to A.  After a test save the
 * image stays COMMITTED, so if the jump itself fails the machine is powered
 * off and the next boot of R resumes from it; after a failed save nothing was
 * committed and A's memory is all there is, so B keeps trying nothing else
 * and leaves the console to the user. */
#define _GNU_SOURCE
#include "jump_back.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "elfcore.h"
#include "handoff.h"
#include "handoff_codec.h"
#include "image_format.h"
#include "image_codec.h"
#include "kexec_jump.h"
#include "mailbox_post.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: khib jump-back --elfcorehdr FILE --entry ADDR --status saved|failed [--message TEXT]\n"
            "                      [--mem DEV]\n"
            "Run by the transient kernel's /init, not by hand: report the save's outcome in\n"
            "the saved kernel's mailbox (its address is in the khib note of FILE) and jump\n"
            "back to the saved kernel at ADDR (kexec_jump_back_entry).\n");
}

/* Fill the image figures of a saved report from the target's superblock. */
static void describe_image(const char *target, struct khib_mailbox *m)
{
    unsigned char sb[KHIB_SB_SIZE];
    int fd = open(target, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = pread(fd, sb, sizeof sb, 0);
    close(fd);
    struct khib_superblock s;
    char err[256];
    if (n != (ssize_t)sizeof sb || khib_superblock_decode(sb, &s, err, sizeof err) != 0)
        return;
    memcpy(m->image_uuid, s.uuid, 16);
    m->saved_ns = s.saved_ns;
    m->save_ms = (s.saved_ns - s.created_ns) / 1000000;
    m->image_bytes = s.index_offset + s.index_bytes;
}

int khib_jump_back_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"elfcorehdr", required_argument, 0, 'e'}, {"entry", required_argument, 0, 'j'},
        {"status", required_argument, 0, 's'},     {"message", required_argument, 0, 'm'},
        {"mem", required_argument, 0, 'M'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *hdrpath = NULL, *status = NULL, *message = "", *mem = "/dev/mem";
    uint64_t entry = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': hdrpath = optarg; break;
        case 'j': entry = strtoull(optarg, NULL, 0); break;
        case 's': status = optarg; break;
        case 'm': message = optarg; break;
        case 'M': mem = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (!hdrpath || !entry || !status || (strcmp(status, "saved") && strcmp(status, "failed"))) {
        usage(stderr);
        return 1;
    }
    char err[512];
    struct khib_elfcore core;
    if (khib_elfcore_load(hdrpath, &core, err, sizeof err) != 0) {
        fprintf(stderr, "khib jump-back: %s: %s\n", hdrpath, err);
        return 2;
    }
    if (!core.has_note) {
        fprintf(stderr, "khib jump-back: %s: no khib note\n", hdrpath);
        khib_elfcore_free(&core);
        return 2;
    }
    int saved = !strcmp(status, "saved");
    struct khib_mailbox m;
    memset(&m, 0, sizeof m);
    m.status = saved ? KHIB_MBX_SAVED : KHIB_MBX_SAVE_FAILED;
    snprintf(m.msg, sizeof m.msg, "%s", message);
    if (saved)
        describe_image(core.note.target, &m);
    int rc = 0;
    if (khib_mailbox_post(mem, core.note.mailbox_addr, &core.note.nonce, &m, err, sizeof err) != 0) {
        fprintf(stderr, "khib jump-back: cannot report to the saved system: %s\n", err);
        rc = 2;
    }
    unsigned char page[4096];
    if (khib_read_phys_page(mem, entry, page, err, sizeof err) != 0 ||
        khib_kexec_jump_load(entry, page, err, sizeof err) != 0 || khib_kexec_reboot(err, sizeof err) != 0)
        fprintf(stderr, "khib jump-back: cannot jump back to the saved system: %s\n", err);
    khib_elfcore_free(&core);
    if (saved) {
        fprintf(stderr, "khib jump-back: the image is committed: powering off; the next boot resumes from it\n");
        sync();
        reboot(RB_POWER_OFF);
    }
    return rc ? rc : 2;
}
