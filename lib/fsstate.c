#define _GNU_SOURCE
#include "fsstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "le.h"
#include "uuid.h"

#define EXT_SB_OFFSET  1024
#define EXT_MAGIC      0xEF53
#define OFF_MTIME      0x2C
#define OFF_WTIME      0x30
#define OFF_MNT_COUNT  0x34
#define OFF_MAGIC      0x38
#define OFF_UUID       0x68
#define OFF_KBYTES     0x178

int khib_fs_read(const char *dev, struct khib_fs_record *rec, char *err, size_t errlen)
{
    memset(rec, 0, sizeof *rec);
    if (strlen(dev) >= KHIB_DEV_LEN) {
        snprintf(err, errlen, "device name %s is longer than %u bytes", dev, KHIB_DEV_LEN - 1);
        return KHIB_FS_ERROR;
    }
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dev, strerror(errno));
        return KHIB_FS_ERROR;
    }
    uint8_t sb[1024];
    ssize_t n;
    do
        n = pread(fd, sb, sizeof sb, EXT_SB_OFFSET);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read the superblock of %s: %s", dev, strerror(saved));
        return KHIB_FS_ERROR;
    }
    if (n != (ssize_t)sizeof sb || khib_get16(sb + OFF_MAGIC) != EXT_MAGIC) {
        snprintf(err, errlen, "%s holds no ext2/3/4 file system (no magic 0xEF53 at byte 0x%x)", dev,
                 EXT_SB_OFFSET + OFF_MAGIC);
        return KHIB_FS_NOT_EXT;
    }
    memcpy(rec->dev, dev, strlen(dev));
    memcpy(rec->uuid, sb + OFF_UUID, 16);
    rec->kind = KHIB_FS_EXT;
    rec->mnt_count = khib_get16(sb + OFF_MNT_COUNT);
    rec->mtime = khib_get32(sb + OFF_MTIME);
    rec->wtime = khib_get32(sb + OFF_WTIME);
    rec->kbytes_written = khib_get64(sb + OFF_KBYTES);
    return KHIB_FS_OK;
}

static void fmt_time(uint32_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%" PRIu32, t);
}

int khib_fs_compare(const struct khib_fs_record *rec, char *err, size_t errlen)
{
    char dev[KHIB_DEV_LEN + 1];
    memcpy(dev, rec->dev, KHIB_DEV_LEN);
    dev[KHIB_DEV_LEN] = 0;
    if (rec->kind != KHIB_FS_EXT) {
        snprintf(err, errlen, "file system record for %s has unknown kind %" PRIu32, dev, rec->kind);
        return -1;
    }
    struct khib_fs_record now;
    char why[256];
    int rc = khib_fs_read(dev, &now, why, sizeof why);
    if (rc != KHIB_FS_OK) {
        snprintf(err, errlen, "cannot check the file system on %s that the hibernated system had mounted: %s;"
                 " resuming without that check could corrupt it", dev, why);
        return -1;
    }
    if (memcmp(now.uuid, rec->uuid, 16) != 0) {
        char a[40], b[40];
        khib_uuid_format(rec->uuid, a, sizeof a);
        khib_uuid_format(now.uuid, b, sizeof b);
        snprintf(err, errlen, "%s holds another file system than at the hibernation (UUID %s → %s);"
                 " wrong disk, or it was reformatted", dev, a, b);
        return -1;
    }
    if (now.mnt_count != rec->mnt_count) {
        snprintf(err, errlen, "file system on %s was mounted since the hibernation (mount count %" PRIu32
                 " → %" PRIu32 "); resuming would corrupt it", dev, rec->mnt_count, now.mnt_count);
        return -1;
    }
    if (now.mtime != rec->mtime) {
        char a[40], b[40];
        fmt_time(rec->mtime, a, sizeof a);
        fmt_time(now.mtime, b, sizeof b);
        snprintf(err, errlen, "file system on %s was mounted since the hibernation (last mount %s → %s);"
                 " resuming would corrupt it", dev, a, b);
        return -1;
    }
    if (now.wtime != rec->wtime || now.kbytes_written != rec->kbytes_written) {
        char a[40], b[40];
        fmt_time(rec->wtime, a, sizeof a);
        fmt_time(now.wtime, b, sizeof b);
        snprintf(err, errlen, "file system on %s was written since the hibernation (last write %s → %s, "
                 "%" PRIu64 " → %" PRIu64 " KiB written); resuming would corrupt it", dev, a, b,
                 rec->kbytes_written, now.kbytes_written);
        return -1;
    }
    return 0;
}
