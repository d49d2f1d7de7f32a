/* XXH64 against reference values from Debian's libxxhash 0.8.1 (and xxhsum). */
#include "t.h"

#include <stdint.h>

#include "xxhash64.h"

static const struct {
    size_t n;
    uint64_t seed, want;
} vec[] = {
    {0, 0x0ULL, 0xef46db3751d8e999ULL},      {1, 0x0ULL, 0x1f25c8d0bc1f4bb6ULL},
    {3, 0x0ULL, 0x31d2363f52e564c9ULL},      {4, 0x0ULL, 0x9bb64b7d66ee9fdaULL},
    {7, 0x0ULL, 0x9a7b149959ce60d8ULL},      {8, 0x0ULL, 0xdab99d95c6f90092ULL},
    {15, 0x0ULL, 0x1b47cb8243cc8e32ULL},     {31, 0x0ULL, 0xa2aa5f33cc4a6119ULL},
    {32, 0x0ULL, 0x23c3c17ef790fd97ULL},     {33, 0x0ULL, 0x50a7cfc7ba588784ULL},
    {63, 0x0ULL, 0x5e3e54b431c7493cULL},     {100, 0x0ULL, 0xa61f8d4c170fe531ULL},
    {1024, 0x0ULL, 0xe6816a6e134b7a33ULL},   {0, 0x9e3779b1ULL, 0xac75fda2929b17efULL},
    {5, 0x9e3779b1ULL, 0xf6ca02179471d4a8ULL}, {37, 0x3039ULL, 0x1353f82a690fa165ULL},
    {1000, 0xffffffffffffffffULL, 0x75a57189c6551b25ULL},
};

int main(void)
{
    uint8_t buf[1024];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        uint64_t got = khib_hash64(buf, vec[i].n, vec[i].seed);
        CHECK(got == vec[i].want, "XXH64(%zu bytes, seed %llx) = %016llx, want %016llx", vec[i].n,
              (unsigned long long)vec[i].seed, (unsigned long long)got, (unsigned long long)vec[i].want);
    }
    /* `printf a | xxhsum -H1`, `printf abc | xxhsum -H1` */
    CHECK(khib_hash64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL, "XXH64(\"a\")");
    CHECK(khib_hash64("abc", 3, 0) == 0x44bc2cf5ad770999ULL, "XXH64(\"abc\")");
    /* Unaligned input gives the same result as aligned. */
    uint8_t *mis = malloc(1100);
    memcpy(mis + 3, buf, 1024);
    CHECK(khib_hash64(mis + 3, 1024, 0) == 0xe6816a6e134b7a33ULL, "unaligned input");
    free(mis);
    return t_done();
}
