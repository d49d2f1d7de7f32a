/* The system-sleep hooks, run the way systemd-sleep runs them
 * (src/sleep/sleep.c, execute(): execute_directories() with
 * EXEC_DIR_PARALLEL | EXEC_DIR_IGNORE_ERRORS and DEFAULT_TIMEOUT_USEC). */
#ifndef KHIB_SLEEP_HOOKS_H
#define KHIB_SLEEP_HOOKS_H

/* The directories, in priority order: systemd's SYSTEM_SLEEP_PATH, which is
 * /usr/lib/systemd/system-sleep, or /lib/systemd/system-sleep on a Debian
 * system whose /lib is not merged into /usr.  KHIB_SLEEP_DIRS (a
 * colon-separated list) replaces them for the tests. */
#define SLEEP_HOOK_DIRS "/usr/lib/systemd/system-sleep:/lib/systemd/system-sleep"
#define SLEEP_HOOK_TIMEOUT_S 90 /* $KHIB_SLEEP_TIMEOUT (seconds) for the tests */

/* Run every hook of dirs (one file name once: the first directory that has
 * it wins; hidden and backup files, empty files and links to /dev/null are
 * skipped) as "HOOK PHASE VERB", all at once, in the order of their names;
 * wait for all of them, up to SLEEP_HOOK_TIMEOUT_S seconds in all, then kill
 * the rest.  A hook's failure is reported and ignored, as systemd-sleep
 * ignores it.  SYSTEMD_SLEEP_ACTION=VERB is in their environment.  Returns
 * the number of hooks run. */
int sleep_hooks_run(const char *dirs, const char *phase, const char *verb);

#endif
