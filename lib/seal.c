/* Encrypting and authenticating an image: seal.h, docs/encryption.md. */
#define _GNU_SOURCE
#include "seal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "target.h"

#define AD_BYTES (16 + 8 + 8 + 4 + 4 + 4 + 2 * KHIB_BITMAP_BYTES)

_Static_assert(KHIB_SEALED_KEY_BYTES == crypto_box_SEALBYTES + KHIB_KEY_BYTES, "sealed key size");
_Static_assert(KHIB_SEAL_OVERHEAD == 8 + KHIB_SEAL_TAG, "chunk overhead");
_Static_assert(KHIB_SEAL_TAG == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(KHIB_SEAL_TAG == crypto_aead_aes256gcm_ABYTES, "tag size");
_Static_assert(KHIB_KEY_BYTES == crypto_box_PUBLICKEYBYTES && KHIB_KEY_BYTES == crypto_box_SECRETKEYBYTES,
               "X25519 key size");

int khib_sodium_init(char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot be initialized (sodium_init)");
        return -1;
    }
    return 0;
}

const char *khib_cipher_name(uint32_t cipher)
{
    switch (cipher) {
    case KHIB_CIPHER_NONE: return "none";
    case KHIB_CIPHER_XCHACHA20POLY1305: return "xchacha20poly1305";
    case KHIB_CIPHER_AES256GCM: return "aes256gcm";
    default: return "unknown";
    }
}

int khib_cipher_parse(const char *s, uint32_t *cipher)
{
    for (uint32_t c = KHIB_CIPHER_XCHACHA20POLY1305; c <= KHIB_CIPHER_AES256GCM; c++)
        if (!strcmp(s, khib_cipher_name(c))) {
            *cipher = c;
            return 0;
        }
    return -1;
}

int khib_cipher_available(uint32_t cipher)
{
    if (cipher == KHIB_CIPHER_XCHACHA20POLY1305)
        return 1;
    return cipher == KHIB_CIPHER_AES256GCM && crypto_aead_aes256gcm_is_available();
}

static struct khib_seal *seal_alloc(uint32_t cipher, const uint8_t uuid[16], char *err, size_t errlen)
{
    if (!khib_cipher_available(cipher)) {
        snprintf(err, errlen, "cipher %s is not available on this CPU (AES-256-GCM needs AES-NI and PCLMUL)",
                 khib_cipher_name(cipher));
        return NULL;
    }
    /* Guarded pages, mlock()ed (never swapped, not in a core dump),
     * zeroed by sodium_free(). */
    struct khib_seal *s = sodium_malloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of locked memory for the image key");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->cipher = cipher;
    memcpy(s->uuid, uuid, 16);
    return s;
}

static void derive(struct khib_seal *s)
{
    crypto_kdf_derive_from_key(s->chunk_key, sizeof s->chunk_key, 1, "khibchnk", s->image_key);
    crypto_kdf_derive_from_key(s->mac_key, sizeof s->mac_key, 2, "khibmac_", s->image_key);
}

struct khib_seal *khib_seal_new(uint32_t cipher, const uint8_t uuid[16], char *err, size_t errlen)
{
    struct khib_seal *s = seal_alloc(cipher, uuid, err, errlen);
    if (!s)
        return NULL;
    /* getrandom() that waits for the kernel's pool: the key must be secret. */
    randombytes_buf(s->image_key, sizeof s->image_key);
    derive(s);
    return s;
}

struct khib_seal *khib_seal_from_key(uint32_t cipher, const uint8_t uuid[16], const uint8_t key[KHIB_KEY_BYTES],
                                     char *err, size_t errlen)
{
    struct khib_seal *s = seal_alloc(cipher, uuid, err, errlen);
    if (!s)
        return NULL;
    memcpy(s->image_key, key, KHIB_KEY_BYTES);
    derive(s);
    return s;
}

void khib_seal_free(struct khib_seal *s)
{
    if (s)
        sodium_free(s);
}

int khib_seal_key(const struct khib_seal *s, const uint8_t pk[KHIB_KEY_BYTES], uint8_t out[KHIB_SEALED_KEY_BYTES],
                  char *err, size_t errlen)
{
    if (crypto_box_seal(out, s->image_key, KHIB_KEY_BYTES, pk) != 0) {
        snprintf(err, errlen, "cannot seal the image key to the public key (crypto_box_seal)");
        return -1;
    }
    return 0;
}

int khib_unseal_key(const uint8_t sealed[KHIB_SEALED_KEY_BYTES], const uint8_t pk[KHIB_KEY_BYTES],
                    const uint8_t sk[KHIB_KEY_BYTES], uint8_t key[KHIB_KEY_BYTES])
{
    return crypto_box_seal_open(key, sealed, KHIB_SEALED_KEY_BYTES, pk, sk) == 0 ? 0 : -1;
}

/* Associated data: what the chunk's pages are and where they go. */
static void chunk_ad(const struct khib_seal *s, uint32_t index, const struct khib_chunk *c, uint8_t ad[AD_BYTES])
{
    memcpy(ad, s->uuid, 16);
    khib_put64(ad + 16, index);
    khib_put64(ad + 24, c->first_pfn);
    khib_put32(ad + 32, c->pages);
    khib_put32(ad + 36, c->flags);
    khib_put32(ad + 40, c->raw_len);
    memcpy(ad + 44, c->zero_bitmap, KHIB_BITMAP_BYTES);
    memcpy(ad + 44 + KHIB_BITMAP_BYTES, c->excluded_bitmap, KHIB_BITMAP_BYTES);
}

/* The nonce is the chunk's index: unique under an image key that is used for
 * one image only. */
static void chunk_nonce(uint32_t index, uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
    memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    khib_put64(nonce, index);
}

int khib_seal_chunk(const struct khib_seal *s, uint32_t index, struct khib_chunk *c, uint8_t *buf, uint32_t frame_len,
                    char *err, size_t errlen)
{
    if (!frame_len)
        return 0;    /* all zero: nothing stored, the checksum of no bytes */
    uint8_t ad[AD_BYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    chunk_ad(s, index, c, ad);
    chunk_nonce(index, nonce);
    khib_put64(buf + frame_len, c->checksum);
    unsigned long long mlen = frame_len + 8u;
    int rc = s->cipher == KHIB_CIPHER_AES256GCM
                 ? crypto_aead_aes256gcm_encrypt_detached(buf, buf + mlen, NULL, buf, mlen, ad, sizeof ad, NULL,
                                                          nonce, s->chunk_key)
                 : crypto_aead_xchacha20poly1305_ietf_encrypt_detached(buf, buf + mlen, NULL, buf, mlen, ad,
                                                                       sizeof ad, NULL, nonce, s->chunk_key);
    if (rc != 0) {
        snprintf(err, errlen, "cannot encrypt the chunk (%s)", khib_cipher_name(s->cipher));
        return -1;
    }
    c->checksum = 0;
    c->stored_len = frame_len + KHIB_SEAL_OVERHEAD;
    return 0;
}

int khib_open_chunk(const struct khib_seal *s, uint32_t index, const struct khib_chunk *c, uint8_t *buf,
                    uint32_t *frame_len, uint64_t *checksum, char *err, size_t errlen)
{
    if (c->stored_len < KHIB_SEAL_OVERHEAD) {
        snprintf(err, errlen, "sealed frame of %" PRIu32 " bytes is too short", c->stored_len);
        return -1;
    }
    uint8_t ad[AD_BYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    chunk_ad(s, index, c, ad);
    chunk_nonce(index, nonce);
    unsigned long long clen = c->stored_len - KHIB_SEAL_TAG;
    int rc = s->cipher == KHIB_CIPHER_AES256GCM
                 ? crypto_aead_aes256gcm_decrypt_detached(buf, NULL, buf, clen, buf + clen, ad, sizeof ad, nonce,
                                                          s->chunk_key)
                 : crypto_aead_xchacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, clen, buf + clen, ad,
                                                                       sizeof ad, nonce, s->chunk_key);
    if (rc != 0) {
        snprintf(err, errlen, "authentication failed (%s tag): the chunk was tampered with, damaged, or belongs to"
                 " another image", khib_cipher_name(s->cipher));
        return -1;
    }
    *frame_len = (uint32_t)clen - 8u;
    *checksum = khib_get64(buf + *frame_len);
    return 0;
}

/* The superblock's bytes that a restorer or a normal boot rewrites without
 * the key (state, consumed and abandoned times, the reason, locked_ns), the MAC itself
 * and the checksum, zeroed in a copy. */
static void mask_superblock(const uint8_t *sb, uint8_t *out)
{
    memcpy(out, sb, KHIB_SB_SIZE);
    memset(out + 16, 0, 4);                                 /* state */
    memset(out + 3608, 0, 16 + KHIB_ABANDON_LEN);           /* consumed_ns, abandoned_ns, abandon_reason */
    memset(out + 3928, 0, KHIB_MAC_LEN);                    /* mac */
    memset(out + 4024, 0, 8);                               /* locked_ns */
    memset(out + KHIB_SB_SIZE - 8, 0, 8);                   /* checksum */
}

void khib_seal_mac(const struct khib_seal *s, const uint8_t *sb, const uint8_t *index, size_t index_len,
                   uint8_t mac[KHIB_MAC_BYTES])
{
    uint8_t masked[KHIB_SB_SIZE];
    mask_superblock(sb, masked);
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->mac_key, sizeof s->mac_key, KHIB_MAC_BYTES);
    crypto_generichash_update(&st, masked, sizeof masked);
    crypto_generichash_update(&st, index, index_len);
    crypto_generichash_final(&st, mac, KHIB_MAC_BYTES);
    sodium_memzero(&st, sizeof st);
}

static uint8_t *encode_index(const struct khib_index *idx, size_t *len)
{
    *len = (size_t)khib_index_size(idx->range_count, idx->chunk_count);
    uint8_t *buf = malloc(*len);
    if (buf)
        khib_index_encode(idx, buf);
    return buf;
}

int khib_seal_superblock(const struct khib_seal *s, struct khib_superblock *sb, const struct khib_index *idx,
                         char *err, size_t errlen)
{
    size_t len;
    uint8_t *index = encode_index(idx, &len), enc[KHIB_SB_SIZE];
    if (!index) {
        snprintf(err, errlen, "out of memory for the index's MAC");
        return -1;
    }
    khib_superblock_encode(sb, enc);
    khib_seal_mac(s, enc, index, len, sb->mac);
    free(index);
    return 0;
}

int khib_seal_check_image(const struct khib_seal *s, int fd, const char *path, const struct khib_superblock *sb,
                          const struct khib_index *idx, char *err, size_t errlen)
{
    size_t len;
    uint8_t disk_sb[KHIB_SB_SIZE], enc_sb[KHIB_SB_SIZE], mac[KHIB_MAC_BYTES];
    uint8_t *index = encode_index(idx, &len), *disk_index = malloc(len ? len : 1);
    int rc = -1;
    if (!index || !disk_index) {
        snprintf(err, errlen, "out of memory for the index's MAC");
        goto out;
    }
    if (khib_pread_all(fd, disk_sb, sizeof disk_sb, 0, path, err, errlen) != 0 ||
        khib_pread_all(fd, disk_index, len, sb->index_offset, path, err, errlen) != 0)
        goto out;
    khib_seal_mac(s, disk_sb, disk_index, len, mac);
    if (sodium_memcmp(mac, sb->mac, KHIB_MAC_BYTES) != 0) {
        snprintf(err, errlen, "%s: the superblock or index fails its MAC: the image was tampered with", path);
        goto out;
    }
    /* What the caller decoded is what was authenticated. */
    khib_superblock_encode(sb, enc_sb);
    uint8_t a[KHIB_SB_SIZE], b[KHIB_SB_SIZE];
    mask_superblock(disk_sb, a);
    mask_superblock(enc_sb, b);
    if (memcmp(a, b, sizeof a) != 0 || memcmp(index, disk_index, len) != 0) {
        snprintf(err, errlen, "%s: the superblock or index changed while it was read", path);
        goto out;
    }
    rc = 0;
out:
    free(index);
    free(disk_index);
    return rc;
}
