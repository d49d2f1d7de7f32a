/* Whether a hibernation is encrypted (docs/encryption.md): encrypt= of
 * khib.conf, the owner's public key file (public-key=, made by khib
 * setup-encryption) and the key header on the target, which must hold the
 * same public key.
 *
 *   encrypt=auto (default)  encrypted when both are there and agree; in
 *                           clear, with a warning, when a public key is
 *                           there but the target has no (or another) key
 *                           header;
 *   encrypt=yes             encrypted, or refused: no key, no key header,
 *                           or another one;
 *   encrypt=no              in clear. */
#ifndef KHIB_FRONTEND_ENCRYPTION_H
#define KHIB_FRONTEND_ENCRYPTION_H

#include <stddef.h>

#include "keyheader.h"
#include "settings.h"

struct encryption_state {
    int has_key;                /* the public key file was read */
    int has_header;             /* the target holds a key header (kh) */
    int match;                  /* ... with that public key */
    struct khib_keyheader kh;
    char hex[2 * KHIB_KEY_BYTES + 1];   /* the public key */
    char key_why[400], header_why[400];
};

/* The public key file and the target's key header, as they are. */
void encryption_probe(const struct settings *s, struct encryption_state *st);

/* 1: encrypt to st->hex; 0: in clear (why says so, when a key exists);
 * -1: refuse (why, with the fix). */
int encryption_decide(const struct settings *s, const struct encryption_state *st, char *why, size_t len);

/* The public key file at path into key.  0 or -1 with err. */
int encryption_read_public_key(const char *path, uint8_t key[KHIB_KEY_BYTES], char *err, size_t errlen);

#endif
