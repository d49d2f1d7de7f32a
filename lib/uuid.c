#define _GNU_SOURCE
#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004 /* Linux 5.6 */
#endif

int khib_random(void *buf, size_t len, char *err, size_t errlen)
{
    /* getrandom(buf, len, 0) blocks until the pool is initialized: 1 s and
     * more in a virtual machine without a random device, 19 s after boot
     * (drivers/char/random.c, crng_ready()).  GRND_INSECURE never blocks;
     * kernels before 5.6 refuse it (EINVAL) and get flags 0. */
    unsigned flags = GRND_INSECURE;
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((uint8_t *)buf + done, len - done, flags);
        if (n < 0 && errno == EINVAL && flags) {
            flags = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "getrandom failed: %s", n < 0 ? strerror(errno) : "no bytes");
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int khib_uuid_generate(uint8_t uuid[16], char *err, size_t errlen)
{
    if (khib_random(uuid, 16, err, errlen) != 0)
        return -1;
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    return 0;
}

void khib_uuid_format(const uint8_t u[16], char *out, size_t len)
{
    snprintf(out, len,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}
