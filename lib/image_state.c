#define _GNU_SOURCE
#include "image_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image_codec.h"
#include "image_format.h"
#include "uuid.h"

int khib_image_set_state(int fd, const uint8_t *uuid, uint32_t from, uint32_t to, char *err,
                         size_t errlen)
{
    unsigned char buf[KHIB_SB_SIZE];
    struct khib_superblock sb;
    char why[256];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    if (n != (ssize_t)sizeof buf) {
        snprintf(err, errlen, "cannot read the superblock: %s", n < 0 ? strerror(errno) : "short read");
        return -1;
    }
    if (khib_superblock_decode(buf, &sb, why, sizeof why) != KHIB_SB_OK) {
        snprintf(err, errlen, "no valid superblock: %s", why);
        return -1;
    }
    if (uuid && memcmp(sb.uuid, uuid, 16) != 0) {
        char have[40];
        khib_uuid_format(sb.uuid, have, sizeof have);
        snprintf(err, errlen, "the target holds image %s, not the expected one", have);
        return -1;
    }
    if (sb.state != from) {
        snprintf(err, errlen, "the image is %s, not %s", khib_state_name(sb.state), khib_state_name(from));
        return -1;
    }
    sb.state = to;
    khib_superblock_encode(&sb, buf);
    n = pwrite(fd, buf, sizeof buf, 0);
    if (n != (ssize_t)sizeof buf) {
        snprintf(err, errlen, "cannot write the superblock: %s", n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    if (fdatasync(fd) != 0) {
        snprintf(err, errlen, "cannot sync the superblock: %s", strerror(errno));
        return -1;
    }
    return 0;
}
