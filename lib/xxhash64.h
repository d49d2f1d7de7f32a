/* XXH64 (Yann Collet's xxHash, 64-bit variant), the checksum of every
 * superblock, index and chunk.  Identical output to `xxhsum -H1`. */
#ifndef KHIB_XXHASH64_H
#define KHIB_XXHASH64_H

#include <stddef.h>
#include <stdint.h>

uint64_t khib_hash64(const void *p, size_t n, uint64_t seed);

#endif
