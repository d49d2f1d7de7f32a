#define _GNU_SOURCE
#include "encrypt.h"

#include <stdio.h>
#include <string.h>

#include "keyheader.h"

int save_encryption(const char *target, const char *public_key_hex, uint32_t cipher, struct khib_superblock *sb,
                    struct khib_seal **seal, char *err, size_t errlen)
{
    *seal = NULL;
    uint8_t pk[KHIB_KEY_BYTES];
    if (public_key_hex && khib_key_parse(public_key_hex, pk) != 0) {
        snprintf(err, errlen, "the public key is not 64 hex digits");
        return -1;
    }
    struct khib_keyheader kh;
    char why[400];
    int rc = khib_keyheader_read(target, KHIB_KEYHDR_OFFSET, &kh, why, sizeof why);
    /* A target that cannot be read: the commit's own open says why. */
    if ((rc == KHIB_KH_NONE || rc == KHIB_KH_IO) && !public_key_hex) {
        sb->data_offset = KHIB_SB_SIZE;
        return 0;
    }
    if (rc == KHIB_KH_NONE) {
        snprintf(err, errlen, "%s has no key header: encryption is not set up on it (fix: khib setup-encryption)",
                 target);
        return -1;
    }
    if (rc != KHIB_KH_OK) {
        /* Writing the data over it would destroy the only copy of the key. */
        snprintf(err, errlen, "%s; not saving over it (fix: khib setup-encryption again)", why);
        return -1;
    }
    sb->data_offset = KHIB_DATA_OFFSET_KEYED;
    if (!public_key_hex)
        return 0;
    if (memcmp(pk, kh.public_key, KHIB_KEY_BYTES) != 0) {
        snprintf(err, errlen, "the key header on %s holds another public key than the one given: not encrypting"
                 " to a key the owner may not have (fix: khib setup-encryption again)", target);
        return -1;
    }
    if (khib_sodium_init(err, errlen) != 0 || !(*seal = khib_seal_new(cipher, sb->uuid, err, errlen)))
        return -1;
    if (khib_seal_key(*seal, pk, sb->sealed_key, err, errlen) != 0) {
        khib_seal_free(*seal);
        *seal = NULL;
        return -1;
    }
    sb->cipher = cipher;
    return 0;
}
