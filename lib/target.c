#define _GNU_SOURCE
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int raw_pread(int fd, void *buf, size_t len, uint64_t off, const char *path, int *direct, char *err,
                     size_t errlen);
static int raw_pwrite(int fd, const void *buf, size_t len, uint64_t off, const char *path, int *direct,
                      char *err, size_t errlen);

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

/* The descriptors of mapped targets (an image in a file: target.h) and
 * their extent maps.  Every transfer of khib_pread_* and khib_pwrite_* on
 * such a descriptor goes through its map, so that no caller can write
 * outside the file's extents. */
#define MAPPED_MAX 8
static struct {
    int fd;
    struct khib_extmap map;
} mapped[MAPPED_MAX];
static int mapped_count;
static pthread_mutex_t mapped_mu = PTHREAD_MUTEX_INITIALIZER;

/* fd's map (a copy of the table entry: another descriptor's close may move
 * the entries; the extents stay until fd's own close), or 0. */
static int map_of(int fd, struct khib_extmap *m)
{
    int found = 0;
    pthread_mutex_lock(&mapped_mu);
    for (int i = 0; i < mapped_count && !found; i++)
        if (mapped[i].fd == fd) {
            *m = mapped[i].map;
            found = 1;
        }
    pthread_mutex_unlock(&mapped_mu);
    return found;
}

static int map_fd(int fd, const struct khib_extmap *m)
{
    struct khib_extent *copy = malloc(m->count * sizeof *copy);
    if (!copy)
        return -1;
    memcpy(copy, m->e, m->count * sizeof *copy);
    pthread_mutex_lock(&mapped_mu);
    int rc = -1;
    if (mapped_count < MAPPED_MAX) {
        mapped[mapped_count].fd = fd;
        mapped[mapped_count].map = (struct khib_extmap){m->count, copy};
        mapped_count++;
        rc = 0;
    }
    pthread_mutex_unlock(&mapped_mu);
    if (rc != 0)
        free(copy);
    return rc;
}

static void unmap_fd(int fd)
{
    pthread_mutex_lock(&mapped_mu);
    for (int i = 0; i < mapped_count; i++)
        if (mapped[i].fd == fd) {
            khib_extmap_free(&mapped[i].map);
            mapped[i] = mapped[--mapped_count];
            break;
        }
    pthread_mutex_unlock(&mapped_mu);
}

int khib_target_open_mapped(struct khib_target *t, const char *dev, const struct khib_extmap *map,
                            enum khib_open_mode mode, char *err, size_t errlen)
{
    if (khib_target_open(t, dev, mode == KHIB_OPEN_CREATE ? KHIB_OPEN_WRITE : mode, err, errlen) != 0)
        return -1;
    if (mode == KHIB_OPEN_CREATE && t->is_blockdev) {
        /* Exclusive, as for a partition: nothing may have the file system
         * mounted while the transient kernel writes into it. */
        int fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open %s exclusively: %s", dev, strerror(errno));
            goto fail;
        }
        close(t->fd);
        t->fd = fd;
    }
    char why[300];
    if (khib_extmap_check(map, t->size, khib_extmap_data_offset(map->count), why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: the image file's extent map does not fit: %s", dev, why);
        goto fail;
    }
    if (map_fd(t->fd, map) != 0) {
        snprintf(err, errlen, "cannot keep the extent map of %s (too many open targets, or out of memory)", dev);
        goto fail;
    }
    t->mapped = 1;
    t->base = map->e[0].physical;
    t->size = t->capacity = khib_extmap_total(map);
    return 0;
fail:
    khib_target_close(t);
    return -1;
}

void khib_target_close(struct khib_target *t)
{
    if (t->fd >= 0) {
        if (t->mapped)
            unmap_fd(t->fd);
        close(t->fd);
    }
    t->fd = -1;
    t->mapped = 0;
}

/* Through the map of a mapped descriptor, piece by contiguous piece; a
 * write (write set) only reads buf. */
static int transfer(int fd, uint8_t *buf, size_t len, uint64_t off, const char *path, int *direct, int write,
                    char *err, size_t errlen)
{
    struct khib_extmap map;
    const struct khib_extmap *m = &map;
    if (!map_of(fd, &map))
        return write ? raw_pwrite(fd, buf, len, off, path, direct, err, errlen)
                     : raw_pread(fd, buf, len, off, path, direct, err, errlen);
    for (size_t done = 0; done < len;) {
        uint64_t dev, run;
        if (khib_extmap_locate(m, off + done, &dev, &run) != 0) {
            snprintf(err, errlen, "cannot %s %s at image byte %" PRIu64 ": past the end of the image file's"
                     " extents%s", write ? "write" : "read", path, off + done,
                     write ? " (no space left in the file)" : "");
            return -1;
        }
        size_t n = run < len - done ? (size_t)run : len - done;
        int rc = write ? raw_pwrite(fd, buf + done, n, dev, path, direct, err, errlen)
                       : raw_pread(fd, buf + done, n, dev, path, direct, err, errlen);
        if (rc != 0)
            return -1;
        done += n;
    }
    return 0;
}

int khib_pread_direct(int fd, void *buf, size_t len, uint64_t off, const char *path, int *direct, char *err,
                      size_t errlen)
{
    return transfer(fd, buf, len, off, path, direct, 0, err, errlen);
}

int khib_pwrite_direct(int fd, const void *buf, size_t len, uint64_t off, const char *path, int *direct,
                       char *err, size_t errlen)
{
    return transfer(fd, (uint8_t *)(uintptr_t)buf, len, off, path, direct, 1, err, errlen);
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

static int raw_pread(int fd, void *buf, size_t len, uint64_t off, const char *path, int *direct, char *err,
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

static int raw_pwrite(int fd, const void *buf, size_t len, uint64_t off, const char *path, int *direct,
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
