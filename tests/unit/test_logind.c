/* frontend/logind.c: the sleep.conf drop-in of `khib check --logind`, for a
 * check that passed (no AllowHibernation=, so systemd's default or the
 * administrator's sleep.conf holds) and one that failed
 * (AllowHibernation=no); suspend-then-hibernate and hybrid-sleep refused in
 * both; written whole, its directories made, an unwritable place refused. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

#include "../../frontend/logind.h"

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return buf;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
            return 1;
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/khib-logind.XXXXXX", path[200], err[512];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof path, "%s/run/systemd/sleep.conf.d/50-khib.conf", dir);
    setenv("KHIB_SLEEP_CONF", path, 1);

    CHECK(logind_verdict_write(0, err, sizeof err) == 0, "a pass is written: %s", err);
    const char *t = slurp(path);
    CHECK(has_line(t, "[Sleep]"), "[Sleep]: %s", t);
    CHECK(!strstr(t, "AllowHibernation="), "a pass leaves AllowHibernation= to systemd: %s", t);
    CHECK(has_line(t, "AllowSuspendThenHibernate=no") && !strstr(t, "AllowHybridSleep="),
          "a pass still refuses suspend-then-hibernate, and leaves hybrid-sleep (khib hibernate --hybrid) to systemd");
    CHECK(strstr(t, "every check passed") != NULL, "the comment says it passed");

    CHECK(logind_verdict_write(2, err, sizeof err) == 0, "a failure is written: %s", err);
    t = slurp(path);
    CHECK(has_line(t, "AllowHibernation=no"), "a failure: AllowHibernation=no: %s", t);
    CHECK(has_line(t, "AllowSuspendThenHibernate=no") && has_line(t, "AllowHybridSleep=no"), "and the others");
    CHECK(strstr(t, "khib check failed") != NULL, "the comment says why");
    char tmp[220];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "no temporary file left");

    CHECK(logind_verdict_write(0, err, sizeof err) == 0 && !strstr(slurp(path), "AllowHibernation="),
          "a later pass replaces the failure");

    if (geteuid() != 0) {
        char ro[200];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        mkdir(ro, 0555);
        snprintf(path, sizeof path, "%s/ro/x/50-khib.conf", dir);
        setenv("KHIB_SLEEP_CONF", path, 1);
        CHECK(logind_verdict_write(0, err, sizeof err) != 0 && strstr(err, "cannot"), "unwritable: %s", err);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
