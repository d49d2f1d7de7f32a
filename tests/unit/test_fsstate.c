/* lib/fsstate.c against real file systems: images made by mkfs.ext4,
 * mkfs.xfs, mkfs.btrfs and mkfs.fat in a temporary directory, changed
 * offline with their own tools (nothing is mounted), and probed again: the
 * state must stay put while nothing changes and move, with the right
 * message, when something does.  A missing tool fails the test
 * (tools/install-deps.sh installs them). */
#include "t.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsstate.h"
#include "le.h"
#include "uuid.h"

#define W KHIB_FS_STATE_WORDS

static char dir[] = "/tmp/khib-fsstate.XXXXXX";
static char err[512];

/* Run a shell command in dir, output to dir/log; its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[1024], full[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && { %s ; } >>log 2>&1 </dev/null", dir, cmd);
    int rc = system(full);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    if (rc != 0 && rc != 1)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

#define RUN(...) CHECK(sh(__VA_ARGS__) == 0, "command failed: %s (see %s/log)", #__VA_ARGS__, dir)

/* The first line a command prints. */
static void sh_out(char *out, size_t len, const char *cmd)
{
    char full[1200];
    snprintf(full, sizeof full, "cd %s && %s 2>>log", dir, cmd);
    out[0] = 0;
    FILE *p = popen(full, "r");
    if (p && fgets(out, (int)len, p))
        out[strcspn(out, "\n")] = 0;
    if (p)
        pclose(p);
}

static char *at(const char *name)
{
    static char path[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
    return path[i];
}

static int probe_flags(uint32_t kind, const char *name, int flags, uint8_t uuid[16], uint64_t st[W])
{
    int fd = open(at(name), flags | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, sizeof err, "cannot open %s", name);
        return -100;
    }
    err[0] = 0;
    int rc = khib_fs_probe(fd, kind, uuid, st, err, sizeof err);
    close(fd);
    return rc;
}

static int probe(uint32_t kind, const char *name, uint64_t st[W])
{
    uint8_t uuid[16];
    return probe_flags(kind, name, O_RDONLY, uuid, st);
}

/* Probe name as kind into now (OK expected), and expect the difference from
 * was to be described by a message containing want (or none: want NULL). */
static void expect_diff(uint32_t kind, const char *name, const uint64_t was[W], uint64_t now[W], const char *want,
                        const char *what)
{
    int rc = probe(kind, name, now);
    CHECK(rc == KHIB_FS_OK, "%s: probe %s: %d %s", what, name, rc, err);
    err[0] = 0;
    int d = khib_fs_state_diff(kind, was, now, err, sizeof err);
    if (!want)
        CHECK(d == 0, "%s: expected no change, got '%s'", what, err);
    else
        CHECK(d != 0 && strstr(err, want) != NULL, "%s: expected '%s', got %d '%s'", what, want, d, err);
}

static void write_at(const char *name, uint64_t off, const void *buf, size_t len)
{
    int fd = open(at(name), O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && pwrite(fd, buf, len, (off_t)off) == (ssize_t)len && close(fd) == 0, "write %s at %" PRIu64,
          name, off);
}

static void read_at(const char *name, uint64_t off, void *buf, size_t len)
{
    int fd = open(at(name), O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len && close(fd) == 0, "read %s at %" PRIu64,
          name, off);
}

/* The uuid blkid reports equals the probe's. */
static void check_uuid(uint32_t kind, const char *name)
{
    uint8_t uuid[16];
    uint64_t st[W];
    char want[80], got[40], cmd[300];
    CHECK(probe_flags(kind, name, O_RDONLY, uuid, st) == KHIB_FS_OK, "uuid probe %s: %s", name, err);
    snprintf(cmd, sizeof cmd, "blkid -p -o value -s UUID %s", name);
    sh_out(want, sizeof want, cmd);
    if (kind == KHIB_FS_VFAT) {
        /* "1234-ABCD": the volume serial 0x1234ABCD, stored little-endian */
        unsigned hi, lo;
        int ok = sscanf(want, "%4x-%4x", &hi, &lo) == 2;
        static const uint8_t zero[12];
        CHECK(ok && khib_get32(uuid) == (hi << 16 | lo) && !memcmp(uuid + 4, zero, 12),
              "%s: blkid says %s, probe %08" PRIx32, name, want, khib_get32(uuid));
        return;
    }
    khib_uuid_format(uuid, got, sizeof got);
    CHECK(want[0] && strcmp(want, got) == 0, "%s: blkid says '%s', probe '%s'", name, want, got);
}

/* Probing an unchanged image twice gives the same state. */
static void check_stable(uint32_t kind, const char *name, uint64_t st[W])
{
    uint64_t again[W];
    CHECK(probe(kind, name, st) == KHIB_FS_OK, "probe %s: %s", name, err);
    CHECK(probe(kind, name, again) == KHIB_FS_OK && memcmp(st, again, sizeof again) == 0, "%s unstable", name);
    CHECK(khib_fs_state_diff(kind, st, again, err, sizeof err) == 0, "diff of equal states");
}

static void test_names(void)
{
    CHECK(khib_fs_kind_of("ext2") == KHIB_FS_EXT && khib_fs_kind_of("ext3") == KHIB_FS_EXT &&
              khib_fs_kind_of("ext4") == KHIB_FS_EXT, "ext kinds");
    CHECK(khib_fs_kind_of("xfs") == KHIB_FS_XFS && khib_fs_kind_of("btrfs") == KHIB_FS_BTRFS, "xfs, btrfs");
    CHECK(khib_fs_kind_of("vfat") == KHIB_FS_VFAT && khib_fs_kind_of("msdos") == KHIB_FS_VFAT, "fat kinds");
    CHECK(khib_fs_kind_of("tmpfs") == 0 && khib_fs_kind_of("exfat") == 0 && khib_fs_kind_of("") == 0 &&
              khib_fs_kind_of("ext4 ") == 0, "no kind");
    CHECK(!strcmp(khib_fs_kind_name(KHIB_FS_EXT), "ext2/3/4") && !strcmp(khib_fs_kind_name(KHIB_FS_XFS), "xfs") &&
              !strcmp(khib_fs_kind_name(KHIB_FS_BTRFS), "btrfs") && !strcmp(khib_fs_kind_name(KHIB_FS_VFAT), "vfat") &&
              !strcmp(khib_fs_kind_name(0), "unknown") && !strcmp(khib_fs_kind_name(99), "unknown"),
          "kind names");
}

static void test_ext(void)
{
    uint64_t s0[W], s1[W];
    RUN("truncate -s 64M e.img && mkfs.ext4 -q -F e.img");
    check_stable(KHIB_FS_EXT, "e.img", s0);
    check_uuid(KHIB_FS_EXT, "e.img");
    RUN("tune2fs -C 5 e.img");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was mounted since the hibernation (mount count 0 → 5)", "tune2fs -C");
    memcpy(s0, s1, sizeof s0);
    RUN("debugfs -w -R 'ssv mtime 20240101000000' e.img");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was mounted since the hibernation (last mount 1970-01-01 00:00:00 UTC"
                " → 2024-01-01 00:00:00 UTC)", "mtime");
    memcpy(s0, s1, sizeof s0);
    uint8_t hi = 1;   /* s_mtime_hi: 2^32 s later */
    write_at("e.img", 1024 + 0x275, &hi, 1);
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "→ 2160-02-07 06:28:16 UTC)", "mtime_hi");
    memcpy(s0, s1, sizeof s0);
    RUN("debugfs -w -R 'ssv kbytes_written 4243' e.img");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was written since the hibernation (last write ", "kbytes_written");
    CHECK(strstr(err, " → 4243 KiB written)") != NULL, "kbytes message: %s", err);
    memcpy(s0, s1, sizeof s0);
    uint8_t t[4];
    khib_put32(t, 1735689600);   /* s_wtime: 2025-01-01 */
    write_at("e.img", 1024 + 0x30, t, 4);
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "→ 2025-01-01 00:00:00 UTC, 4243 → 4243 KiB written)", "wtime");
    memcpy(s0, s1, sizeof s0);
    RUN("debugfs -w -R 'mkdir x' e.img");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was written since the hibernation", "debugfs mkdir");
    memcpy(s0, s1, sizeof s0);
    /* s_state written directly: debugfs would also move s_wtime when the
     * clock's second ticks meanwhile, and the message would name that. */
    uint8_t st3[2] = {3, 0};
    write_at("e.img", 1024 + 0x3a, st3, 2);
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was written since the hibernation (state 0x1 → 0x3)", "state");
    /* As a mounted ext4 stands on disk (ext4_setup_super() sets RECOVER);
     * e2fsck then replays the journal. */
    RUN("debugfs -w -R 'ssv state 1' e.img && debugfs -w -R 'feature needs_recovery' e.img");
    CHECK(probe(KHIB_FS_EXT, "e.img", s0) == KHIB_FS_OK && (s0[0] >> 32 & 4), "RECOVER set: %s", err);
    RUN("e2fsck -fy e.img; test $? -le 1");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was mounted since the hibernation (its journal was replayed)",
                "e2fsck");
    memcpy(s0, s1, sizeof s0);
    RUN("e2fsck -n e.img");
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, NULL, "e2fsck -n");
    RUN("tune2fs -L lab e.img");
    /* the label, and s_wtime when the clock ticked meanwhile */
    expect_diff(KHIB_FS_EXT, "e.img", s0, s1, "was written since the hibernation (", "tune2fs -L");
    RUN("truncate -s 16M e2.img && mkfs.ext2 -q -F e2.img && truncate -s 16M e3.img && mkfs.ext3 -q -F e3.img");
    check_stable(khib_fs_kind_of("ext2"), "e2.img", s0);
    check_stable(khib_fs_kind_of("ext3"), "e3.img", s0);
    check_uuid(KHIB_FS_EXT, "e3.img");
}

/* Where xfs_logprint says the log lies, in 512-byte blocks. */
static void xfs_log_at(const char *name, uint64_t *start, uint64_t *bbs)
{
    char cmd[300], line[300];
    snprintf(cmd, sizeof cmd, "xfs_logprint -t %s | sed -n 's/.*daddr: \\([0-9]*\\) length: \\([0-9]*\\).*/\\1 \\2/p'",
             name);
    sh_out(line, sizeof line, cmd);
    CHECK(sscanf(line, "%" SCNu64 " %" SCNu64, start, bbs) == 2, "xfs_logprint: '%s'", line);
}

/* Stamp log blocks [from, to) with cycle, as log writes do (the first word
 * of every basic block, xlog_pack_data()). */
static void xfs_stamp(const char *name, uint64_t start, uint64_t from, uint64_t to, uint32_t cycle)
{
    int fd = open(at(name), O_RDWR | O_CLOEXEC);
    uint8_t *buf = malloc(1 << 20);
    int ok = fd >= 0 && buf;
    while (ok && from < to) {
        uint64_t n = to - from < 2048 ? to - from : 2048;
        off_t off = (off_t)((start + from) * 512);
        ok = pread(fd, buf, n * 512, off) == (ssize_t)(n * 512);
        for (uint64_t i = 0; ok && i < n; i++) {
            uint8_t *b = buf + i * 512;
            b[0] = (uint8_t)(cycle >> 24), b[1] = (uint8_t)(cycle >> 16), b[2] = (uint8_t)(cycle >> 8);
            b[3] = (uint8_t)cycle;
        }
        ok = ok && pwrite(fd, buf, n * 512, off) == (ssize_t)(n * 512);
        from += n;
    }
    free(buf);
    CHECK(ok && close(fd) == 0, "stamping the log of %s", name);
}

static void expect_head(const char *name, uint64_t cycle, uint64_t head, const char *what)
{
    uint64_t st[W];
    int rc = probe(KHIB_FS_XFS, name, st);
    CHECK(rc == KHIB_FS_OK && st[0] == cycle && st[1] == head, "%s: want cycle %" PRIu64 " head %" PRIu64
          ", got %d cycle %" PRIu64 " head %" PRIu64 " %s", what, cycle, head, rc, st[0], st[1], err);
}

static void test_xfs_head(void)
{
    uint64_t start, n, s0[W], s1[W];
    RUN("truncate -s 300M xh.img && mkfs.xfs -q -f xh.img");
    xfs_log_at("xh.img", &start, &n);
    CHECK(n > 10000, "log of %" PRIu64 " blocks", n);
    if (n <= 10000)
        return;
    /* mkfs: a record header and an unmount record, the rest zeroed */
    expect_head("xh.img", 1, 2, "fresh log");
    CHECK(probe(KHIB_FS_XFS, "xh.img", s0) == KHIB_FS_OK, "probe: %s", err);
    xfs_stamp("xh.img", start, 2, 1000, 1);
    expect_diff(KHIB_FS_XFS, "xh.img", s0, s1, "was mounted since the hibernation (its log moved from cycle 1 "
                "block 2 to cycle 1 block 1000)", "records appended");
    xfs_stamp("xh.img", start, 0, 500, 3);
    xfs_stamp("xh.img", start, 500, n, 2);
    expect_head("xh.img", 3, 500, "cycle 3 over cycle 2");
    xfs_stamp("xh.img", start, 0, n, 3);
    expect_head("xh.img", 3, 0, "whole log in cycle 3");
    xfs_stamp("xh.img", start, n - 300, n - 200, 2);
    expect_head("xh.img", 3, n - 300, "a hole of cycle 2 near the end");
    xfs_stamp("xh.img", start, 0, n, 3);
    xfs_stamp("xh.img", start, 0, 10, 4);
    expect_head("xh.img", 4, 10, "just wrapped into cycle 4");
    CHECK(probe(KHIB_FS_XFS, "xh.img", s0) == KHIB_FS_OK, "probe: %s", err);
    uint8_t junk[8] = "junkjunk";
    write_at("xh.img", (start + 5) * 512 + 100, junk, sizeof junk);
    expect_diff(KHIB_FS_XFS, "xh.img", s0, s1, "was written since the hibernation (its log changed before cycle 4 "
                "block 10)", "rewritten before the head");
}

static void test_xfs(void)
{
    uint64_t s0[W], s1[W];
    RUN("truncate -s 300M x.img && mkfs.xfs -q -f x.img");
    check_stable(KHIB_FS_XFS, "x.img", s0);
    check_uuid(KHIB_FS_XFS, "x.img");
    RUN("xfs_repair -n x.img");
    expect_diff(KHIB_FS_XFS, "x.img", s0, s1, NULL, "xfs_repair -n");
    RUN("xfs_admin -L lab x.img");
    expect_diff(KHIB_FS_XFS, "x.img", s0, s1, "was written since the hibernation (its superblock changed)",
                "xfs_admin -L");
    memcpy(s0, s1, sizeof s0);
    RUN("xfs_db -x -c 'logformat -c 5' x.img");
    expect_diff(KHIB_FS_XFS, "x.img", s0, s1, "was mounted since the hibernation (its log moved from cycle 1 block 2 "
                "to cycle 5 block 2)", "logformat");
    RUN("truncate -s 300M x4.img && mkfs.xfs -q -f -s size=4096 x4.img");
    check_stable(KHIB_FS_XFS, "x4.img", s0);
    CHECK(s0[0] == 1 && s0[1] == 8, "4 KiB sectors: cycle %" PRIu64 " head %" PRIu64, s0[0], s0[1]);
    RUN("truncate -s 300M xe.img && truncate -s 80M xe-log.img && mkfs.xfs -q -f -l logdev=xe-log.img,size=64m "
        "xe.img");
    CHECK(probe(KHIB_FS_XFS, "xe.img", s0) == KHIB_FS_UNSUPPORTED && strstr(err, "external device"),
          "external log: %s", err);
    test_xfs_head();
}

static void test_btrfs(void)
{
    uint64_t s0[W], s1[W];
    char want[200];
    RUN("truncate -s 300M b.img && mkfs.btrfs -q -f b.img");
    check_stable(KHIB_FS_BTRFS, "b.img", s0);
    check_uuid(KHIB_FS_BTRFS, "b.img");
    RUN("btrfs check --readonly b.img");
    expect_diff(KHIB_FS_BTRFS, "b.img", s0, s1, NULL, "btrfs check --readonly");
    RUN("btrfs check --repair --force b.img");
    snprintf(want, sizeof want, "was written since the hibernation (generation %" PRIu64 " → %" PRIu64 ")", s0[0],
             s0[0] + 1);
    expect_diff(KHIB_FS_BTRFS, "b.img", s0, s1, want, "btrfs check --repair");
    memcpy(s0, s1, sizeof s0);
    RUN("btrfs filesystem label b.img newlabel");
    snprintf(want, sizeof want, "was written since the hibernation (generation %" PRIu64 " → %" PRIu64 ")", s0[0],
             s0[0] + 1);
    expect_diff(KHIB_FS_BTRFS, "b.img", s0, s1, want, "btrfs filesystem label");
    memcpy(s0, s1, sizeof s0);
    uint8_t b[8];
    khib_put64(b, 30474240);   /* a tree log, as btrfs_sync_log() writes it */
    write_at("b.img", 65536 + 0x60, b, 8);
    expect_diff(KHIB_FS_BTRFS, "b.img", s0, s1, "was written since the hibernation (its tree log moved from byte 0 "
                "to byte 30474240)", "log_root");
    memcpy(s0, s1, sizeof s0);
    write_at("b.img", 65536 + 0x300, "x", 1);
    expect_diff(KHIB_FS_BTRFS, "b.img", s0, s1, "was written since the hibernation (its superblock changed)", "sb");
    RUN("truncate -s 300M b1.img b2.img && mkfs.btrfs -q -f -d raid1 -m raid1 b1.img b2.img");
    CHECK(probe(KHIB_FS_BTRFS, "b1.img", s0) == KHIB_FS_UNSUPPORTED && strstr(err, "it spans 2 devices"),
          "two devices: %s", err);
}

/* Byte offset of the FAT entry of cluster c in the first FAT of a FAT32. */
static uint64_t fat32_entry(const char *name, uint32_t c)
{
    uint8_t boot[512];
    read_at(name, 0, boot, sizeof boot);
    return (uint64_t)khib_get16(boot + 14) * khib_get16(boot + 11) + 4 * (uint64_t)c;
}

static void test_vfat_one(unsigned bits)
{
    char img[32], want[64];
    uint64_t s0[W], s1[W];
    snprintf(img, sizeof img, "v%u.img", bits);
    RUN("rm -f %s && truncate -s 40M %s && mkfs.fat -F %u -i 1234ABCD %s", img, img, bits, img);
    check_stable(KHIB_FS_VFAT, img, s0);
    check_uuid(KHIB_FS_VFAT, img);
    RUN("echo hello >h.txt && mmd -i %s ::d1", img);
    snprintf(want, sizeof want, "FAT%u mmd", bits);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "was written since the hibernation (its FAT or a directory changed)", want);
    memcpy(s0, s1, sizeof s0);
    RUN("mmd -i %s ::d1/d2 && mcopy -i %s h.txt ::d1/d2/", img, img);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "its FAT or a directory changed", "mcopy");
    memcpy(s0, s1, sizeof s0);
    RUN("mren -i %s ::d1/d2/h.txt ::d1/d2/g.txt", img);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "its FAT or a directory changed", "mren two levels down");
    CHECK(s0[1] == s1[1] && s0[2] != s1[2], "a rename changes a directory, not the FAT");
    memcpy(s0, s1, sizeof s0);
    RUN("mdel -i %s ::d1/d2/g.txt", img);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "its FAT or a directory changed", "mdel");
    memcpy(s0, s1, sizeof s0);
    RUN("fatlabel %s NEWLABEL", img);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "was written since the hibernation", "fatlabel");
    memcpy(s0, s1, sizeof s0);
    RUN("fsck.fat -n %s", img);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, NULL, "fsck.fat -n");
    uint8_t state;   /* FAT_STATE_DIRTY, as fat_set_state() sets it */
    uint64_t off = bits == 32 ? 65 : 37;
    read_at(img, off, &state, 1);
    state |= 1;
    write_at(img, off, &state, 1);
    expect_diff(KHIB_FS_VFAT, img, s0, s1, "was written since the hibernation (its boot sector or FSInfo sector "
                "changed)", "dirty bit");
}

static void test_vfat(void)
{
    uint64_t s0[W], s1[W];
    test_vfat_one(12);
    test_vfat_one(16);
    test_vfat_one(32);
    /* A directory chain that loops back on itself ends. */
    RUN("rm -f vl.img && truncate -s 40M vl.img && mkfs.fat -F 32 -s 2 vl.img");
    uint8_t e[4];
    khib_put32(e, 2);
    write_at("vl.img", fat32_entry("vl.img", 2), e, 4);
    CHECK(probe(KHIB_FS_VFAT, "vl.img", s0) == KHIB_FS_OK && s0[3] == 1024, "looping root: %s (%" PRIu64 " bytes)",
          err, s0[3]);
    /* 70000 directory clusters of 512 bytes: more than khib hashes. */
    RUN("rm -f vb.img && truncate -s 40M vb.img && mkfs.fat -F 32 -s 1 vb.img");
    CHECK(probe(KHIB_FS_VFAT, "vb.img", s0) == KHIB_FS_OK, "probe: %s", err);
    enum { N = 70000 };
    uint8_t *chain = malloc(4 * N);
    for (uint32_t c = 2; c < N + 2 && chain; c++)
        khib_put32(chain + 4 * (c - 2), c + 1 < N + 2 ? c + 1 : 0x0FFFFFFF);
    if (chain)
        write_at("vb.img", fat32_entry("vb.img", 2), chain, 4 * N);
    free(chain);
    CHECK(probe(KHIB_FS_VFAT, "vb.img", s1) == KHIB_FS_UNSUPPORTED && strstr(err, "its directories hold more than"),
          "huge root: %s", err);
    CHECK(probe(khib_fs_kind_of("msdos"), "v16.img", s0) == KHIB_FS_OK, "msdos: %s", err);
}

/* Every kind refuses a blank file, a tiny one and the other kinds' images;
 * an unreadable descriptor is an error. */
static void test_not_kind(void)
{
    static const struct {
        uint32_t kind;
        const char *img, *msg;
    } k[] = {{KHIB_FS_EXT, "e.img", "holds no ext2/3/4 file system (no magic 0xEF53 at byte 0x438)"},
             {KHIB_FS_XFS, "x.img", "holds no xfs file system (no XFSB magic at byte 0)"},
             {KHIB_FS_BTRFS, "b.img", "holds no btrfs file system (no _BHRfS_M magic at byte 0x10040)"},
             {KHIB_FS_VFAT, "v16.img", "holds no vfat file system"}};
    uint64_t st[W];
    uint8_t uuid[16];
    RUN("truncate -s 1M blank.img && printf x >tiny.img");
    for (size_t i = 0; i < 4; i++) {
        CHECK(probe(k[i].kind, "blank.img", st) == KHIB_FS_NOT_KIND && strstr(err, k[i].msg), "blank as %s: %s",
              khib_fs_kind_name(k[i].kind), err);
        CHECK(probe(k[i].kind, "tiny.img", st) == KHIB_FS_NOT_KIND && strstr(err, k[i].msg), "tiny as %s: %s",
              khib_fs_kind_name(k[i].kind), err);
        for (size_t j = 0; j < 4; j++)
            if (i != j)
                CHECK(probe(k[i].kind, k[j].img, st) == KHIB_FS_NOT_KIND && strstr(err, k[i].msg), "%s as %s: %s",
                      k[j].img, khib_fs_kind_name(k[i].kind), err);
        CHECK(probe_flags(k[i].kind, k[i].img, O_WRONLY, uuid, st) == KHIB_FS_ERROR && strstr(err, "cannot read"),
              "write-only fd as %s: %s", khib_fs_kind_name(k[i].kind), err);
        CHECK(probe_flags(k[i].kind, ".", O_RDONLY, uuid, st) == KHIB_FS_ERROR &&
                  strstr(err, "neither a block device nor a regular file"), "directory: %s", err);
        CHECK(khib_fs_probe(-1, k[i].kind, uuid, st, err, sizeof err) == KHIB_FS_ERROR, "fd -1");
    }
    CHECK(probe(0, "e.img", st) == KHIB_FS_UNSUPPORTED, "kind 0: %s", err);
    uint64_t a[W] = {1}, b[W] = {2};
    CHECK_ERR(khib_fs_state_diff(0, a, b, err, sizeof err) != 0, err, "was written since the hibernation");
    CHECK(khib_fs_state_diff(0, a, a, err, sizeof err) == 0, "unknown kind, equal");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_names();
    test_ext();
    test_xfs();
    test_btrfs();
    test_vfat();
    test_not_kind();
    if (t_fail == 0)
        sh("rm -rf %s", dir);
    else
        fprintf(stderr, "images and the tools' output kept in %s\n", dir);
    return t_done();
}
