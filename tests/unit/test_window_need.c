/* frontend/window_need.c: the window's need, from the kernel's setup
 * header, the initramfs's gzip trailer and khib-save's buffers, which are
 * saver/save.c save_mem()'s (the case with a bounce buffer). */
#include "t.h"

#include <unistd.h>

#include "../../frontend/window_need.h"
#include "../../saver/save.h"
#include "image_format.h"
#include "save_budget.h"

static const char *dir;

static void put_file(const char *name, const unsigned char *data, size_t len, char *path)
{
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int main(void)
{
    char tmpl[] = "/tmp/khib-window-need.XXXXXX";
    dir = mkdtemp(tmpl);
    if (!dir)
        return 2;
    char err[512], kernel[600], initrd[600], other[600];

    /* khib-save's buffers, for every thread count B may use and the levels. */
    struct save_input in = {0};
    int levels[] = {KHIB_LEVEL_AUTO, KHIB_LEVEL_STORE, 1, 3, 19};
    for (unsigned t = 1; t <= 8; t++)
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++)
            CHECK(khib_save_buffers(t, levels[l], 1) == save_mem(&in, t, levels[l]),
                  "%u threads, level %d: %zu, save_mem %zu", t, levels[l], khib_save_buffers(t, levels[l], 1),
                  save_mem(&in, t, levels[l]));

    /* A setup header of protocol 2.15 with an init_size of 21 MiB. */
    unsigned char h[0x300] = {0};
    memcpy(h + 0x202, "HdrS", 4);
    h[0x206] = 0x0f;
    h[0x207] = 0x02;
    put32(h + 0x260, 21u << 20);
    put_file("bzImage", h, sizeof h, kernel);
    uint64_t size = 0;
    CHECK(bzimage_init_size(kernel, &size, err, sizeof err) == 0 && size == 21u << 20, "init_size %llu: %s",
          (unsigned long long)size, err);
    h[0x206] = 0x09;   /* protocol 2.09: no init_size */
    put_file("old", h, sizeof h, other);
    CHECK_ERR(bzimage_init_size(other, &size, err, sizeof err) != 0, err, "boot protocol 2.10 or later");
    memset(h + 0x202, 0, 4);
    put_file("notkernel", h, sizeof h, other);
    CHECK_ERR(bzimage_init_size(other, &size, err, sizeof err) != 0, err, "is not a bzImage");
    put_file("short", h, 16, other);
    CHECK_ERR(bzimage_init_size(other, &size, err, sizeof err) != 0, err, "is not a bzImage");
    CHECK_ERR(bzimage_init_size("/nonexistent/bzImage", &size, err, sizeof err) != 0, err, "cannot open");

    /* A gzip archive of 1000 bytes that unpacks to 6 MiB (its ISIZE). */
    unsigned char gz[1000] = {0x1f, 0x8b, 8};
    put32(gz + sizeof gz - 4, 6u << 20);
    put_file("initrd.gz", gz, sizeof gz, initrd);
    struct window_need n;
    CHECK(window_need(kernel, initrd, 192ULL << 20, 0, 2, KHIB_LEVEL_AUTO, 0, &n, err, sizeof err) == 0, "%s", err);
    CHECK(n.kernel == 21u << 20 && n.initrd == 1000 + (6u << 20), "kernel %llu initrd %llu",
          (unsigned long long)n.kernel, (unsigned long long)n.initrd);
    CHECK(n.save == khib_save_buffers(2, KHIB_LEVEL_AUTO, 1) && n.kdf == 0 && n.threads == 2, "save %llu",
          (unsigned long long)n.save);
    CHECK(n.overhead == (3ULL << 20) + WINDOW_KERNEL_FIXED, "overhead %llu", (unsigned long long)n.overhead);
    CHECK(n.total == n.kernel + n.initrd + n.save + n.overhead, "total %llu", (unsigned long long)n.total);
    /* Encryption: R's key derivation (64 MiB of Argon2id) outweighs B's buffers. */
    CHECK(window_need(kernel, initrd, 192ULL << 20, 0, 2, KHIB_LEVEL_AUTO, 64ULL << 20, &n, err, sizeof err) == 0 &&
              n.kdf == 80ULL << 20 && n.total == n.kernel + n.initrd + n.kdf + n.overhead,
          "kdf %llu total %llu", (unsigned long long)n.kdf, (unsigned long long)n.total);
    /* The chunk table and index of a 64 GiB machine: 12.5 MiB more. */
    CHECK(window_need(kernel, initrd, 192ULL << 20, 64ULL << 30, 2, KHIB_LEVEL_AUTO, 0, &n, err, sizeof err) == 0 &&
              n.save == khib_save_buffers(2, KHIB_LEVEL_AUTO, 1) + 65536 * 200,
          "save %llu", (unsigned long long)n.save);
    /* Not gzip: counted four times besides itself. */
    gz[0] = 0x28;
    put_file("initrd.zst", gz, sizeof gz, other);
    CHECK(window_need(kernel, other, 192ULL << 20, 0, 1, 1, 0, &n, err, sizeof err) == 0 && n.initrd == 5000,
          "initrd %llu", (unsigned long long)n.initrd);
    CHECK_ERR(window_need(kernel, "/nonexistent/initrd", 192ULL << 20, 0, 1, 1, 0, &n, err, sizeof err) != 0, err,
              "cannot read");

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
