/* The key header: keyheader.h, docs/encryption.md. */
#define _GNU_SOURCE
#include "keyheader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "le.h"
#include "target.h"
#include "xxhash64.h"

#define WRAP_AD_BYTES 112u
#define CHECKSUM_OFF (KHIB_KEYHDR_SIZE - 8)

_Static_assert(KHIB_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(KHIB_WRAP_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

void khib_keyheader_encode(const struct khib_keyheader *kh, uint8_t buf[KHIB_KEYHDR_SIZE])
{
    memset(buf, 0, KHIB_KEYHDR_SIZE);
    memcpy(buf, KHIB_KEYHDR_MAGIC, 8);
    khib_put32(buf + 8, kh->version);
    khib_put32(buf + 12, kh->kdf);
    khib_put64(buf + 16, kh->opslimit);
    khib_put64(buf + 24, kh->memlimit);
    memcpy(buf + 32, kh->salt, KHIB_SALT_BYTES);
    memcpy(buf + 48, kh->public_key, KHIB_KEY_BYTES);
    khib_put64(buf + 80, kh->created_ns);
    memcpy(buf + 88, kh->nonce, KHIB_WRAP_NONCE_BYTES);
    memcpy(buf + WRAP_AD_BYTES, kh->wrapped, KHIB_WRAPPED_BYTES);
    khib_put64(buf + CHECKSUM_OFF, khib_hash64(buf, CHECKSUM_OFF, 0));
}

int khib_keyheader_decode(const uint8_t buf[KHIB_KEYHDR_SIZE], struct khib_keyheader *kh, char *err, size_t errlen)
{
    memset(kh, 0, sizeof *kh);
    if (memcmp(buf, KHIB_KEYHDR_MAGIC, 8) != 0) {
        snprintf(err, errlen, "no key header (no %s magic)", KHIB_KEYHDR_MAGIC);
        return KHIB_KH_NONE;
    }
    uint64_t want = khib_get64(buf + CHECKSUM_OFF), got = khib_hash64(buf, CHECKSUM_OFF, 0);
    if (want != got) {
        snprintf(err, errlen, "the key header is damaged (checksum %016" PRIx64 ", computed %016" PRIx64 ")", want,
                 got);
        return KHIB_KH_BAD;
    }
    kh->version = khib_get32(buf + 8);
    kh->kdf = khib_get32(buf + 12);
    kh->opslimit = khib_get64(buf + 16);
    kh->memlimit = khib_get64(buf + 24);
    memcpy(kh->salt, buf + 32, KHIB_SALT_BYTES);
    memcpy(kh->public_key, buf + 48, KHIB_KEY_BYTES);
    kh->created_ns = khib_get64(buf + 80);
    memcpy(kh->nonce, buf + 88, KHIB_WRAP_NONCE_BYTES);
    memcpy(kh->wrapped, buf + WRAP_AD_BYTES, KHIB_WRAPPED_BYTES);
    if (kh->version != KHIB_KEYHDR_VERSION || kh->kdf != KHIB_KDF_ARGON2ID) {
        snprintf(err, errlen, "key header version %" PRIu32 " / kdf %" PRIu32 " is not supported (need %u / %u)",
                 kh->version, kh->kdf, KHIB_KEYHDR_VERSION, KHIB_KDF_ARGON2ID);
        return KHIB_KH_BAD;
    }
    if (kh->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || kh->opslimit > KHIB_ARGON2_OPS_MAX ||
        kh->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || kh->memlimit > KHIB_ARGON2_MEM_MAX) {
        snprintf(err, errlen, "key header asks Argon2id for %" PRIu64 " passes over %" PRIu64 " bytes: not"
                 " believed (1..%u passes, 8 KiB..1 GiB)", kh->opslimit, kh->memlimit, KHIB_ARGON2_OPS_MAX);
        return KHIB_KH_BAD;
    }
    return KHIB_KH_OK;
}

int khib_keyheader_read(const char *path, uint64_t off, struct khib_keyheader *kh, char *err, size_t errlen)
{
    memset(kh, 0, sizeof *kh);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? KHIB_KH_NONE : KHIB_KH_IO;
    }
    uint8_t buf[KHIB_KEYHDR_SIZE];
    ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
        return KHIB_KH_IO;
    }
    if ((size_t)n < sizeof buf) {
        snprintf(err, errlen, "%s holds no key header (too short)", path);
        return KHIB_KH_NONE;
    }
    char why[300];
    int rc = khib_keyheader_decode(buf, kh, why, sizeof why);
    if (rc != KHIB_KH_OK)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

int khib_keyheader_write(int fd, const char *path, uint64_t off, const struct khib_keyheader *kh, char *err,
                         size_t errlen)
{
    uint8_t buf[KHIB_KEYHDR_SIZE];
    khib_keyheader_encode(kh, buf);
    if (khib_pwrite_all(fd, buf, sizeof buf, off, path, err, errlen) != 0)
        return -1;
    return khib_datasync(fd, path, err, errlen);
}

/* The wrapping key from the passphrase, into locked memory. */
static uint8_t *derive(const struct khib_keyheader *kh, const char *pass, size_t passlen, char *err, size_t errlen)
{
    uint8_t *k = sodium_malloc(KHIB_KEY_BYTES);
    if (!k) {
        snprintf(err, errlen, "out of locked memory for the key");
        return NULL;
    }
    if (crypto_pwhash(k, KHIB_KEY_BYTES, pass, passlen, kh->salt, kh->opslimit, (size_t)kh->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        snprintf(err, errlen, "Argon2id cannot run: it needs %" PRIu64 " MiB of memory", kh->memlimit >> 20);
        sodium_free(k);
        return NULL;
    }
    return k;
}

int khib_keyheader_create(struct khib_keyheader *kh, const uint8_t pk[KHIB_KEY_BYTES],
                          const uint8_t sk[KHIB_KEY_BYTES], const char *pass, size_t passlen, uint64_t ops,
                          uint64_t mem, uint64_t created_ns, char *err, size_t errlen)
{
    memset(kh, 0, sizeof *kh);
    kh->version = KHIB_KEYHDR_VERSION;
    kh->kdf = KHIB_KDF_ARGON2ID;
    kh->opslimit = ops;
    kh->memlimit = mem;
    kh->created_ns = created_ns;
    memcpy(kh->public_key, pk, KHIB_KEY_BYTES);
    randombytes_buf(kh->salt, sizeof kh->salt);
    randombytes_buf(kh->nonce, sizeof kh->nonce);
    uint8_t buf[KHIB_KEYHDR_SIZE];
    khib_keyheader_encode(kh, buf);
    char why[300];
    if (khib_keyheader_decode(buf, kh, why, sizeof why) != KHIB_KH_OK) {
        snprintf(err, errlen, "Argon2id parameters out of range: %s", why);
        return -1;
    }
    uint8_t *k = derive(kh, pass, passlen, err, errlen);
    if (!k)
        return -1;
    crypto_aead_xchacha20poly1305_ietf_encrypt(kh->wrapped, NULL, sk, KHIB_KEY_BYTES, buf, WRAP_AD_BYTES, NULL,
                                               kh->nonce, k);
    sodium_free(k);
    return 0;
}

int khib_keyheader_unwrap(const struct khib_keyheader *kh, const char *pass, size_t passlen,
                          uint8_t sk[KHIB_KEY_BYTES], char *err, size_t errlen)
{
    uint8_t buf[KHIB_KEYHDR_SIZE];
    khib_keyheader_encode(kh, buf);
    uint8_t *k = derive(kh, pass, passlen, err, errlen);
    if (!k)
        return -1;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(sk, NULL, NULL, kh->wrapped, KHIB_WRAPPED_BYTES, buf,
                                                        WRAP_AD_BYTES, kh->nonce, k);
    sodium_free(k);
    if (rc != 0) {
        sodium_memzero(sk, KHIB_KEY_BYTES);
        return 1;
    }
    /* The secret key must belong to the public key beside it. */
    uint8_t pk[KHIB_KEY_BYTES];
    crypto_scalarmult_base(pk, sk);
    if (sodium_memcmp(pk, kh->public_key, KHIB_KEY_BYTES) != 0) {
        sodium_memzero(sk, KHIB_KEY_BYTES);
        return 1;
    }
    return 0;
}

void khib_key_hex(const uint8_t key[KHIB_KEY_BYTES], char out[2 * KHIB_KEY_BYTES + 1])
{
    sodium_bin2hex(out, 2 * KHIB_KEY_BYTES + 1, key, KHIB_KEY_BYTES);
}

int khib_key_parse(const char *hex, uint8_t key[KHIB_KEY_BYTES])
{
    size_t n;
    const char *end;
    if (strlen(hex) != 2 * KHIB_KEY_BYTES ||
        sodium_hex2bin(key, KHIB_KEY_BYTES, hex, strlen(hex), NULL, &n, &end) != 0 || n != KHIB_KEY_BYTES)
        return -1;
    return 0;
}
