#define _GNU_SOURCE
#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int khib_uuid_generate(uint8_t uuid[16], char *err, size_t errlen)
{
    ssize_t n;
    do
        n = getrandom(uuid, 16, 0);
    while (n < 0 && errno == EINTR);
    if (n != 16) {
        snprintf(err, errlen, "getrandom failed: %s", n < 0 ? strerror(errno) : "short read");
        return -1;
    }
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
