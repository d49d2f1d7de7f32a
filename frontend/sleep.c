/* `khib sleep VERB`, the ExecStart= of systemd-hibernate.service (and of
 * the suspend-then-hibernate and hybrid-sleep services, to refuse them).
 *
 * For hibernate it does what systemd-sleep does around the kernel's own
 * hibernation (src/sleep/sleep.c, execute()), with khib in its place:
 *   1. `khib check --logind --quiet`: a refusal runs no hook and changes
 *      nothing; it also brings logind's CanHibernate up to date;
 *   2. the system-sleep hooks with "pre hibernate" (sleep_hooks.h);
 *   3. `khib hibernate`, which returns after the resume, or at once after a
 *      failure that left the system running;
 *   4. the hooks with "post hibernate", whatever 3 returned.
 * The exit status is khib hibernate's, so that a failure is the service's.
 * khib runs as child processes of this one ($KHIB_SLEEP_KHIB replaces the
 * program for the tests: tests/unit/systemd.sh). */
#define _GNU_SOURCE
#include "sleep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "sleep_hooks.h"
#include "slog.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: khib sleep hibernate|suspend-then-hibernate|hybrid-sleep [--config FILE]\n"
                 "Run by systemd-hibernate.service in place of systemd-sleep: khib check, the\n"
                 "system-sleep hooks with 'pre hibernate', khib hibernate, the hooks with 'post\n"
                 "hibernate'; hybrid-sleep the same with khib hibernate --hybrid (suspend-to-both).\n"
                 "suspend-then-hibernate is refused.  See khib(8).\n");
}

/* Run khib with args (NULL-terminated); returns its exit status, or 1. */
static int run_khib(const char *self, char *const *args)
{
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)self;
    for (; *args && n < 7; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int rc = run_program(argv, NULL, 0);
    if (rc < 0) {
        slog(LOG_ERR, "khib: cannot start %s: %s", self, strerror(errno));
        return 1;
    }
    return rc;
}

int khib_sleep_main(int argc, char **argv)
{
    const char *verb = NULL, *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config = argv[i] + 9;
        } else if (argv[i][0] != '-' && !verb) {
            verb = argv[i];
        } else {
            fprintf(stderr, "khib sleep: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    if (!verb) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(verb, "suspend-then-hibernate")) {
        slog(LOG_ERR,
             "khib: refusing %s: khib hibernates by saving memory from a transient kernel, which cannot follow a"
             " suspend; use 'systemctl hybrid-sleep' (suspend-to-both), 'systemctl hibernate' or 'systemctl"
             " suspend'. Nothing was done.",
             verb);
        return 1;
    }
    int hybrid = !strcmp(verb, "hybrid-sleep");
    if (strcmp(verb, "hibernate") && !hybrid) {
        fprintf(stderr, "khib sleep: unknown sleep operation '%s'\n", verb);
        usage(stderr);
        return 1;
    }
    const char *self = getenv("KHIB_SLEEP_KHIB");
    char exe[4096];
    if (!self || !*self) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        self = n > 0 ? exe : "/usr/sbin/khib";
    }
    const char *dirs = getenv("KHIB_SLEEP_DIRS");
    if (!dirs || !*dirs)
        dirs = SLEEP_HOOK_DIRS;

    char *check[] = {"check", "--logind", "--quiet", NULL, NULL, NULL};
    char *hib[] = {"hibernate", NULL, NULL, NULL, NULL};
    int h = 1;
    if (hybrid)
        hib[h++] = "--hybrid";
    if (config) {
        check[3] = "--config";
        check[4] = (char *)config;
        hib[h++] = "--config";
        hib[h++] = (char *)config;
    }
    int rc = run_khib(self, check);
    if (rc != 0) {
        slog(LOG_ERR,
             "khib: not hibernating: khib check failed (exit %d, the FAILs above); nothing was done, and"
             " logind's CanHibernate now answers no (na with systemd 252; 'khib check' lists every check with its fix)",
             rc);
        return rc == 3 ? 3 : 1;
    }
    sleep_hooks_run(dirs, "pre", verb);
    slog(LOG_INFO, "khib: entering %s (khib hibernate%s)", hybrid ? "suspend-to-both" : "hibernation",
         hybrid ? " --hybrid" : "");
    rc = run_khib(self, hib);
    if (rc == 0)
        slog(LOG_INFO, "khib: system returned from hibernation");
    else
        slog(LOG_ERR, "khib: hibernation failed (khib hibernate exit %d, the reason above); the system kept running",
             rc);
    sleep_hooks_run(dirs, "post", verb);
    return rc;
}
