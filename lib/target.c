#define _GNU_SOURCE
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int khib_target_open(struct khib_target *t, const char *path, enum khib_open_mode mode, char *err,
                     size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->path = path;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists && (errno != ENOENT || mode != KHIB_OPEN_CREATE)) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int flags = O_CLOEXEC | (mode == KHIB_OPEN_READ ? O_RDONLY : O_RDWR);
    if (mode == KHIB_OPEN_CREATE)
        flags |= exists && S_ISBLK(st.st_mode) ? O_EXCL : O_CREAT;
    if (exists && !S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is neither a block device nor a regular file", path);
        return -1;
    }
    t->fd = open(path, flags, 0600);
    if (t->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(e),
                 e == EBUSY ? " (it is in use: mounted, a swap area, or held by device-mapper)" : "");
        return -1;
    }
    if (fstat(t->fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes;
        if (ioctl(t->fd, BLKGETSIZE64, &bytes) != 0) {
            snprintf(err, errlen, "cannot get the size of %s: %s", path, strerror(errno));
            goto fail;
        }
        t->size = t->capacity = bytes;
        t->is_blockdev = 1;
    } else if (S_ISREG(st.st_mode)) {
        t->size = (uint64_t)st.st_size;
        t->capacity = (mode == KHIB_OPEN_CREATE && st.st_size == 0) ? UINT64_MAX : t->size;
    } else {
        snprintf(err, errlen, "%s is neither a block device nor a regular file", path);
        goto fail;
    }
    return 0;
fail:
    close(t->fd);
    t->fd = -1;
    return -1;
}

void khib_target_close(struct khib_target *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* A direct transfer was refused (EINVAL: an unaligned device, a file system
 * without O_DIRECT): go on buffered. */
static int direct_off(int fd, const char *path, int *direct, char *err, size_t errlen)
{
    if (khib_direct_io(fd, 0) != 0) {
        snprintf(err, errlen, "cannot turn O_DIRECT off on %s: %s", path, strerror(errno));
        return -1;
    }
    *direct = 0;
    return 0;
}

int khib_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path, char *err, size_t errlen)
{
    return khib_pread_direct(fd, buf, len, off, path, NULL, err, errlen);
}

int khib_pread_direct(int fd, void *buf, size_t len, uint64_t off, const char *path, int *direct, char *err,
                      size_t errlen)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && direct && *direct) {
            if (direct_off(fd, path, direct, err, errlen) != 0)
                return -1;
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s at byte %" PRIu64 ": %s", path, off + done, strerror(errno));
            return -1;
        }
        if (n == 0) {
            snprintf(err, errlen, "%s ends at byte %" PRIu64 ", before the %zu bytes at %" PRIu64 " (truncated?)",
                     path, off + done, len, off);
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int khib_pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *path, char *err,
                    size_t errlen)
{
    return khib_pwrite_direct(fd, buf, len, off, path, NULL, err, errlen);
}

int khib_pwrite_direct(int fd, const void *buf, size_t len, uint64_t off, const char *path, int *direct,
                       char *err, size_t errlen)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && direct && *direct) {
            if (direct_off(fd, path, direct, err, errlen) != 0)
                return -1;
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            snprintf(err, errlen, "cannot write %s at byte %" PRIu64 ": %s", path, off + done, strerror(e));
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int khib_direct_io(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    int want = on ? (fl | O_DIRECT) : (fl & ~O_DIRECT);
    return want == fl ? 0 : fcntl(fd, F_SETFL, want);
}

int khib_datasync(int fd, const char *path, char *err, size_t errlen)
{
    if (fdatasync(fd) != 0) {
        snprintf(err, errlen, "cannot flush %s to stable storage (fdatasync): %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
