/* khib-testload: the workload whose state a resumed guest must still have.
 *
 *   khib-testload hold MIB SEED DIR
 *       Fill MIB MiB of anonymous memory with a pattern derived from SEED,
 *       lock nothing (the kernel may place it anywhere), then count: every
 *       10 ms the counter goes up and every 100 ms it is written to
 *       DIR/counter.  On SIGUSR1 the whole pattern is checked and the result
 *       written to DIR/verify ("ok N" or "bad OFFSET").
 *   khib-testload writer FILE
 *       Append numbered, checksummed records to FILE, fsync after each.
 *   khib-testload check-records FILE
 *       Verify that every record of FILE is intact and numbered 1..N without
 *       gaps (a torn last record is allowed: power can fail mid-write);
 *       prints "records N" and exits 0, or names the first bad record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested;

static void on_usr1(int sig) { (void)sig; verify_requested = 1; }

static uint64_t next(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int hold(size_t mib, uint64_t seed, const char *dir)
{
    size_t words = mib << 17;
    uint64_t *mem = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("khib-testload: mmap");
        return 1;
    }
    uint64_t s = seed | 1;
    for (size_t i = 0; i < words; i++)
        mem[i] = next(&s);
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    if (write_file(dir, "ready", "ready\n") != 0) {
        perror("khib-testload: write ready");
        return 1;
    }
    uint64_t counter = 0, verifies = 0;
    for (;;) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        counter++;
        char text[64];
        if (counter % 10 == 0) {
            snprintf(text, sizeof text, "%" PRIu64 "\n", counter);
            write_file(dir, "counter", text);
        }
        if (verify_requested) {
            verify_requested = 0;
            s = seed | 1;
            size_t bad = words;
            for (size_t i = 0; i < words && bad == words; i++)
                if (mem[i] != next(&s))
                    bad = i;
            if (bad == words)
                snprintf(text, sizeof text, "ok %" PRIu64 "\n", ++verifies);
            else
                snprintf(text, sizeof text, "bad %zu\n", bad * 8);
            write_file(dir, "verify", text);
        }
    }
}

/* Record: "REC <seq 10 digits> <payload 48 hex> <fnv64 16 hex>\n", 81 bytes. */
#define RECLEN 81

static uint64_t fnv64(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    while (n--) {
        h ^= (unsigned char)*p++;
        h *= 1099511628211ULL;
    }
    return h;
}

static void make_record(uint64_t seq, char out[RECLEN + 1])
{
    uint64_t s = seq * 0x9E3779B97F4A7C15ULL | 1;
    int n = snprintf(out, RECLEN + 1, "REC %010" PRIu64 " %016" PRIx64 "%016" PRIx64 "%016" PRIx64 " ", seq,
                     next(&s), next(&s), next(&s));
    snprintf(out + n, (size_t)(RECLEN + 1 - n), "%016" PRIx64 "\n", fnv64(out, (size_t)n));
    if (strlen(out) != RECLEN)
        abort();
}

static int writer(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        perror("khib-testload: open");
        return 1;
    }
    off_t end = lseek(fd, 0, SEEK_END);
    uint64_t seq = (uint64_t)end / RECLEN;
    if (end % RECLEN) {
        fprintf(stderr, "khib-testload: %s has a torn record; not appending\n", path);
        return 1;
    }
    for (;;) {
        char rec[RECLEN + 1];
        make_record(++seq, rec);
        if (write(fd, rec, RECLEN) != RECLEN || fdatasync(fd) != 0) {
            fprintf(stderr, "khib-testload: write %s: %s\n", path, strerror(errno));
            return 1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int check_records(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror("khib-testload: open");
        return 1;
    }
    char buf[RECLEN], want[RECLEN + 1];
    uint64_t seq = 0;
    size_t n;
    while ((n = fread(buf, 1, RECLEN, f)) == RECLEN) {
        make_record(++seq, want);
        if (memcmp(buf, want, RECLEN) != 0) {
            printf("bad record %" PRIu64 "\n", seq);
            fclose(f);
            return 1;
        }
    }
    fclose(f);
    printf("records %" PRIu64 "%s\n", seq, n ? " (last one torn)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "hold"))
        return hold(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0), argv[4]);
    if (argc == 3 && !strcmp(argv[1], "writer"))
        return writer(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "check-records"))
        return check_records(argv[2]);
    fprintf(stderr, "usage: khib-testload hold MIB SEED DIR | writer FILE | check-records FILE\n");
    return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 1;
}
