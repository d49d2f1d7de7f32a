/* Named fault points: places in khib-save's commit protocol and in
 * khib-restore's restore where a test stops the program, so that the host
 * cuts the power (kills QEMU) at exactly that step, however fast or slow
 * the machine is (docs/failures.md, tests/qemu/faults.sh).
 *
 * A point is armed only by the exact word khib.test.stop=NAME on the kernel
 * command line (/proc/cmdline; for host tests the file named by the
 * environment variable KHIB_CMDLINE instead).  At the armed point the
 * program syncs every file system and block device, prints the marker line
 * "khib-test: stopped at NAME" on stdout and on the kernel log (/dev/kmsg,
 * else /dev/console; not under KHIB_CMDLINE), and waits forever.  Without
 * the word every point returns at once and nothing is printed. */
#ifndef KHIB_FAULTPOINT_H
#define KHIB_FAULTPOINT_H

#include <stddef.h>

#define KHIB_FAULT_PARAM "khib.test.stop"
#define KHIB_FAULT_MARKER "khib-test: stopped at "
#define KHIB_FAULT_CMDLINE_ENV "KHIB_CMDLINE"

/* The points, in the order a save and a restore pass them. */
#define KHIB_FP_SAVE_WRITING "save-writing"                  /* step 1's WRITING superblock written and synced */
#define KHIB_FP_SAVE_HALF_DATA "save-half-data"              /* half of the chunks appended to the image */
#define KHIB_FP_SAVE_DATA "save-data"                        /* every chunk written (not synced yet) */
#define KHIB_FP_SAVE_INDEX "save-index"                      /* the index written (not synced yet) */
#define KHIB_FP_SAVE_SYNCED "save-synced"                    /* step 2's fdatasync done: before COMMITTED */
#define KHIB_FP_SAVE_COMMITTED "save-committed"              /* step 3's COMMITTED written and synced */
#define KHIB_FP_RESTORE_VALIDATED "restore-validated"        /* every check passed, no memory written */
#define KHIB_FP_RESTORE_HALF_MEMORY "restore-half-memory"    /* half of the memory written */
#define KHIB_FP_RESTORE_BEFORE_CONSUMED "restore-before-consumed" /* all written, jump loaded, mailbox posted */
#define KHIB_FP_RESTORE_CONSUMED "restore-consumed"          /* CONSUMED written and synced */
#define KHIB_FP_RESTORE_BEFORE_JUMP "restore-before-jump"    /* immediately before reboot(KEXEC) */

/* Every point's name, NULL-terminated. */
extern const char *const khib_fault_points[];

/* The NAME of the last word KHIB_FAULT_PARAM=NAME of a kernel command line,
 * split into words as the kernel does (lib/cmdline.c next_arg(): blanks
 * separate words except inside double quotes; quotes around a whole word or
 * around its value are not part of it).  Copies NAME (cut to outlen - 1
 * bytes) to out and returns 1, or returns 0 (out ""). */
int khib_fault_parse(const char *cmdline, char *out, size_t outlen);

/* Read the command line once (later calls do nothing) and, when it arms a
 * point, say so on stderr, prefixed with prog: "will stop at NAME", or
 * that NAME is no point.  Called by main() before any thread starts; a
 * point reached before it calls it itself. */
void khib_fault_init(const char *prog);

/* The armed point's name, or NULL. */
const char *khib_fault_armed(void);

/* Point name: returns at once unless it is the armed one; then stops the
 * calling thread for good (sync, marker, pause).  A caller holding a lock
 * the other threads need stops them too. */
void khib_faultpoint(const char *name);

#endif
