/* The key header: the owner's X25519 public key and the secret key wrapped
 * with a key derived from a passphrase by Argon2id (docs/encryption.md).
 * It lives in the second block of the target, [KHIB_KEYHDR_OFFSET,
 * + KHIB_KEYHDR_SIZE), where no image write or retirement touches it
 * (images on such a target start their data after it), and, as a copy, in
 * a key file (khib.keyfile=, at offset 0).  Encoded, 4096 bytes:
 *
 *   offset size field
 *        0    8 magic "KHIBKEY1"
 *        8    4 version (1)
 *       12    4 kdf (1: Argon2id v1.3, crypto_pwhash_ALG_ARGON2ID13)
 *       16    8 opslimit (passes)
 *       24    8 memlimit (bytes)
 *       32   16 salt
 *       48   32 public key
 *       80    8 created_ns
 *       88   24 nonce of the wrap
 *      112   48 wrapped secret key: XChaCha20-Poly1305 of the 32-byte secret
 *               key, associated data bytes [0, 112)
 *      160 3928 zero
 *     4088    8 checksum: XXH64 of [0, 4088) (tells damage from a wrong
 *               passphrase; the wrap's tag is what authenticates) */
#ifndef KHIB_KEYHEADER_H
#define KHIB_KEYHEADER_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"

#define KHIB_KEYHDR_MAGIC "KHIBKEY1"
#define KHIB_KEYHDR_VERSION 1u
#define KHIB_KDF_ARGON2ID 1u
#define KHIB_SALT_BYTES 16u
#define KHIB_WRAP_NONCE_BYTES 24u
#define KHIB_WRAPPED_BYTES (KHIB_KEY_BYTES + KHIB_SEAL_TAG)

/* What khib setup-encryption uses unless told otherwise: sized for the
 * restore kernel's window (docs/encryption.md has the measured time). */
#define KHIB_ARGON2_OPS_DEFAULT 6u
#define KHIB_ARGON2_MEM_DEFAULT (64ull << 20)
/* What a key header may ask for: anything beyond is not believed (a
 * damaged or forged header must not make R run for hours). */
#define KHIB_ARGON2_OPS_MAX 16u
#define KHIB_ARGON2_MEM_MAX (1ull << 30)

struct khib_keyheader {
    uint32_t version;
    uint32_t kdf;
    uint64_t opslimit;
    uint64_t memlimit;
    uint8_t salt[KHIB_SALT_BYTES];
    uint8_t public_key[KHIB_KEY_BYTES];
    uint64_t created_ns;
    uint8_t nonce[KHIB_WRAP_NONCE_BYTES];
    uint8_t wrapped[KHIB_WRAPPED_BYTES];
};

/* khib_keyheader_decode() and _read() results. */
#define KHIB_KH_OK 0
#define KHIB_KH_NONE 1      /* no key header magic */
#define KHIB_KH_BAD (-1)    /* damaged or unsupported */
#define KHIB_KH_IO (-2)     /* cannot read */

void khib_keyheader_encode(const struct khib_keyheader *kh, uint8_t buf[KHIB_KEYHDR_SIZE]);
int khib_keyheader_decode(const uint8_t buf[KHIB_KEYHDR_SIZE], struct khib_keyheader *kh, char *err, size_t errlen);

/* The key header at off of path (the target: KHIB_KEYHDR_OFFSET; a key
 * file: 0).  A missing or short file has none.  KHIB_KH_*, err. */
int khib_keyheader_read(const char *path, uint64_t off, struct khib_keyheader *kh, char *err, size_t errlen);
/* Encode and write at off of fd, synced.  0 or -1 with err. */
int khib_keyheader_write(int fd, const char *path, uint64_t off, const struct khib_keyheader *kh, char *err,
                         size_t errlen);

/* A new header for the key pair (pk, sk): random salt and nonce, sk wrapped
 * with Argon2id(passphrase, ops, mem).  0 or -1 with err. */
int khib_keyheader_create(struct khib_keyheader *kh, const uint8_t pk[KHIB_KEY_BYTES],
                          const uint8_t sk[KHIB_KEY_BYTES], const char *pass, size_t passlen, uint64_t ops,
                          uint64_t mem, uint64_t created_ns, char *err, size_t errlen);

/* The secret key into sk (locked memory of the caller's): 0; 1 when the
 * passphrase does not open it (or the header was tampered with); -1 with
 * err when Argon2id cannot run (memory). */
int khib_keyheader_unwrap(const struct khib_keyheader *kh, const char *pass, size_t passlen,
                          uint8_t sk[KHIB_KEY_BYTES], char *err, size_t errlen);

/* The public key as 64 hex digits (out: 65 bytes), and back: 0 or -1. */
void khib_key_hex(const uint8_t key[KHIB_KEY_BYTES], char out[2 * KHIB_KEY_BYTES + 1]);
int khib_key_parse(const char *hex, uint8_t key[KHIB_KEY_BYTES]);

#endif
