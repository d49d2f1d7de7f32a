/* Little-endian load/store helpers for the on-disk encodings (image_codec.c,
 * handoff_codec.c, elfcore.c).  Byte by byte, so alignment and host byte
 * order never matter; compilers turn them into single moves on x86_64. */
#ifndef KHIB_LE_H
#define KHIB_LE_H

#include <stdint.h>

static inline uint16_t khib_get16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}

static inline uint32_t khib_get32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t khib_get64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)khib_get32(b) | (uint64_t)khib_get32(b + 4) << 32;
}

static inline void khib_put16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static inline void khib_put32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static inline void khib_put64(void *p, uint64_t v)
{
    khib_put32(p, (uint32_t)v);
    khib_put32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

#endif
