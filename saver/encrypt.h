/* The saver's part of the encryption (docs/encryption.md), the mirror of
 * restorer/unlock.c: before anything is written, the target's key header
 * (keyheader.h) is read; when one is there, the image's data starts after
 * it (KHIB_DATA_OFFSET_KEYED); with a public key, the key header must hold
 * that very key, and a fresh image key is made and sealed to it. */
#ifndef KHIB_SAVE_ENCRYPT_H
#define KHIB_SAVE_ENCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"
#include "seal.h"

/* For the image sb on target: sb->data_offset, and with public_key_hex
 * (NULL: in clear) sb->cipher, sb->sealed_key and *seal (khib_seal_free).
 * 0, or -1 with err (nothing written). */
int save_encryption(const char *target, const char *public_key_hex, uint32_t cipher, struct khib_superblock *sb,
                    struct khib_seal **seal, char *err, size_t errlen);

#endif
