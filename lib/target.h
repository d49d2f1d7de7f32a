/* The device or file an image lives on, and whole reads/writes/syncs of it
 * that report every failure with the path. */
#ifndef KHIB_TARGET_H
#define KHIB_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "extents.h"

enum khib_open_mode {
    KHIB_OPEN_READ,    /* inspect an image */
    KHIB_OPEN_WRITE,   /* change an image's state */
    KHIB_OPEN_CREATE,  /* write a new image: a missing regular file is created;
                          a block device is opened exclusively (fails if mounted) */
};

struct khib_target {
    int fd;
    const char *path;
    uint64_t size;      /* bytes it holds now */
    uint64_t capacity;  /* bytes an image may use: size, or UINT64_MAX for an
                           empty regular file that grows with the image */
    int is_blockdev;
    int mapped;         /* an image in a file: every transfer goes through its
                           extent map (khib_target_open_mapped) */
    uint64_t base;      /* mapped: the device offset of the image's first byte */
};

int khib_target_open(struct khib_target *t, const char *path, enum khib_open_mode mode, char *err,
                     size_t errlen);
void khib_target_close(struct khib_target *t);

/* An image in a file, reached through the device dev under its file
 * system: map is the file's extents (checked against the device's size;
 * the first must hold the superblock and the map).  From then on every
 * khib_pread_* / khib_pwrite_* on t->fd takes image offsets and goes to
 * the device bytes of the map, and a transfer past the map fails; size and
 * capacity are the file's size.  KHIB_OPEN_CREATE opens a block device
 * exclusively (fails while its file system is mounted).  0, or -1 with err. */
int khib_target_open_mapped(struct khib_target *t, const char *dev, const struct khib_extmap *map,
                            enum khib_open_mode mode, char *err, size_t errlen);

/* Whole transfers at an offset: 0, or -1 with err naming path and what. */
int khib_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path, char *err, size_t errlen);
int khib_pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *path, char *err,
                    size_t errlen);
/* The same, directly while *direct (O_DIRECT on fd): when the device refuses
 * a direct transfer (EINVAL), O_DIRECT goes off, *direct turns 0 and the
 * transfer is done buffered. */
int khib_pread_direct(int fd, void *buf, size_t len, uint64_t off, const char *path, int *direct, char *err,
                      size_t errlen);
int khib_pwrite_direct(int fd, const void *buf, size_t len, uint64_t off, const char *path, int *direct,
                       char *err, size_t errlen);
int khib_datasync(int fd, const char *path, char *err, size_t errlen);

/* Turn O_DIRECT on or off for fd's open file (fcntl F_SETFL).  Returns 0,
 * or -1 with errno when the file system refuses it (EINVAL: tmpfs, ...).
 * Direct transfers need buffers, offsets and lengths aligned to
 * KHIB_DIRECT_ALIGN. */
#define KHIB_DIRECT_ALIGN 4096u
int khib_direct_io(int fd, int on);

#endif
