/* R's part of the encryption (docs/encryption.md), the mirror of
 * saver/encrypt.c: the key header (the target's, or a key file's), the
 * passphrase (three tries), the secret key, the image key, and the MAC of
 * superblock and index, all before any memory is written. */
#ifndef KHIB_RESTORE_UNLOCK_H
#define KHIB_RESTORE_UNLOCK_H

#include <stddef.h>

#include "image.h"
#include "seal.h"

#define UNLOCK_TRIES 3

/* unlock_image() results. */
#define UNLOCK_OK 0
#define UNLOCK_LOCKED 1      /* no right passphrase: three wrong ones, none in time, no input */
#define UNLOCK_BAD (-1)      /* key header or image damaged or tampered with */
#define UNLOCK_ERROR (-2)    /* cannot ask, cannot read, out of memory: not the image's fault */

struct unlock_options {
    const char *key_file;    /* the key header from this file (offset 0); NULL: the target's */
    const char *console;     /* where to ask */
    int passphrase_fd;       /* >= 0: read the passphrases from it instead (tests) */
    unsigned timeout_s;      /* per try; 0: none */
};

/* The keys of the encrypted image img (index loaded) into *seal
 * (khib_seal_free), the superblock and index authenticated.  UNLOCK_*,
 * err saying why. */
int unlock_image(const struct khib_image *img, const struct unlock_options *uo, struct khib_seal **seal, char *err,
                 size_t errlen);

#endif
