/* How the next boot reaches the restore kernel R: through khib's hook in the
 * initramfs of the ordinary boot entry, which finds the image and starts R
 * (docs/hooks.md; nothing to set), or through GRUB's one-shot
 * next_entry, which `khib hibernate` sets to R's entry right before the jump
 * and clears when it returns (docs/grub.md).
 *
 * GRUB's 00_header (util/grub.d/00_header.in, 2.06 and 2.12) starts
 * ${next_entry} when it is set, whatever GRUB_DEFAULT says, and clears it
 * with save_env at that boot; grub-reboot sets it the same way (grub-editenv
 * set next_entry=).  save_env cannot write on lvm or diskfilter (RAID)
 * volumes, nor on btrfs or zfs (Debian's own check in 00_header says the
 * same for its recordfail): there next_entry would never be cleared and
 * every boot would start R, so khib refuses. */
#ifndef KHIB_BOOTENTRY_H
#define KHIB_BOOTENTRY_H

#include <stddef.h>

#include "settings.h"

struct boot_paths {
    const char *grub_cfg;      /* /boot/grub/grub.cfg */
    const char *grubenv;       /* /boot/grub/grubenv */
    const char *grub_d_script; /* /etc/grub.d/45_khib, khib's grub.d script */
    const char *editenv;       /* grub-editenv */
    const char *probe;         /* grub-probe */
    int checkpoint;            /* 1: freeze and thaw grubenv's file system after a change (not in tests) */
    const char *stamps;        /* /var/lib/khib/initramfs: the build hooks' records, one file per release */
};
extern const struct boot_paths boot_paths_system;

struct boot_plan {
    int grub;          /* 1: set GRUB's next_entry to entry before the jump */
    int initramfs;     /* 1: the ordinary entry resumes (nothing to set) */
    char entry[128];   /* khib-resume-RELEASE, the --id of R's entry (45_khib) */
    char what[700];    /* what khib check prints */
    char fix[400];     /* under a FAIL */
};

/* Decide for the settings' boot= (auto: the initramfs when a build hook
 * recorded that the initramfs of release has khib's hook, else GRUB when
 * grub.cfg has a khib entry or khib's grub.d script is installed) and
 * verify: for the initramfs, that it was built for the settings' target; for
 * GRUB, that the entry of release
 * exists in grub.cfg with the words of restore_words() (bootargs.h), and
 * GRUB can write its environment block.  Returns 0 (what says which way),
 * or -1 (what and fix say why not). */
int boot_plan(const struct boot_paths *p, const struct settings *s, const char *release, struct boot_plan *plan);

/* grub-editenv GRUBENV set next_entry=ENTRY, verified by reading it back,
 * then the file system's journal written home (see boot_checkpoint in
 * bootentry.c).  A plan without GRUB does nothing.  0, or -1 with err. */
int boot_arm(const struct boot_paths *p, const struct boot_plan *plan, char *err, size_t errlen);

/* Unset next_entry if it is still the plan's entry (another one, set by
 * someone else, stays), and checkpoint as boot_arm does.  0, or -1 with
 * err. */
int boot_disarm(const struct boot_paths *p, const struct boot_plan *plan, char *err, size_t errlen);

#endif
