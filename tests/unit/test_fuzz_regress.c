/* Regressions of the parser bugs the fuzzers found (tests/fuzz/,
 * docs/fuzzing.md): one function per bug.  The inputs that showed them are
 * kept in tests/fuzz/crashers/ and replayed by test_fuzz_replay. */
#include "t.h"

#include <stdint.h>

#include "image_codec.h"

static struct khib_superblock minimal_sb(void)
{
    struct khib_superblock sb;
    memset(&sb, 0, sizeof sb);
    memcpy(sb.magic, KHIB_MAGIC, 8);
    sb.version = KHIB_VERSION;
    sb.sb_size = KHIB_SB_SIZE;
    sb.state = KHIB_STATE_COMMITTED;
    sb.page_size = KHIB_PAGE_SIZE;
    sb.chunk_pages = KHIB_CHUNK_PAGES_MAX;
    sb.compression = KHIB_COMP_ZSTD;
    return sb;
}

static int decode_window(uint64_t start, uint64_t size, char *err, size_t errlen)
{
    struct khib_superblock sb = minimal_sb(), back;
    uint8_t buf[KHIB_SB_SIZE];
    sb.window_start = start;
    sb.window_size = size;
    khib_superblock_encode(&sb, buf);
    err[0] = 0;
    return khib_superblock_decode(buf, &back, err, errlen);
}

/* A superblock window that wraps past 2^64 (or whose end, rounded up to a
 * page, does) passed khib-restore's window check as if it were empty, and
 * the image was restored over the restore kernel's own memory.
 * Crashers: superblock/window-wraps, image/window-wraps*. */
static void test_window_wraps(void)
{
    char err[300];
    CHECK_ERR(decode_window(0x1000, 0xfffffffffffff000ull, err, sizeof err) == KHIB_SB_BAD, err,
              "superblock window 0x1000+0xfffffffffffff000 is not page-aligned or wraps around");
    CHECK_ERR(decode_window(0, UINT64_MAX, err, sizeof err) == KHIB_SB_BAD, err, "wraps around");
    CHECK_ERR(decode_window(UINT64_MAX - 0xfff, 0x1000, err, sizeof err) == KHIB_SB_BAD, err, "wraps around");
    CHECK_ERR(decode_window(0x800, 0x1000, err, sizeof err) == KHIB_SB_BAD, err, "not page-aligned");
    CHECK_ERR(decode_window(0, 0x1800, err, sizeof err) == KHIB_SB_BAD, err, "not page-aligned");
    CHECK(decode_window(0, 0, err, sizeof err) == KHIB_SB_OK, "no window: %s", err);
    CHECK(decode_window(0, 192ull << 20, err, sizeof err) == KHIB_SB_OK, "the usual window: %s", err);
    CHECK(decode_window(0, 0xfffffffffffff000ull, err, sizeof err) == KHIB_SB_OK, "up to the last page: %s", err);
    CHECK(decode_window(0xfffffffffffff000ull, 0x1000, err, sizeof err) == KHIB_SB_BAD, "the last page ends at 2^64");
}

/* A superblock mailbox address that is not page-aligned was accepted: the
 * restorer wrote all memory, then failed to post to the mailbox and gave up
 * (with a misleading "not the hibernated system's memory").  The note it
 * comes from was always page-aligned.  Crashers: superblock/mailbox-unaligned,
 * image/mailbox-unaligned. */
static void test_mailbox_unaligned(void)
{
    struct khib_superblock sb = minimal_sb(), back;
    uint8_t buf[KHIB_SB_SIZE];
    char err[300] = "";
    sb.mailbox_addr = 0x4008;
    khib_superblock_encode(&sb, buf);
    CHECK_ERR(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_BAD, err,
              "superblock mailbox address 0x4008 is not page-aligned");
    sb.mailbox_addr = 0x4000;
    khib_superblock_encode(&sb, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK && back.mailbox_addr == 0x4000,
          "an aligned mailbox: %s", err);
    sb.mailbox_addr = 0;
    khib_superblock_encode(&sb, buf);
    CHECK(khib_superblock_decode(buf, &back, err, sizeof err) == KHIB_SB_OK, "no mailbox: %s", err);
}

int main(void)
{
    test_window_wraps();
    test_mailbox_unaligned();
    return t_done();
}
