/* Random (version 4) UUIDs naming images, and their text form. */
#ifndef KHIB_UUID_H
#define KHIB_UUID_H

#include <stddef.h>
#include <stdint.h>

/* len random bytes that never wait for the kernel's random pool to be
 * initialized: names and nonces need to be unique, not secret.  Returns 0
 * or -1 with err. */
int khib_random(void *buf, size_t len, char *err, size_t errlen);

/* 16 random bytes (khib_random), version 4 / variant 1 bits set.
 * Returns 0 or -1 with err. */
int khib_uuid_generate(uint8_t uuid[16], char *err, size_t errlen);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (len >= 37). */
void khib_uuid_format(const uint8_t uuid[16], char *out, size_t len);

#endif
