/* The encryption of an image (docs/encryption.md), with libsodium:
 *
 *   image key   32 random bytes, fresh for every image, sealed to the
 *               owner's X25519 public key (crypto_box_seal) into the
 *               superblock; never on disk in clear;
 *   chunk key   crypto_kdf subkey 1 ("khibchnk") of the image key: every
 *               chunk's frame and checksum, encrypted with an AEAD
 *               (XChaCha20-Poly1305, or AES-256-GCM), nonce = the chunk's
 *               index, associated data = image UUID, chunk index, pfn range,
 *               flags, raw_len and zero bitmap;
 *   MAC key     crypto_kdf subkey 2 ("khibmac_"): a keyed BLAKE2b-256 over
 *               the superblock (but the fields a restorer or a normal boot
 *               rewrites without the key) and the whole index.
 *
 * A struct khib_seal lives in sodium_malloc()'d memory (guarded, mlock()ed,
 * zeroed when freed): the keys are nowhere else. */
#ifndef KHIB_SEAL_H
#define KHIB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "image_codec.h"

#define KHIB_KEY_BYTES 32u          /* image, chunk, MAC keys; X25519 keys */
#define KHIB_SEALED_KEY_BYTES KHIB_SEALED_KEY_LEN
#define KHIB_MAC_BYTES KHIB_MAC_LEN
#define KHIB_SEAL_TAG 16u

struct khib_seal {
    uint32_t cipher;                 /* KHIB_CIPHER_* */
    uint8_t uuid[16];                /* the image's */
    uint8_t image_key[KHIB_KEY_BYTES];
    uint8_t chunk_key[KHIB_KEY_BYTES];
    uint8_t mac_key[KHIB_KEY_BYTES];
};

/* sodium_init() once.  0, or -1 with err. */
int khib_sodium_init(char *err, size_t errlen);

/* "xchacha20poly1305" / "aes256gcm" (KHIB_CIPHER_*), or "none". */
const char *khib_cipher_name(uint32_t cipher);
/* The cipher named s into *cipher.  0, or -1 (unknown). */
int khib_cipher_parse(const char *s, uint32_t *cipher);
/* 1 when this CPU can run the cipher (AES-256-GCM needs AES-NI and PCLMUL). */
int khib_cipher_available(uint32_t cipher);

/* A fresh random image key for the image uuid (B), or the one in key (R).
 * NULL with err. */
struct khib_seal *khib_seal_new(uint32_t cipher, const uint8_t uuid[16], char *err, size_t errlen);
struct khib_seal *khib_seal_from_key(uint32_t cipher, const uint8_t uuid[16], const uint8_t key[KHIB_KEY_BYTES],
                                     char *err, size_t errlen);
/* Zeroes and frees (NULL: nothing). */
void khib_seal_free(struct khib_seal *s);

/* The image key sealed to pk (anonymous sealed box).  0 or -1 with err. */
int khib_seal_key(const struct khib_seal *s, const uint8_t pk[KHIB_KEY_BYTES], uint8_t out[KHIB_SEALED_KEY_BYTES],
                  char *err, size_t errlen);
/* The image key of a sealed box opened with the key pair (pk, sk) into key
 * (locked memory of the caller's).  0, or -1: not sealed to this key pair,
 * or tampered. */
int khib_unseal_key(const uint8_t sealed[KHIB_SEALED_KEY_BYTES], const uint8_t pk[KHIB_KEY_BYTES],
                    const uint8_t sk[KHIB_KEY_BYTES], uint8_t key[KHIB_KEY_BYTES]);

/* Encrypt chunk index's frame (frame_len bytes at buf, room for
 * KHIB_SEAL_OVERHEAD more) in place, with c's checksum inside; c->checksum
 * becomes 0 and c->stored_len frame_len + KHIB_SEAL_OVERHEAD (an all-zero
 * chunk, frame_len 0, stays as it is).  0 or -1 with err. */
int khib_seal_chunk(const struct khib_seal *s, uint32_t index, struct khib_chunk *c, uint8_t *buf, uint32_t frame_len,
                    char *err, size_t errlen);

/* Check and decrypt chunk index's sealed frame (c->stored_len bytes at buf)
 * in place: the frame is then at buf, *frame_len bytes, and *checksum the
 * chunk's checksum.  0, or -1 with err (tampered, or not this image's). */
int khib_open_chunk(const struct khib_seal *s, uint32_t index, const struct khib_chunk *c, uint8_t *buf,
                    uint32_t *frame_len, uint64_t *checksum, char *err, size_t errlen);

/* The MAC of an encoded superblock (KHIB_SB_SIZE bytes; its rewritable
 * fields and the MAC and checksum are left out) and encoded index. */
void khib_seal_mac(const struct khib_seal *s, const uint8_t *sb, const uint8_t *index, size_t index_len,
                   uint8_t mac[KHIB_MAC_BYTES]);

/* sb->mac set for sb and idx as they will be written.  0 or -1 with err. */
int khib_seal_superblock(const struct khib_seal *s, struct khib_superblock *sb, const struct khib_index *idx,
                         char *err, size_t errlen);

/* The superblock and index on fd (read again, as they are on disk) checked
 * against sb->mac, and against the decoded sb and idx that the caller uses.
 * 0, or -1 with err. */
int khib_seal_check_image(const struct khib_seal *s, int fd, const char *path, const struct khib_superblock *sb,
                          const struct khib_index *idx, char *err, size_t errlen);

#endif
