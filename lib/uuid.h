/* Random (version 4) UUIDs naming images, and their text form. */
#ifndef KHIB_UUID_H
#define KHIB_UUID_H

#include <stddef.h>
#include <stdint.h>

/* 16 random bytes from getrandom(2), version 4 / variant 1 bits set.
 * Returns 0 or -1 with err. */
int khib_uuid_generate(uint8_t uuid[16], char *err, size_t errlen);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (len >= 37). */
void khib_uuid_format(const uint8_t uuid[16], char *out, size_t len);

#endif
