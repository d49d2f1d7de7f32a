/* Inside lib/fsstate*.c: one file per kind of file system, each with its
 * probe and diff (as khib_fs_probe and khib_fs_state_diff of fsstate.h, for
 * a device of size bytes), and the helpers they share (fsstate.c). */
#ifndef KHIB_FSSTATE_KIND_H
#define KHIB_FSSTATE_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "fsstate.h"

#define WHAT "the device" /* khib_pread_all() names it; the caller names the device itself */

uint16_t khib_fsk_get_be16(const uint8_t *b);
uint32_t khib_fsk_get_be32(const uint8_t *b);
uint64_t khib_fsk_get_be64(const uint8_t *b);
int khib_fsk_is_pow2(uint64_t v);
int khib_fsk_dev_size(int fd, uint64_t *size, char *err, size_t errlen);
int khib_fsk_hash_region(int fd, uint64_t off, size_t len, uint64_t *h, char *err, size_t errlen);
void khib_fsk_fmt_time(uint64_t t, char *buf, size_t len);
void *khib_fsk_alloc_or_err(size_t n, char *err, size_t errlen);

int khib_fsk_ext_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen);
int khib_fsk_ext_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen);
int khib_fsk_xfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen);
int khib_fsk_xfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen);
int khib_fsk_btrfs_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen);
int khib_fsk_btrfs_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen);
int khib_fsk_vfat_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen);
int khib_fsk_vfat_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen);

#endif
