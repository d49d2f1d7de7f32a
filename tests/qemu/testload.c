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
 *   khib-testload tcp DIR
 *       A TCP pair over loopback: a child accepts one connection and echoes
 *       every 8-byte message; the parent sends sequence numbers 1, 2, ...
 *       every 10 ms and checks each echo.  DIR/tcp says "ok N" (N messages
 *       echoed in order), rewritten every 100 messages, or "bad WHY" for a
 *       lost, duplicated or reordered message, a reset or an error, after
 *       which both exit 1.
 *   khib-testload fiemap FILE
 *       Print "physical P flags 0xF unwritten U" for FILE's first extent
 *       (FIEMAP, synced): where an image file's first block lies.
 *   khib-testload attr FILE +i|-i
 *       Set or clear FILE's immutable flag (chattr; busybox has none).
 *   khib-testload punch FILE OFFSET LENGTH
 *       Punch a hole into FILE (fallocate PUNCH_HOLE | KEEP_SIZE).
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* Read or write exactly 8 bytes; 0 on success, else errno (ECONNRESET for
 * an end of stream). */
static int io8(int fd, void *buf, int out)
{
    size_t done = 0;
    while (done < 8) {
        ssize_t n = out ? write(fd, (char *)buf + done, 8 - done) : read(fd, (char *)buf + done, 8 - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return ECONNRESET;
        done += (size_t)n;
    }
    return 0;
}

static int tcp_bad(const char *dir, const char *what, uint64_t seq, int err)
{
    char text[160];
    snprintf(text, sizeof text, "bad %s at message %" PRIu64 "%s%s\n", what, seq, err ? ": " : "",
             err ? strerror(err) : "");
    write_file(dir, "tcp", text);
    fprintf(stderr, "khib-testload: tcp: %s", text);
    return 1;
}

/* The echo side: every message must be the next sequence number. */
static int tcp_server(int lfd, const char *dir)
{
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return tcp_bad(dir, "accept", 0, errno);
    for (uint64_t want = 1;; want++) {
        uint64_t got;
        int err = io8(fd, &got, 0);
        if (err)
            return tcp_bad(dir, "server read", want, err);
        if (got != want)
            return tcp_bad(dir, got < want ? "duplicate or reordered message" : "lost message", want, 0);
        if ((err = io8(fd, &got, 1)))
            return tcp_bad(dir, "server write", want, err);
    }
}

static int tcp(const char *dir)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        return tcp_bad(dir, "listen", 0, errno);
    pid_t child = fork();
    if (child < 0)
        return tcp_bad(dir, "fork", 0, errno);
    if (child == 0)
        _exit(tcp_server(lfd, dir));
    close(lfd);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return tcp_bad(dir, "connect", 0, errno);
    for (uint64_t seq = 1;; seq++) {
        uint64_t echo;
        int err = io8(fd, &seq, 1);
        if (!err)
            err = io8(fd, &echo, 0);
        if (err) {
            kill(child, SIGTERM);
            return tcp_bad(dir, "client", seq, err);
        }
        if (echo != seq) {
            kill(child, SIGTERM);
            return tcp_bad(dir, "wrong echo", seq, 0);
        }
        if (seq % 100 == 1) {
            char text[64];
            snprintf(text, sizeof text, "ok %" PRIu64 "\n", seq);
            write_file(dir, "tcp", text);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The first extent of path, by FIEMAP. */
static int first_extent(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct {
        struct fiemap fm;
        struct fiemap_extent e[1];
    } q;
    memset(&q, 0, sizeof q);
    q.fm.fm_length = FIEMAP_MAX_OFFSET;
    q.fm.fm_flags = FIEMAP_FLAG_SYNC;
    q.fm.fm_extent_count = 1;
    if (fd < 0 || ioctl(fd, FS_IOC_FIEMAP, &q.fm) != 0 || q.fm.fm_mapped_extents != 1) {
        fprintf(stderr, "fiemap %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(fd);
    printf("physical %llu flags 0x%x unwritten %d\n", (unsigned long long)q.e[0].fe_physical, q.e[0].fe_flags,
           !!(q.e[0].fe_flags & FIEMAP_EXTENT_UNWRITTEN));
    return 0;
}

static int set_immutable(const char *path, int on)
{
    int fd = open(path, O_RDONLY), flags = 0;
    if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        fprintf(stderr, "attr %s: %s\n", path, strerror(errno));
        return 1;
    }
    flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
    int rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    if (rc != 0)
        fprintf(stderr, "attr %s: %s\n", path, strerror(errno));
    close(fd);
    return rc != 0;
}

static int punch(const char *path, off_t off, off_t len)
{
    int fd = open(path, O_RDWR);
    if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0 || fsync(fd) != 0) {
        fprintf(stderr, "punch %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "fiemap"))
        return first_extent(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "attr") && (!strcmp(argv[3], "+i") || !strcmp(argv[3], "-i")))
        return set_immutable(argv[2], argv[3][0] == '+');
    if (argc == 5 && !strcmp(argv[1], "punch"))
        return punch(argv[2], (off_t)strtoll(argv[3], NULL, 0), (off_t)strtoll(argv[4], NULL, 0));
    if (argc == 5 && !strcmp(argv[1], "hold"))
        return hold(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0), argv[4]);
    if (argc == 3 && !strcmp(argv[1], "writer"))
        return writer(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "check-records"))
        return check_records(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "tcp"))
        return tcp(argv[2]);
    fprintf(stderr, "usage: khib-testload hold MIB SEED DIR | writer FILE | check-records FILE | tcp DIR |"
                    " fiemap FILE | attr FILE +i|-i | punch FILE OFFSET LENGTH\n");
    return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 1;
}
