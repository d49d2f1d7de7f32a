#define _GNU_SOURCE
#include "sleep_hooks.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slog.h"

#define MAX_HOOKS 128

struct hook {
    char name[256];
    char path[PATH_MAX];
    pid_t pid;
};

/* systemd's hidden_or_backup_file() (src/basic/path-util.c), in short. */
static int ignored_name(const char *name)
{
    static const char *const suffixes[] = {
        "~",         ".rpmnew",    ".rpmsave",  ".rpmorig",     ".dpkg-old",    ".dpkg-new",
        ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak", ".dpkg-backup", ".dpkg-remove", ".ucf-new",
        ".ucf-old",  ".ucf-dist",  ".swp",      ".bak",         ".old",         ".new"};
    if (name[0] == '.')
        return 1;
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && !strcmp(name + len - sl, suffixes[i]))
            return 1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct hook *)a)->name, ((const struct hook *)b)->name);
}

static int collect(const char *dirs, struct hook *hooks)
{
    int n = 0;
    char seen_dirs[8][PATH_MAX];
    int nseen = 0;
    char list[4096];
    snprintf(list, sizeof list, "%s", dirs);
    for (char *save = NULL, *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char real[PATH_MAX];
        if (!realpath(dir, real))
            continue; /* a directory that does not exist has no hooks */
        int dup = 0;
        for (int i = 0; i < nseen; i++)
            dup |= !strcmp(seen_dirs[i], real);
        if (dup || nseen == 8)
            continue; /* /lib/systemd/system-sleep is /usr/lib/... when /lib is merged */
        snprintf(seen_dirs[nseen++], PATH_MAX, "%s", real);
        DIR *d = opendir(dir);
        if (!d) {
            slog(LOG_WARNING, "khib: cannot read the system-sleep hooks in %s: %s", dir, strerror(errno));
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) && n < MAX_HOOKS) {
            if (ignored_name(e->d_name))
                continue;
            int known = 0;
            for (int i = 0; i < n; i++)
                known |= !strcmp(hooks[i].name, e->d_name);
            if (known)
                continue; /* the earlier directory's file of that name wins */
            struct hook *h = &hooks[n];
            snprintf(h->name, sizeof h->name, "%s", e->d_name);
            if ((size_t)snprintf(h->path, sizeof h->path, "%s/%s", dir, e->d_name) >= sizeof h->path)
                continue;
            struct stat st;
            char target[16];
            ssize_t tl = readlink(h->path, target, sizeof target - 1);
            if (tl == 9 && !memcmp(target, "/dev/null", 9)) {
                n++; /* masked: listed so that a later directory's file of that name is masked too */
                h->pid = -1;
                continue;
            }
            if (stat(h->path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
                n++;
                h->pid = -1;
                continue;
            }
            if (!(st.st_mode & 0111)) {
                slog(LOG_WARNING, "khib: system-sleep hook %s is not executable: skipped", h->path);
                n++;
                h->pid = -1;
                continue;
            }
            h->pid = 0;
            n++;
        }
        closedir(d);
    }
    qsort(hooks, (size_t)n, sizeof hooks[0], by_name);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int sleep_hooks_run(const char *dirs, const char *phase, const char *verb)
{
    static struct hook hooks[MAX_HOOKS];
    int n = collect(dirs, hooks), started = 0, running = 0;
    if (setenv("SYSTEMD_SLEEP_ACTION", verb, 1) != 0)
        slog(LOG_WARNING, "khib: cannot set SYSTEMD_SLEEP_ACTION=%s: %s", verb, strerror(errno));
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        if (hooks[i].pid < 0)
            continue;
        pid_t pid = fork();
        if (pid < 0) {
            slog(LOG_ERR, "khib: cannot start system-sleep hook %s: %s", hooks[i].path, strerror(errno));
            hooks[i].pid = -1;
            continue;
        }
        if (pid == 0) {
            setpgid(0, 0); /* its own process group: a timeout kills what it started too */
            execl(hooks[i].path, hooks[i].path, phase, verb, (char *)NULL);
            fprintf(stderr, "khib: cannot run system-sleep hook %s: %s\n", hooks[i].path, strerror(errno));
            _exit(127);
        }
        hooks[i].pid = pid;
        started++;
        running++;
    }
    int timeout = SLEEP_HOOK_TIMEOUT_S;
    const char *t = getenv("KHIB_SLEEP_TIMEOUT");
    if (t && atoi(t) > 0)
        timeout = atoi(t);
    double deadline = now_s() + timeout;
    while (running > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: none left */
        }
        if (pid == 0) {
            if (now_s() > deadline) {
                for (int i = 0; i < n; i++)
                    if (hooks[i].pid > 0) {
                        slog(LOG_ERR, "khib: system-sleep hook %s %s %s still runs after %d s: killed", hooks[i].path,
                             phase, verb, timeout);
                        if (kill(-hooks[i].pid, SIGKILL) != 0)
                            kill(hooks[i].pid, SIGKILL);
                    }
                deadline = now_s() + 3600; /* reap the killed ones */
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (hooks[i].pid != pid)
                continue;
            hooks[i].pid = -1;
            running--;
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                slog(LOG_WARNING,
                     "khib: system-sleep hook %s %s %s failed with exit status %d (ignored, as by"
                     " systemd-sleep)",
                     hooks[i].path, phase, verb, WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                slog(LOG_WARNING, "khib: system-sleep hook %s %s %s was killed by signal %d (ignored)", hooks[i].path,
                     phase, verb, WTERMSIG(status));
        }
    }
    return started;
}
