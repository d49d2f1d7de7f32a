/* ext superblock records: reading them, and every change the restorer must
 * notice, with its message. */
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "fsstate.h"
#include "le.h"

static void write_sb(const char *path, uint16_t magic, uint16_t mnt, uint32_t mtime, uint32_t wtime, uint64_t kb)
{
    uint8_t b[4096] = {0};
    khib_put16(b + 1024 + 0x38, magic);
    khib_put16(b + 1024 + 0x34, mnt);
    khib_put32(b + 1024 + 0x2c, mtime);
    khib_put32(b + 1024 + 0x30, wtime);
    khib_put64(b + 1024 + 0x178, kb);
    for (int i = 0; i < 16; i++)
        b[1024 + 0x68 + i] = (uint8_t)(0xa0 + i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, b, sizeof b) != (ssize_t)sizeof b || close(fd) != 0) {
        perror(path);
        exit(2);
    }
}

int main(void)
{
    char path[] = "/tmp/khib-fs.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 2;
    close(fd);
    char err[400] = "";
    struct khib_fs_record r;
    write_sb(path, 0xEF53, 5, 1700000000, 1700000500, 4242);
    CHECK(khib_fs_read(path, &r, err, sizeof err) == KHIB_FS_OK, "read: %s", err);
    CHECK(r.kind == KHIB_FS_EXT && r.mnt_count == 5 && r.mtime == 1700000000 && r.wtime == 1700000500 &&
              r.kbytes_written == 4242 && r.uuid[0] == 0xa0 && r.uuid[15] == 0xaf && strcmp(r.dev, path) == 0,
          "fields");
    CHECK(khib_fs_compare(&r, err, sizeof err) == 0, "unchanged: %s", err);

    char want[300];
    write_sb(path, 0xEF53, 6, 1700000000, 1700000500, 4242);
    snprintf(want, sizeof want, "file system on %s was mounted since the hibernation (mount count 5 → 6); resuming "
             "would corrupt it", path);
    CHECK_ERR(khib_fs_compare(&r, err, sizeof err) != 0, err, want);
    write_sb(path, 0xEF53, 5, 1700000001, 1700000500, 4242);
    CHECK_ERR(khib_fs_compare(&r, err, sizeof err) != 0, err, "was mounted since the hibernation (last mount");
    write_sb(path, 0xEF53, 5, 1700000000, 1700000501, 4242);
    CHECK_ERR(khib_fs_compare(&r, err, sizeof err) != 0, err, "was written since the hibernation");
    write_sb(path, 0xEF53, 5, 1700000000, 1700000500, 4243);
    CHECK_ERR(khib_fs_compare(&r, err, sizeof err) != 0, err, "4242 → 4243 KiB written");
    struct khib_fs_record other = r;
    other.uuid[3] ^= 1;
    write_sb(path, 0xEF53, 5, 1700000000, 1700000500, 4242);
    CHECK_ERR(khib_fs_compare(&other, err, sizeof err) != 0, err, "holds another file system");
    write_sb(path, 0x1234, 5, 1700000000, 1700000500, 4242);
    CHECK(khib_fs_read(path, &r, err, sizeof err) == KHIB_FS_NOT_EXT && strstr(err, "no ext2/3/4"), "not ext: %s",
          err);
    CHECK_ERR(khib_fs_compare(&other, err, sizeof err) != 0, err, "cannot check the file system on");
    unlink(path);
    CHECK(khib_fs_read(path, &r, err, sizeof err) == KHIB_FS_ERROR && strstr(err, "cannot open"), "missing: %s",
          err);
    CHECK(khib_fs_read("/dev/this-name-is-far-too-long-for-a-record", &r, err, sizeof err) == KHIB_FS_ERROR,
          "long device name refused");
    return t_done();
}
