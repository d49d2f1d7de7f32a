/* Encryption (lib/seal.c, lib/keyheader.c): chunk AEAD with both ciphers and
 * what its associated data binds, every bit of a sealed frame, the sealed
 * image key, the MAC of superblock and index, the key header (wrap, wrong
 * passphrase, tampering, damage, Argon2id bounds).
 *
 *   test_seal --bench   prints the AEAD throughputs and Argon2id's time at
 *                       the default parameters (docs/encryption.md) */
#include "t.h"

#include <sodium.h>
#include <stdint.h>
#include <time.h>

#include "image_codec.h"
#include "keyheader.h"
#include "le.h"
#include "seal.h"
#include "xxhash64.h"

static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct khib_chunk sample_chunk(void)
{
    struct khib_chunk c;
    memset(&c, 0, sizeof c);
    c.first_pfn = 0x12300;
    c.pages = 256;
    c.raw_len = 255 * 4096;
    c.checksum = 0x1122334455667788ull;
    khib_bitmap_set(c.zero_bitmap, 7);
    return c;
}

/* Seal a frame of n bytes as chunk 5; *c the sealed chunk entry. */
static uint8_t *sealed(const struct khib_seal *s, struct khib_chunk *c, const uint8_t *frame, uint32_t n)
{
    uint8_t *buf = malloc(n + KHIB_SEAL_OVERHEAD);
    memcpy(buf, frame, n);
    char err[300] = "";
    *c = sample_chunk();
    CHECK(khib_seal_chunk(s, 5, c, buf, n, err, sizeof err) == 0, "seal: %s", err);
    return buf;
}

static int opens(const struct khib_seal *s, uint32_t index, const struct khib_chunk *c, const uint8_t *in,
                 uint8_t *frame_out, uint32_t *len)
{
    uint8_t *buf = malloc(c->stored_len);
    memcpy(buf, in, c->stored_len);
    uint64_t sum;
    char err[300];
    uint32_t l = 0;
    int ok = khib_open_chunk(s, index, c, buf, &l, &sum, err, sizeof err) == 0;
    if (ok && frame_out)
        memcpy(frame_out, buf, l);
    if (len)
        *len = l;
    if (ok && sum != 0x1122334455667788ull)
        ok = 0;
    free(buf);
    return ok;
}

static void test_chunk(uint32_t cipher)
{
    const char *name = khib_cipher_name(cipher);
    char err[300] = "";
    struct khib_seal *s = khib_seal_new(cipher, uuid, err, sizeof err);
    CHECK(s != NULL, "%s: seal_new: %s", name, err);
    if (!s)
        return;
    uint32_t n = 3000;
    uint8_t *frame = malloc(n), *back = malloc(n);
    for (uint32_t i = 0; i < n; i++)
        frame[i] = (uint8_t)(i * 7 + 3);
    struct khib_chunk c;
    uint8_t *buf = sealed(s, &c, frame, n);
    CHECK(c.stored_len == n + KHIB_SEAL_OVERHEAD && c.checksum == 0, "%s: stored_len %u, checksum hidden", name,
          c.stored_len);
    CHECK(memcmp(buf, frame, 64) != 0, "%s: the frame is not in clear", name);
    uint32_t len;
    CHECK(opens(s, 5, &c, buf, back, &len) && len == n && !memcmp(back, frame, n), "%s: opens to the same frame",
          name);

    /* Every bit of a sealed frame of 64 bytes, and of the tag region of the big one. */
    struct khib_chunk c2;
    uint8_t *small = sealed(s, &c2, frame, 64);
    int refused = 0, bits = (int)c2.stored_len * 8;
    for (int b = 0; b < bits; b++) {
        small[b / 8] ^= (uint8_t)(1u << (b % 8));
        refused += !opens(s, 5, &c2, small, NULL, NULL);
        small[b / 8] ^= (uint8_t)(1u << (b % 8));
    }
    CHECK(refused == bits, "%s: %d of %d single-bit flips refused", name, refused, bits);
    CHECK(opens(s, 5, &c2, small, NULL, NULL), "%s: the unflipped frame still opens", name);

    /* What the associated data binds. */
    struct khib_chunk m = c;
    CHECK(!opens(s, 6, &c, buf, NULL, NULL), "%s: another chunk index refused", name);
    m.first_pfn++;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: another first pfn refused", name);
    m = c;
    m.pages--;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: another page count refused", name);
    m = c;
    m.zero_bitmap[0] ^= 1;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: another zero bitmap refused", name);
    m = c;
    m.excluded_bitmap[1] ^= 1;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: another excluded bitmap refused", name);
    m = c;
    m.flags ^= KHIB_CHUNK_STORED;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: other flags refused", name);
    m = c;
    m.raw_len -= 4096;
    CHECK(!opens(s, 5, &m, buf, NULL, NULL), "%s: another raw_len refused", name);
    uint8_t other_uuid[16];
    memcpy(other_uuid, uuid, 16);
    other_uuid[0] ^= 1;
    struct khib_seal *o = khib_seal_from_key(cipher, other_uuid, s->image_key, err, sizeof err);
    CHECK(o && !opens(o, 5, &c, buf, NULL, NULL), "%s: another image's uuid refused", name);
    khib_seal_free(o);
    struct khib_seal *same = khib_seal_from_key(cipher, uuid, s->image_key, err, sizeof err);
    CHECK(same && opens(same, 5, &c, buf, NULL, NULL), "%s: the same key and uuid open it", name);
    khib_seal_free(same);
    struct khib_seal *fresh = khib_seal_new(cipher, uuid, err, sizeof err);
    CHECK(fresh && !opens(fresh, 5, &c, buf, NULL, NULL), "%s: another image key refused", name);
    CHECK(fresh && memcmp(fresh->image_key, s->image_key, KHIB_KEY_BYTES) != 0, "%s: image keys are fresh", name);
    khib_seal_free(fresh);
    m = c;
    m.stored_len = 10;
    CHECK_ERR(khib_open_chunk(s, 5, &m, buf, &len, &(uint64_t){0}, err, sizeof err) != 0, err, "too short");

    /* An all-zero chunk has no frame: nothing is sealed. */
    struct khib_chunk z = sample_chunk();
    z.stored_len = 0;
    uint64_t sum = z.checksum;
    CHECK(khib_seal_chunk(s, 1, &z, buf, 0, err, sizeof err) == 0 && z.stored_len == 0 && z.checksum == sum,
          "%s: an all-zero chunk stays as it is", name);
    free(buf);
    free(small);
    free(frame);
    free(back);
    khib_seal_free(s);
}

static void test_sealed_key(void)
{
    uint8_t pk[32], sk[32], pk2[32], sk2[32], key[32], sealed_key[KHIB_SEALED_KEY_BYTES];
    crypto_box_keypair(pk, sk);
    crypto_box_keypair(pk2, sk2);
    char err[300] = "";
    struct khib_seal *s = khib_seal_new(KHIB_CIPHER_XCHACHA20POLY1305, uuid, err, sizeof err);
    CHECK(s && khib_seal_key(s, pk, sealed_key, err, sizeof err) == 0, "seal key: %s", err);
    CHECK(khib_unseal_key(sealed_key, pk, sk, key) == 0 && !memcmp(key, s->image_key, 32), "unsealed with the pair");
    CHECK(khib_unseal_key(sealed_key, pk2, sk2, key) != 0, "another key pair cannot unseal");
    int refused = 0;
    for (unsigned b = 0; b < KHIB_SEALED_KEY_BYTES * 8; b += 7) {
        sealed_key[b / 8] ^= (uint8_t)(1u << (b % 8));
        refused += khib_unseal_key(sealed_key, pk, sk, key) != 0;
        sealed_key[b / 8] ^= (uint8_t)(1u << (b % 8));
    }
    CHECK(refused == (KHIB_SEALED_KEY_BYTES * 8 + 6) / 7, "every flipped bit of the sealed key refused (%d)", refused);
    khib_seal_free(s);
}

static void test_mac(void)
{
    char err[300] = "";
    struct khib_seal *s = khib_seal_new(KHIB_CIPHER_XCHACHA20POLY1305, uuid, err, sizeof err);
    uint8_t sb[KHIB_SB_SIZE], idx[200], mac[32], mac2[32];
    for (unsigned i = 0; i < sizeof sb; i++)
        sb[i] = (uint8_t)(i * 13);
    for (unsigned i = 0; i < sizeof idx; i++)
        idx[i] = (uint8_t)i;
    khib_seal_mac(s, sb, idx, sizeof idx, mac);
    /* Rewritten without the key: state, consumed/abandoned, reason; and the MAC and checksum themselves. */
    static const unsigned masked[] = {16, 19, 3608, 3620, 3700, 3751, 3928, 3959, 4024, 4031, 4088, 4095};
    for (unsigned i = 0; i < sizeof masked / sizeof *masked; i++) {
        sb[masked[i]] ^= 0x40;
        khib_seal_mac(s, sb, idx, sizeof idx, mac2);
        CHECK(!memcmp(mac, mac2, 32), "byte %u is left out of the MAC", masked[i]);
        sb[masked[i]] ^= 0x40;
    }
    static const unsigned covered[] = {0, 8, 20, 24, 200, 232, 264, 300, 3600, 3752, 3759, 3840, 3848, 3927, 3960, 4023, 4032, 4087};
    for (unsigned i = 0; i < sizeof covered / sizeof *covered; i++) {
        sb[covered[i]] ^= 0x40;
        khib_seal_mac(s, sb, idx, sizeof idx, mac2);
        CHECK(memcmp(mac, mac2, 32) != 0, "byte %u of the superblock is covered", covered[i]);
        sb[covered[i]] ^= 0x40;
    }
    idx[150] ^= 1;
    khib_seal_mac(s, sb, idx, sizeof idx, mac2);
    CHECK(memcmp(mac, mac2, 32) != 0, "the index is covered");
    khib_seal_free(s);
}

static void test_keyheader(void)
{
    uint8_t pk[32], sk[32], out[32];
    crypto_box_keypair(pk, sk);
    char err[300] = "";
    struct khib_keyheader kh, back;
    CHECK(khib_keyheader_create(&kh, pk, sk, "secret", 6, 1, 8u << 20, 1234, err, sizeof err) == 0, "create: %s", err);
    uint8_t buf[KHIB_KEYHDR_SIZE];
    khib_keyheader_encode(&kh, buf);
    CHECK(!memcmp(buf, KHIB_KEYHDR_MAGIC, 8) && khib_keyheader_decode(buf, &back, err, sizeof err) == KHIB_KH_OK &&
              !memcmp(&back, &kh, sizeof kh), "encode/decode round trip: %s", err);
    CHECK(memmem(buf, sizeof buf, sk, 32) == NULL, "the secret key is not in clear");
    CHECK(khib_keyheader_unwrap(&kh, "secret", 6, out, err, sizeof err) == 0 && !memcmp(out, sk, 32), "unwrap");
    CHECK(khib_keyheader_unwrap(&kh, "secreT", 6, out, err, sizeof err) == 1, "a wrong passphrase does not open it");
    CHECK(khib_keyheader_unwrap(&kh, "secret", 5, out, err, sizeof err) == 1, "a prefix does not open it");
    /* Forged: each field changed with a valid checksum. */
    struct khib_keyheader f = kh;
    f.public_key[3] ^= 1;
    CHECK(khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1, "another public key refused");
    f = kh;
    f.salt[0] ^= 1;
    CHECK(khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1, "another salt refused");
    f = kh;
    f.opslimit = 2;
    CHECK(khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1, "other passes refused");
    f = kh;
    f.created_ns++;
    CHECK(khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1, "another creation time refused");
    f = kh;
    f.wrapped[40] ^= 1;
    CHECK(khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1, "a changed wrap refused");
    /* A forged wrap of another secret key under the right public key: the
     * secret key must belong to it. */
    uint8_t pk3[32], sk3[32];
    crypto_box_keypair(pk3, sk3);
    CHECK(khib_keyheader_create(&f, pk, sk3, "secret", 6, 1, 8u << 20, 1234, err, sizeof err) == 0 &&
              khib_keyheader_unwrap(&f, "secret", 6, out, err, sizeof err) == 1,
          "a secret key that is not the public key's refused");
    /* Damage and bounds. */
    buf[200] ^= 1;
    CHECK_ERR(khib_keyheader_decode(buf, &back, err, sizeof err) == KHIB_KH_BAD, err, "damaged");
    buf[200] ^= 1;
    buf[0] ^= 1;
    CHECK(khib_keyheader_decode(buf, &back, err, sizeof err) == KHIB_KH_NONE, "no magic: no key header");
    buf[0] ^= 1;
    f = kh;
    f.opslimit = 1ull << 40;
    khib_keyheader_encode(&f, buf);
    CHECK_ERR(khib_keyheader_decode(buf, &back, err, sizeof err) == KHIB_KH_BAD, err, "not believed");
    f = kh;
    f.memlimit = 1ull << 40;
    khib_keyheader_encode(&f, buf);
    CHECK_ERR(khib_keyheader_decode(buf, &back, err, sizeof err) == KHIB_KH_BAD, err, "not believed");
    CHECK_ERR(khib_keyheader_create(&f, pk, sk, "x", 1, 100, 8u << 20, 0, err, sizeof err) != 0, err, "out of range");
    char hex[65];
    uint8_t k2[32];
    khib_key_hex(pk, hex);
    CHECK(strlen(hex) == 64 && khib_key_parse(hex, k2) == 0 && !memcmp(k2, pk, 32), "hex round trip");
    CHECK(khib_key_parse("abc", k2) != 0 && khib_key_parse(
              "zz39db870433b3218045e7a2384fb99b6c3a3af9dac9d10b49534c838f747d21", k2) != 0, "bad hex refused");
}

static void bench(void)
{
    char err[300] = "";
    size_t n = 1u << 20;
    unsigned rounds = 256;
    uint8_t *buf = malloc(n + KHIB_SEAL_OVERHEAD);
    randombytes_buf(buf, n);
    for (uint32_t cipher = KHIB_CIPHER_XCHACHA20POLY1305; cipher <= KHIB_CIPHER_AES256GCM; cipher++) {
        if (!khib_cipher_available(cipher)) {
            printf("%s: not available on this CPU\n", khib_cipher_name(cipher));
            continue;
        }
        struct khib_seal *s = khib_seal_new(cipher, uuid, err, sizeof err);
        struct khib_chunk c = sample_chunk();
        double t0 = now();
        for (unsigned r = 0; r < rounds; r++) {
            c = sample_chunk();
            khib_seal_chunk(s, r, &c, buf, (uint32_t)n, err, sizeof err);
        }
        double enc = now() - t0;
        /* Opening is in place: each round opens a fresh copy of one sealed
         * chunk (the copy's time, measured alone, taken off). */
        uint8_t *copy = malloc(n + KHIB_SEAL_OVERHEAD);
        c = sample_chunk();
        khib_seal_chunk(s, 0, &c, buf, (uint32_t)n, err, sizeof err);
        t0 = now();
        for (unsigned r = 0; r < rounds; r++)
            memcpy(copy, buf, c.stored_len);
        double cp = now() - t0;
        uint32_t len;
        uint64_t sum;
        int opened = 0;
        t0 = now();
        for (unsigned r = 0; r < rounds; r++) {
            memcpy(copy, buf, c.stored_len);
            opened += khib_open_chunk(s, 0, &c, copy, &len, &sum, err, sizeof err) == 0;
        }
        double dec = now() - t0 - cp;
        free(copy);
        if (opened != (int)rounds)
            printf("%s: only %d of %u opened\n", khib_cipher_name(cipher), opened, rounds);
        printf("%s: seal %.0f MiB/s, open %.0f MiB/s (one thread, 1 MiB chunks)\n", khib_cipher_name(cipher),
               rounds / enc, rounds / dec);
        khib_seal_free(s);
    }
    free(buf);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    struct khib_keyheader kh;
    double t0 = now();
    khib_keyheader_create(&kh, pk, sk, "passphrase", 10, KHIB_ARGON2_OPS_DEFAULT, KHIB_ARGON2_MEM_DEFAULT, 0, err,
                          sizeof err);
    printf("argon2id: %u passes over %llu MiB: %.2f s\n", KHIB_ARGON2_OPS_DEFAULT, KHIB_ARGON2_MEM_DEFAULT >> 20,
           now() - t0);
}

int main(int argc, char **argv)
{
    char err[300];
    if (khib_sodium_init(err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    test_chunk(KHIB_CIPHER_XCHACHA20POLY1305);
    if (khib_cipher_available(KHIB_CIPHER_AES256GCM))
        test_chunk(KHIB_CIPHER_AES256GCM);
    else
        printf("AES-256-GCM is not available on this CPU: its tests were skipped\n");
    uint32_t cipher;
    CHECK(khib_cipher_parse("aes256gcm", &cipher) == 0 && cipher == KHIB_CIPHER_AES256GCM &&
              khib_cipher_parse("rot13", &cipher) != 0, "cipher names");
    test_sealed_key();
    test_mac();
    test_keyheader();
    return t_done();
}
