/* The fuzzers' crashers, replayed without libFuzzer: every file under
 * tests/fuzz/crashers/NAME/ goes through the harness khib_fuzz_NAME
 * (tests/fuzz/fuzz_NAME.c), which aborts on a broken invariant.  Built by
 * tests/fuzz/rules.mk with the harnesses; docs/fuzzing.md.
 *
 *   test_fuzz_replay [DIR]   DIR: the crashers (default: found from the
 *                            binary, build/tests/../../tests/fuzz/crashers)
 *   test_fuzz_replay NAME FILE...   run the harness NAME on the files
 */
#include "t.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/fuzz.h"

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} harness[] = {
    {"superblock", khib_fuzz_superblock},
    {"index", khib_fuzz_index},
    {"image", khib_fuzz_image},
    {"elfcore", khib_fuzz_elfcore},
    {"handoff", khib_fuzz_handoff},
};
#define NHARNESS (sizeof harness / sizeof *harness)

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Run one file; the harness aborts (and so fails this test) on a bug. */
static void replay(int h, const char *path)
{
    size_t len = 0;
    uint8_t *data = slurp(path, &len);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data)
        return;
    CHECK(harness[h].fn(data, len) == 0, "%s: %s", harness[h].name, path);
    free(data);
}

static int replay_dir(const char *root)
{
    int files = 0;
    for (size_t h = 0; h < NHARNESS; h++) {
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", root, harness[h].name) >= (int)sizeof dir)
            continue;
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[PATH_MAX];
            struct stat st;
            if (e->d_name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
                stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            replay((int)h, path);
            files++;
        }
        closedir(d);
    }
    return files;
}

int main(int argc, char **argv)
{
    if (argc >= 3) {
        for (size_t h = 0; h < NHARNESS; h++)
            if (strcmp(argv[1], harness[h].name) == 0)
                for (int i = 2; i < argc; i++)
                    replay((int)h, argv[i]);
        return t_done();
    }
    char root[PATH_MAX];
    if (argc == 2) {
        snprintf(root, sizeof root, "%s", argv[1]);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "cannot find the crashers: readlink /proc/self/exe failed\n");
            return 2;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        if (snprintf(root, sizeof root, "%s/../../tests/fuzz/crashers", self) >= (int)sizeof root) {
            fprintf(stderr, "cannot find the crashers: path too long\n");
            return 2;
        }
    }
    int files = replay_dir(root);
    CHECK(files > 0, "no crashers found under %s", root);
    printf("replayed %d crashers\n", files);
    return t_done();
}
