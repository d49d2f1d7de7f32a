#define _GNU_SOURCE
#include "unlock.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "keyheader.h"
#include "passphrase.h"
#include "progress.h"

/* The secret key from the passphrase, up to UNLOCK_TRIES tries. */
static int ask(const struct khib_keyheader *kh, const struct unlock_options *uo, uint8_t *sk, char *err,
               size_t errlen)
{
    struct passphrase_source ps;
    if (passphrase_open(&ps, uo->console, uo->passphrase_fd, uo->timeout_s, err, errlen) != 0)
        return UNLOCK_ERROR;
    char *pass = sodium_malloc(PASSPHRASE_MAX);
    if (!pass) {
        passphrase_close(&ps);
        snprintf(err, errlen, "out of locked memory for the passphrase");
        return UNLOCK_ERROR;
    }
    /* A whole line first: a console read line by line (a test driver on
     * the serial port) sees that the question comes. */
    passphrase_say(&ps, "khib: the hibernation image is encrypted: asking for its passphrase\n");
    int rc = UNLOCK_LOCKED;
    snprintf(err, errlen, "%d wrong passphrases", UNLOCK_TRIES);
    for (int t = 1; t <= UNLOCK_TRIES; t++) {
        char prompt[160], why[300];
        snprintf(prompt, sizeof prompt, "khib: passphrase of the hibernated system (try %d of %d): ", t,
                 UNLOCK_TRIES);
        size_t len;
        int r = passphrase_read(&ps, prompt, pass, &len, why, sizeof why);
        if (r != 0) {
            snprintf(err, errlen, "%s", why);
            rc = r < 0 ? UNLOCK_ERROR : UNLOCK_LOCKED;
            break;
        }
        double t0 = khib_now();
        r = khib_keyheader_unwrap(kh, pass, len, sk, why, sizeof why);
        sodium_memzero(pass, PASSPHRASE_MAX);
        if (r < 0) {
            snprintf(err, errlen, "%s", why);
            rc = UNLOCK_ERROR;
            break;
        }
        if (r == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "khib: passphrase accepted (Argon2id %.2f s)\n", khib_now() - t0);
            passphrase_say(&ps, msg);
            rc = UNLOCK_OK;
            break;
        }
        passphrase_say(&ps, "khib: wrong passphrase\n");
    }
    sodium_free(pass);
    passphrase_close(&ps);
    return rc;
}

int unlock_image(const struct khib_image *img, const struct unlock_options *uo, struct khib_seal **seal, char *err,
                 size_t errlen)
{
    *seal = NULL;
    const struct khib_superblock *sb = &img->sb;
    char why[400];
    if (khib_sodium_init(err, errlen) != 0)
        return UNLOCK_ERROR;
    if (!khib_cipher_available(sb->cipher)) {
        snprintf(err, errlen, "the image is encrypted with %s, which this CPU cannot run", khib_cipher_name(sb->cipher));
        return UNLOCK_ERROR;
    }
    struct khib_keyheader kh;
    const char *from = uo->key_file ? uo->key_file : img->t.path;
    int rc = khib_keyheader_read(from, uo->key_file ? 0 : KHIB_KEYHDR_OFFSET, &kh, why, sizeof why);
    if (rc != KHIB_KH_OK) {
        snprintf(err, errlen, "the image is encrypted, but its key header cannot be used: %s", why);
        return rc == KHIB_KH_IO ? UNLOCK_ERROR : UNLOCK_BAD;
    }
    uint8_t *keys = sodium_malloc(2 * KHIB_KEY_BYTES);   /* the secret key, the image key */
    if (!keys) {
        snprintf(err, errlen, "out of locked memory for the keys");
        return UNLOCK_ERROR;
    }
    uint8_t *sk = keys, *image_key = keys + KHIB_KEY_BYTES;
    rc = ask(&kh, uo, sk, err, errlen);
    if (rc != UNLOCK_OK)
        goto out;
    rc = UNLOCK_BAD;
    if (khib_unseal_key(sb->sealed_key, kh.public_key, sk, image_key) != 0) {
        snprintf(err, errlen, "the image key does not open with the key pair of %s%s: the image was sealed to"
                 " another key, or tampered with", uo->key_file ? "the key file " : "the target's key header",
                 uo->key_file ? uo->key_file : "");
        goto out;
    }
    *seal = khib_seal_from_key(sb->cipher, sb->uuid, image_key, err, errlen);
    if (!*seal) {
        rc = UNLOCK_ERROR;
        goto out;
    }
    if (khib_seal_check_image(*seal, img->t.fd, img->t.path, sb, &img->idx, err, errlen) != 0) {
        khib_seal_free(*seal);
        *seal = NULL;
        goto out;
    }
    rc = UNLOCK_OK;
out:
    sodium_free(keys);
    return rc;
}
