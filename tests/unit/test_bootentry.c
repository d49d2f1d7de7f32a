/* frontend/bootentry.c: the choice of boot= (auto, grub, none), the checks
 * of GRUB's restore entry (present, its words current, grubenv writable by
 * GRUB), and setting and clearing next_entry, against a fake grub.cfg and
 * stub grub-editenv and grub-probe programs in a temporary directory. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

#include "../../frontend/bootentry.h"

static char dir[64];
static char cfg[128], env[128], script[128], editenv[128], probe[128], fsfile[128];
static struct boot_paths paths;

static void put(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

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

static const char *entry_cfg =
    "menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-x' {\n"
    "\tlinux /vmlinuz-6.12.7-khib root=/dev/vda1 ro\n"
    "}\n"
    "menuentry 'khib: resume (Linux 6.12.7-khib)' --class khib $menuentry_id_option 'khib-resume-6.12.7-khib' {\n"
    "\tinsmod gzio\n"
    "\tlinux\t/vmlinuz-6.12.7-khib nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore"
    " khib.image=/dev/vdb khib.normal=reboot console=ttyS0\n"
    "\tinitrd\t/khib-initrd.img\n"
    "}\n";

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/khib-bootentry.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(cfg, sizeof cfg, "%s/grub.cfg", dir);
    snprintf(env, sizeof env, "%s/grubenv", dir);
    snprintf(script, sizeof script, "%s/45_khib", dir);
    snprintf(editenv, sizeof editenv, "%s/grub-editenv", dir);
    snprintf(probe, sizeof probe, "%s/grub-probe", dir);
    snprintf(fsfile, sizeof fsfile, "%s/probe-answers", dir);
    paths = (struct boot_paths){cfg, env, script, editenv, probe, 0, NULL};
    /* grub-editenv FILE set K=V | unset K | list, on a file of K=V lines. */
    put(editenv,
        "#!/bin/sh\nf=$1; op=$2; touch \"$f\"\n"
        "case $op in\n"
        "  list) cat \"$f\" ;;\n"
        "  set) k=${3%%=*}; grep -v \"^$k=\" \"$f\" > \"$f.new\"; echo \"$3\" >> \"$f.new\"; mv \"$f.new\" \"$f\" ;;\n"
        "  unset) grep -v \"^$3=\" \"$f\" > \"$f.new\"; mv \"$f.new\" \"$f\" ;;\n"
        "  *) exit 1 ;;\n"
        "esac\n",
        0755);
    /* grub-probe --target=abstraction|fs DIR: the answers file's lines. */
    char probe_text[512];
    snprintf(probe_text, sizeof probe_text,
             "#!/bin/sh\n. '%s'\ncase $1 in --target=abstraction) echo \"$abstraction\" ;; --target=fs) [ -n \"$fs\" ] "
             "|| exit 1; echo \"$fs\" ;; esac\n",
             fsfile);
    put(probe, probe_text, 0755);
    put(fsfile, "abstraction=\nfs=ext2\n", 0644);

    struct settings s;
    char err[512];
    CHECK(settings_load(&s, "/dev/null", err, sizeof err) == 0, "settings: %s", err);
    settings_set(&s, "target", "/dev/vdb", err, sizeof err);
    struct boot_plan plan;

    /* auto without grub.cfg: none. */
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && !plan.grub && strstr(plan.what, "is missing"),
          "auto, no grub.cfg: %s", plan.what);
    CHECK(boot_arm(&paths, &plan, err, sizeof err) == 0 && access(env, F_OK) != 0, "arming no GRUB touches nothing");
    /* auto with a grub.cfg that has no khib entry and no 45_khib: none. */
    put(cfg, "menuentry 'Debian' {\n\tlinux /vmlinuz\n}\n", 0644);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && !plan.grub && strstr(plan.what, "has no khib entry"),
          "auto, GRUB without khib: %s", plan.what);
    /* ... but with 45_khib installed, the missing entry is a FAIL. */
    put(script, "#!/bin/sh\n", 0755);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 &&
              strstr(plan.what, "no restore entry khib-resume-6.12.7-khib") && strstr(plan.fix, "update-grub"),
          "auto, 45_khib installed, update-grub not run: %s / %s", plan.what, plan.fix);
    /* boot=grub without the entry: FAIL. */
    unlink(script);
    settings_set(&s, "boot", "grub", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "no restore entry"),
          "boot=grub, no entry: %s", plan.what);
    unlink(cfg);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "cannot be read"),
          "boot=grub, no grub.cfg: %s", plan.what);
    /* The entry, current. */
    put(cfg, entry_cfg, 0644);
    settings_set(&s, "boot", "auto", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && plan.grub &&
              !strcmp(plan.entry, "khib-resume-6.12.7-khib") && strstr(plan.what, "on ext2"),
          "auto with the entry: %s", plan.what);
    CHECK(boot_plan(&paths, &s, "6.1.0-other", &plan) != 0 && strstr(plan.what, "khib-resume-6.1.0-other"),
          "another kernel has no entry: %s", plan.what);
    /* Out of date: another window, another target. */
    settings_set(&s, "window", "256M", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "out of date") &&
              strstr(plan.what, "memmap=255M@1M"),
          "window changed: %s", plan.what);
    settings_set(&s, "window", "192M", err, sizeof err);
    settings_set(&s, "target", "/dev/vdc", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "khib.image=/dev/vdc"),
          "target changed: %s", plan.what);
    settings_set(&s, "target", "/dev/vdb", err, sizeof err);
    settings_set(&s, "restore-append", "khib.wait=10", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "khib.wait=10"),
          "restore-append changed: %s", plan.what);
    settings_set(&s, "restore-append", "", err, sizeof err);
    /* A word that is only a prefix of the entry's does not count. */
    settings_set(&s, "target", "/dev/vd", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0, "khib.image=/dev/vd is not khib.image=/dev/vdb");
    settings_set(&s, "target", "/dev/vdb", err, sizeof err);
    /* GRUB cannot write grubenv there. */
    const char *bad[] = {"abstraction=lvm\nfs=ext2\n", "abstraction='diskfilter lvm'\nfs=ext2\n",
                         "abstraction=\nfs=btrfs\n", "abstraction=\nfs=zfs\n"};
    for (int i = 0; i < 4; i++) {
        put(fsfile, bad[i], 0644);
        CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "cannot write its environment") &&
                  strstr(plan.fix, "boot=none"),
              "%s: %s", bad[i], plan.what);
    }
    put(fsfile, "abstraction=\nfs=\n", 0644);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "cannot tell"),
          "grub-probe failing: %s", plan.what);
    put(fsfile, "abstraction=\nfs=xfs\n", 0644);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && plan.grub, "xfs is writable: %s", plan.what);

    /* Arm and disarm. */
    put(env, "saved_entry=gnulinux-simple-x\n", 0644);
    CHECK(boot_arm(&paths, &plan, err, sizeof err) == 0, "arm: %s", err);
    CHECK(strstr(slurp(env), "next_entry=khib-resume-6.12.7-khib\n") &&
              strstr(slurp(env), "saved_entry=gnulinux-simple-x"),
          "armed: %s", slurp(env));
    CHECK(boot_disarm(&paths, &plan, err, sizeof err) == 0 && !strstr(slurp(env), "next_entry") &&
              strstr(slurp(env), "saved_entry=gnulinux-simple-x"),
          "disarmed: %s", slurp(env));
    CHECK(boot_disarm(&paths, &plan, err, sizeof err) == 0, "disarming twice (GRUB cleared it at the boot)");
    put(env, "next_entry=somebody-else\n", 0644);
    CHECK(boot_disarm(&paths, &plan, err, sizeof err) == 0 && strstr(slurp(env), "next_entry=somebody-else"),
          "another next_entry stays: %s", slurp(env));
    /* An editenv that fails. */
    put(editenv, "#!/bin/sh\nexit 1\n", 0755);
    CHECK(boot_arm(&paths, &plan, err, sizeof err) != 0 && strstr(err, "cannot set GRUB's next boot"), "arm fails: %s",
          err);
    CHECK(boot_disarm(&paths, &plan, err, sizeof err) != 0 && strstr(err, "cannot read"), "disarm fails: %s", err);
    /* A set that does not hold (an editenv that ignores it). */
    put(editenv, "#!/bin/sh\nexit 0\n", 0755);
    CHECK(boot_arm(&paths, &plan, err, sizeof err) != 0 && strstr(err, "did not hold"), "arm not holding: %s", err);
    /* boot=none never touches GRUB. */
    settings_set(&s, "boot", "none", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && !plan.grub && strstr(plan.what, "boot=none"),
          "boot=none: %s", plan.what);
    CHECK(settings_set(&s, "boot", "lilo", err, sizeof err) != 0 && strstr(err, "auto, initramfs, grub or none"),
          "boot=lilo: %s", err);

    /* The ordinary entry resumes: a build hook's record for the release. */
    char stamps[600], stamp[700];
    snprintf(stamps, sizeof stamps, "%s/stamps", dir);
    snprintf(stamp, sizeof stamp, "%s/6.12.7-khib", stamps);
    mkdir(stamps, 0755);
    paths.stamps = stamps;
    settings_set(&s, "boot", "initramfs", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "has no khib hook") &&
              strstr(plan.fix, "update-initramfs -u"),
          "boot=initramfs without a record: FAIL: %s / %s", plan.what, plan.fix);
    put(stamp, "generator=dracut\ntarget=/dev/vdb\n", 0644);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && !plan.grub && strstr(plan.what, "none needed") &&
              strstr(plan.what, "dracut for target=/dev/vdb"),
          "boot=initramfs with the record: %s", plan.what);
    CHECK(boot_arm(&paths, &plan, err, sizeof err) == 0, "arming the initramfs way sets nothing: %s", err);
    settings_set(&s, "boot", "auto", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) == 0 && !plan.grub && strstr(plan.what, "none needed"),
          "auto with the record: the initramfs wins over GRUB's entry: %s", plan.what);
    CHECK(boot_plan(&paths, &s, "6.1.0-other", &plan) == 0 || !strstr(plan.what, "none needed"),
          "another release has no record: not the initramfs way: %s", plan.what);
    settings_set(&s, "target", "/dev/vdc", err, sizeof err);
    CHECK(boot_plan(&paths, &s, "6.12.7-khib", &plan) != 0 && strstr(plan.what, "built for target=/dev/vdb") &&
              strstr(plan.fix, "update-initramfs -u"),
          "target changed since the initramfs was built: FAIL: %s / %s", plan.what, plan.fix);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
