/* frontend/settings.c, linked from the front end's archive: sizes, each
 * key's values and refusals, and /etc/khib.conf's syntax. */
#include "t.h"

#include <unistd.h>

#include "../../frontend/settings.h"
#include "chunk_codec.h"

static void test_sizes(void)
{
    static const struct { const char *text; uint64_t want; } good[] = {
        {"192M", 192ull << 20}, {"1G", 1ull << 30}, {"201326592", 201326592}, {"64MiB", 64ull << 20},
        {"4k", 4096}, {"2GB", 2ull << 30}, {"0x1000", 4096},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 0;
        CHECK(parse_size(good[i].text, &v) == 0 && v == good[i].want, "size %s", good[i].text);
    }
    static const char *bad[] = {"", "M", "12X", "1G2", "99999999999999999999", "17179869184G", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 0;
        CHECK(parse_size(bad[i], &v) != 0, "not a size: '%s'", bad[i]);
    }
}

static void test_keys(void)
{
    struct settings s;
    char err[300];
    CHECK(settings_load(&s, "/nonexistent/khib.conf", err, sizeof err) != 0, "a named file must exist");
    CHECK_ERR(1, err, "cannot read /nonexistent/khib.conf");
    memset(&s, 0, sizeof s);
    CHECK(settings_set(&s, "target", "/dev/vdb", err, sizeof err) == 0 && !strcmp(s.target, "/dev/vdb"), "target");
    CHECK(settings_set(&s, "window", "256M", err, sizeof err) == 0 && s.window == 256ull << 20, "window");
    CHECK_ERR(settings_set(&s, "window", "32M", err, sizeof err) != 0, err, "at least 64M");
    CHECK_ERR(settings_set(&s, "window", "100000K", err, sizeof err) != 0, err, "whole MiB");
    CHECK(settings_set(&s, "level", "auto", err, sizeof err) == 0 && s.level == KHIB_LEVEL_AUTO, "level auto");
    CHECK(settings_set(&s, "level", "store", err, sizeof err) == 0 && s.level == KHIB_LEVEL_STORE, "level store");
    CHECK(settings_set(&s, "level", "3", err, sizeof err) == 0 && s.level == 3, "level 3");
    CHECK_ERR(settings_set(&s, "level", "0", err, sizeof err) != 0, err, "not auto, store or a zstd level");
    CHECK_ERR(settings_set(&s, "level", "20", err, sizeof err) != 0, err, "from -7 to 19");
    CHECK(settings_set(&s, "trim", "no", err, sizeof err) == 0 && s.trim == 0, "trim no");
    CHECK(settings_set(&s, "trim", "yes", err, sizeof err) == 0 && s.trim == 1, "trim yes");
    CHECK_ERR(settings_set(&s, "trim", "maybe", err, sizeof err) != 0, err, "trim: 'maybe' is not yes or no");
    CHECK(settings_set(&s, "exclude-free", "no", err, sizeof err) == 0 && s.exclude_free == 0 && s.trim == 1,
          "exclude-free no");
    CHECK(settings_set(&s, "exclude-free", "yes", err, sizeof err) == 0 && s.exclude_free == 1, "exclude-free yes");
    CHECK_ERR(settings_set(&s, "exclude-free", "1", err, sizeof err) != 0, err, "exclude-free: '1' is not yes or no");
    CHECK(settings_set(&s, "ignore-fs", "/srv", err, sizeof err) == 0 && s.ignore_fs_count == 1 &&
              !strcmp(s.ignore_fs[0], "/srv"), "ignore-fs");
    CHECK_ERR(settings_set(&s, "ignore-fs", "srv", err, sizeof err) != 0, err, "not a mount point");
    CHECK(settings_set(&s, "image-size", "2G", err, sizeof err) == 0 && s.image_size == 2ull << 30, "image-size");
    CHECK(settings_set(&s, "image_size", "300M", err, sizeof err) == 0 && s.image_size == 300ull << 20,
          "image_size, the kernel's spelling");
    CHECK(settings_set(&s, "image-size", "none", err, sizeof err) == 0 && s.image_size == 0, "image-size none");
    CHECK_ERR(settings_set(&s, "image-size", "0", err, sizeof err) != 0, err, "at least 1M");
    CHECK_ERR(settings_set(&s, "image-size", "lots", err, sizeof err) != 0, err, "image-size: 'lots' is not none");
    CHECK(settings_set(&s, "boot", "none", err, sizeof err) == 0 && s.boot == BOOT_NONE, "boot none");
    CHECK_ERR(settings_set(&s, "boot", "lilo", err, sizeof err) != 0, err, "not auto, initramfs, grub or none");
    char longv[600];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    CHECK_ERR(settings_set(&s, "append", longv, err, sizeof err) != 0, err, "value too long");
    CHECK_ERR(settings_set(&s, "colour", "blue", err, sizeof err) != 0, err, "unknown setting 'colour'");
}

static void test_file(void)
{
    char path[] = "/tmp/khib-settings-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd < 0)
        return;
    static const char conf[] = "# khib.conf\n\n  target = /dev/vdc\nwindow=128M\nlevel= store\n"
                               "append = quiet loglevel=3\n";
    CHECK(write(fd, conf, sizeof conf - 1) == (ssize_t)(sizeof conf - 1), "write");
    close(fd);
    struct settings s;
    char err[300];
    CHECK(settings_load(&s, path, err, sizeof err) == 0, "load: %s", err);
    CHECK(!strcmp(s.target, "/dev/vdc") && s.window == 128ull << 20 && s.level == KHIB_LEVEL_STORE &&
              !strcmp(s.append, "quiet loglevel=3"), "key and value trimmed in front, '=' kept in a value");
    CHECK(s.trim == 1 && s.exclude_free == 1 && s.image_size == 0 && !strcmp(s.kexec, "/usr/sbin/kexec") && !strcmp(s.initrd, KHIB_DEFAULT_INITRD) &&
              !strncmp(s.kernel, "/boot/vmlinuz-", 14), "defaults for the keys not given");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "rewrite");
    if (f) {
        fputs("target=/dev/vdb\nno equals sign\n", f);
        fclose(f);
    }
    CHECK_ERR(settings_load(&s, path, err, sizeof err) != 0, err, ":2: expected key=value");
    f = fopen(path, "w");
    if (f) {
        fputs("\n\ntrim=sometimes\n", f);
        fclose(f);
    }
    CHECK_ERR(settings_load(&s, path, err, sizeof err) != 0, err, ":3: trim: 'sometimes' is not yes or no");
    unlink(path);
}

int main(void)
{
    test_sizes();
    test_keys();
    test_file();
    return t_done();
}
