#define _GNU_SOURCE
#include "logind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int logind_verdict_write(int failures, char *err, size_t errlen)
{
    const char *path = getenv("KHIB_SLEEP_CONF");
    if (!path || !*path)
        path = LOGIND_DROPIN;
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    if (mkdirs(tmp) != 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
    fprintf(f,
            "# Written by 'khib check --logind' on %s: %s.\n"
            "# logind's CanHibernate follows khib check: this file replaces\n"
            "# /usr/lib/systemd/sleep.conf.d/50-khib.conf until the next check\n"
            "# (khib-logind.service, at boot and when /etc/khib.conf changes; khib sleep).\n"
            "# See /usr/share/doc/khib/systemd.md.\n"
            "[Sleep]\n"
            "%s"
            "# khib cannot suspend first; hybrid-sleep is khib hibernate --hybrid\n"
            "# (suspend-to-both, /usr/share/doc/khib/hybrid.md), allowed with hibernation.\n"
            "AllowSuspendThenHibernate=no\n"
            "%s",
            when,
            failures
                ? "khib check failed, so logind refuses to hibernate (run 'khib check' for the FAILs and their fixes)"
                : "every check passed",
            failures ? "AllowHibernation=no\n" : "", failures ? "AllowHybridSleep=no\n" : "");
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
