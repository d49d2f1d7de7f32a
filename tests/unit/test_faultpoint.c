/* Fault points (lib/faultpoint.c): the word khib.test.stop=NAME arms a point
 * only in exactly that form, split from the command line as the kernel
 * splits it; an armed point prints its marker and stops for good; without
 * the word every point returns and nothing is printed. */
#include "t.h"

#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultpoint.h"

static void parses(const char *cmdline, const char *want)
{
    char out[128] = "junk";
    int found = khib_fault_parse(cmdline, out, sizeof out);
    if (want)
        CHECK(found == 1 && !strcmp(out, want), "'%s': expected '%s', got %d '%s'", cmdline, want, found, out);
    else
        CHECK(found == 0 && out[0] == '\0', "'%s': expected no stop word, got %d '%s'", cmdline, found, out);
}

static void test_parse(void)
{
    /* The word itself, alone, among others, at either end, with the
     * kernel's blanks (and /proc/cmdline's newline). */
    parses("khib.test.stop=save-index", "save-index");
    parses("khib.test.stop=save-index\n", "save-index");
    parses("console=ttyS0 khib.test.stop=restore-consumed panic=-1\n", "restore-consumed");
    parses("nokaslr memmap=exactmap memmap=640K@0 khib.role=restore khib.test.stop=restore-half-memory",
           "restore-half-memory");
    parses("  \tkhib.test.stop=save-data\t quiet", "save-data");
    parses("a=1\nkhib.test.stop=save-data\r\nb", "save-data");
    /* Several words: the last one counts, as for any parameter given twice. */
    parses("khib.test.stop=save-data x=1 khib.test.stop=save-index y", "save-index");
    /* The name is taken whole: a point is compared with all of it. */
    parses("khib.test.stop=save-index-synced", "save-index-synced");
    parses("khib.test.stop=save", "save");

    /* Not the word. */
    parses("", NULL);
    parses("\n", NULL);
    parses("console=ttyS0 panic=-1 khib.role=save khib.test=1", NULL);
    parses("xkhib.test.stop=save-index", NULL);
    parses("khib.test.stopX=save-index", NULL);
    parses("khib.test.stop.x=save-index", NULL);
    parses("khib.test.sto=save-index", NULL);
    parses("khib.test=save-index", NULL);
    parses("KHIB.TEST.STOP=save-index", NULL);
    parses("khib_test_stop=save-index khib-test-stop=save-index", NULL);
    parses("khib.test.stop", NULL);
    parses("khib.test.stop=", NULL);
    parses("khib.test.stop= save-index", NULL);
    parses("khib.test.stop =save-index", NULL);
    /* In the middle of another word. */
    parses("foo=khib.test.stop=save-index", NULL);
    parses("foo,khib.test.stop=save-index", NULL);
    parses("khibtest.scenario=khib.test.stop=save-index", NULL);
    /* After "--": init's arguments, not the kernel's parameters. */
    parses("console=ttyS0 -- khib.test.stop=save-index", NULL);
    parses("console=ttyS0 --x khib.test.stop=save-index", "save-index");

    /* Quoting, as the kernel reads it: inside another parameter's quoted
     * value it is part of that value; quotes around the word or its value
     * are not part of the name. */
    parses("foo=\"a khib.test.stop=save-index b\"", NULL);
    parses("foo=\"a khib.test.stop=save-index b\" bar", NULL);
    parses("\"foo khib.test.stop=save-index\"", NULL);
    parses("\"khib.test.stop=save-index\"", "save-index");
    parses("x \"khib.test.stop=save-data\" y", "save-data");
    parses("khib.test.stop=\"save-index\"", "save-index");
    parses("khib.test.stop=\"save index\" y", "save index");
    parses("foo=\"a b\" khib.test.stop=save-synced", "save-synced");
    parses("foo=\"unterminated khib.test.stop=save-index", NULL);

    /* Cut to the buffer, still found. */
    char small[5];
    CHECK(khib_fault_parse("khib.test.stop=save-index", small, sizeof small) == 1 && !strcmp(small, "save"),
          "a cut name: '%s'", small);
    CHECK(khib_fault_parse(NULL, small, sizeof small) == 0 && small[0] == '\0', "NULL command line");
}

static char dir[64];

/* Run every point in order in a child whose command line file holds
 * cmdline (NULL: no such file).  Its stdout and stderr in out, its status
 * in *status: the child is killed (SIGTERM) once its marker has shown. */
static void run_child(const char *cmdline, char *out, size_t outlen, int *status)
{
    char path[128];
    snprintf(path, sizeof path, "%s/cmdline", dir);
    unlink(path);
    if (cmdline) {
        FILE *f = fopen(path, "w");
        if (!f || fputs(cmdline, f) < 0 || fclose(f) != 0) {
            perror(path);
            exit(2);
        }
    }
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[1]);
        setenv(KHIB_FAULT_CMDLINE_ENV, path, 1);
        khib_fault_init("test");
        const char *a = khib_fault_armed();
        printf("armed: %s\n", a ? a : "(none)");
        for (const char *const *p = khib_fault_points; *p; p++) {
            printf("at %s\n", *p);
            fflush(stdout);
            khib_faultpoint(*p);
            printf("past %s\n", *p);
            fflush(stdout);
        }
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    int killed = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + n, outlen - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = '\0';
        if (!killed && strstr(out, KHIB_FAULT_MARKER) && strchr(strstr(out, KHIB_FAULT_MARKER), '\n')) {
            kill(pid, SIGTERM);
            killed = 1;
        }
        if (n == outlen - 1)
            break;
    }
    out[n] = '\0';
    close(fds[0]);
    if (waitpid(pid, status, 0) != pid) {
        perror("waitpid");
        exit(2);
    }
}

static int exited_0(int st)
{
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_points(void)
{
    char out[8192];
    int st;

    /* Armed: every point before it passes, it stops, and nothing after it
     * runs: the child is still waiting when it is killed. */
    for (const char *const *p = khib_fault_points; *p; p++) {
        char cmd[200], want[200], after[200];
        snprintf(cmd, sizeof cmd, "console=ttyS0 khib.role=restore khib.test.stop=%s panic=-1\n", *p);
        run_child(cmd, out, sizeof out, &st);
        snprintf(want, sizeof want, "at %s\n" KHIB_FAULT_MARKER "%s\n", *p, *p);
        snprintf(after, sizeof after, "past %s\n", *p);
        CHECK(strstr(out, want) != NULL, "%s: no marker right after the point: '%s'", *p, out);
        CHECK(strstr(out, after) == NULL, "%s: went on past its point: '%s'", *p, out);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "%s: not waiting at its point (status 0x%x)", *p, st);
        CHECK(strstr(out, "test: khib.test.stop=") && strstr(out, ": will stop there\n"), "%s: not announced: '%s'",
              *p, out);
        for (const char *const *q = khib_fault_points; q < p; q++) {
            snprintf(after, sizeof after, "past %s\n", *q);
            CHECK(strstr(out, after) != NULL, "%s: stopped before it, at %s: '%s'", *p, *q, out);
        }
        CHECK(strstr(out, KHIB_FAULT_MARKER) == strstr(out, want) + strlen(*p) + 4,
              "%s: a marker before its point: '%s'", *p, out);
    }

    /* Not armed: every point passes, and nothing is said. */
    static const char *const quiet[] = {
        "console=ttyS0 panic=-1\n",
        "xkhib.test.stop=save-index khib.test.stopX=save-index foo=khib.test.stop=save-index\n",
        "foo=\"khib.test.stop=save-index\"\n",
        "-- khib.test.stop=save-index\n",
        "",
    };
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        run_child(quiet[i], out, sizeof out, &st);
        CHECK(exited_0(st) && strstr(out, "past restore-before-jump\n"), "'%s': did not pass every point: '%s'",
              quiet[i], out);
        CHECK(strstr(out, KHIB_FAULT_MARKER) == NULL && strstr(out, "test:") == NULL &&
                  !strncmp(out, "armed: (none)\n", 14),
              "'%s': said something: '%s'", quiet[i], out);
    }
    run_child(NULL, out, sizeof out, &st);
    CHECK(exited_0(st) && !strncmp(out, "armed: (none)\n", 14) && strstr(out, "past restore-before-jump\n") &&
              !strstr(out, "test:"),
          "no command line file: '%s'", out);

    /* A name that is no point, or a prefix or an extension of one: no
     * point stops, and the word is reported. */
    static const char *const other[] = {"save", "save-index-synced", "save-inde", "restore-consumedX", "Save-index"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char cmd[200], want[200];
        snprintf(cmd, sizeof cmd, "khib.test.stop=%s\n", other[i]);
        run_child(cmd, out, sizeof out, &st);
        snprintf(want, sizeof want, "test: khib.test.stop=%s names no fault point; running on\n", other[i]);
        CHECK(exited_0(st) && strstr(out, "past restore-before-jump\n") && !strstr(out, KHIB_FAULT_MARKER),
              "'%s': stopped: '%s'", other[i], out);
        CHECK(strstr(out, want) != NULL, "'%s': not reported: '%s'", other[i], out);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/khib-faultpoint.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_parse();
    test_points();
    char path[128];
    snprintf(path, sizeof path, "%s/cmdline", dir);
    unlink(path);
    rmdir(dir);
    return t_done();
}
