/* frontend/kexec_tools.c: the version of kexec-tools, and the words of the
 * load for each version from 2.0.16 to 2.0.32 (kexec_tools.h says why they
 * are the same from 2.0.17 on); the probe against stub programs. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

#include "../../frontend/kexec_tools.h"

static int has(char **argv, const char *word)
{
    for (; *argv; argv++)
        if (!strcmp(*argv, word))
            return 1;
    return 0;
}

static void stub(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

int main(void)
{
    struct kexec_version v;
    CHECK(kexec_version_parse("kexec-tools 2.0.25\n", &v) == 0 && v.major == 2 && v.minor == 0 && v.patch == 25,
          "2.0.25 parsed as %d.%d.%d", v.major, v.minor, v.patch);
    CHECK(!strcmp(v.text, "kexec-tools 2.0.25"), "text '%s'", v.text);
    CHECK(kexec_version_parse("kexec-tools 2.0.32-rc1", &v) == 0 && v.patch == 32, "2.0.32-rc1");
    CHECK(kexec_version_parse("kexec-tools 2.1", &v) == 0 && v.minor == 1 && v.patch == 0, "2.1");
    CHECK(kexec_version_parse("kexec-tools-testing 20080324", &v) != 0 && v.major == 0, "an old snapshot name");
    CHECK(kexec_version_parse("Usage: kexec [OPTION]...", &v) != 0 && v.major == 0, "no version");
    CHECK(kexec_version_parse("", &v) != 0, "empty");

    /* Every version Debian ships or shipped in this range takes one argument
     * vector; -c from 2.0.17 on. */
    static const char *const versions[] = {"2.0.16", "2.0.17", "2.0.25", "2.0.26", "2.0.27", "2.0.28",
                                           "2.0.29", "2.0.30", "2.0.31", "2.0.32", "3.0.0"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char line[64], buf[512], *argv[KEXEC_ARGV_MAX];
        snprintf(line, sizeof line, "kexec-tools %s", versions[i]);
        CHECK(kexec_version_parse(line, &v) == 0, "%s parses", line);
        int rc = kexec_load_argv(&v, "/usr/sbin/kexec", "/boot/vmlinuz", "/tmp/initrd", "nokaslr khib.role=save",
                                 (192ULL << 20) - 1, argv, buf, sizeof buf);
        CHECK(rc == 0, "%s: argv built", line);
        int want_c = strcmp(versions[i], "2.0.16") != 0;
        CHECK(has(argv, "-c") == want_c, "%s: -c %s", line, want_c ? "passed" : "left out");
        CHECK(has(argv, "--load-preserve-context") && has(argv, "--no-checks") && has(argv, "--mem-min=0x0") &&
                  has(argv, "--mem-max=0xbffffff") && has(argv, "--initrd=/tmp/initrd") &&
                  has(argv, "--append=nokaslr khib.role=save"),
              "%s: the load's words", line);
        CHECK(!strcmp(argv[0], "/usr/sbin/kexec"), "%s: argv[0]", line);
        int n = 0;
        while (argv[n])
            n++;
        CHECK(n < KEXEC_ARGV_MAX && !strcmp(argv[n - 1], "/boot/vmlinuz"), "%s: the kernel comes last", line);
    }
    /* Unknown: -c (a current kexec-tools is the likely case). */
    memset(&v, 0, sizeof v);
    CHECK(kexec_version_wants_c(&v), "an unknown version gets -c");
    char small[20], *argv[KEXEC_ARGV_MAX];
    int rc = kexec_load_argv(&v, "k", "K", "I", "a long command line that does not fit", 1, argv, small, sizeof small);
    CHECK(rc != 0, "a buffer too small is refused");

    /* The probe runs the program. */
    char dir[] = "/tmp/khib-kexec-tools.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/kexec", dir);
    stub(path, "[ \"$1\" = --version ] && echo 'kexec-tools 2.0.29' && exit 0; exit 1");
    CHECK(kexec_version_probe(path, &v) == 0 && v.patch == 29 && !strcmp(v.text, "kexec-tools 2.0.29"),
          "probe of a 2.0.29 stub: %s", v.text);
    stub(path, "echo 'kexec: unrecognized option'; exit 1");
    CHECK(kexec_version_probe(path, &v) != 0 && strstr(v.text, "named no version"), "probe of a stub without: %s",
          v.text);
    unlink(path);
    CHECK(kexec_version_probe(path, &v) != 0, "probe of a missing program");
    rmdir(dir);
    return t_done();
}
