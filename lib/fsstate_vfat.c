#define _GNU_SOURCE
#include "fsstate_kind.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "target.h"
#include "xxhash64.h"

/* The state of vfat (FAT12/16/32) file systems (fsstate.h, docs/filesystems.md).
 * struct fat_boot_sector, include/uapi/linux/msdos_fs.h; the geometry as
 * fat_fill_super() (fs/fat/inode.c) derives it.  Words:
 *   0  hash of the boot sector, and of the FSInfo sector on FAT32
 *   1  hash of the first FAT
 *   2  hash of every directory cluster reachable from the root directory
 *   3  bytes of directory hashed
 *   4  0
 * FAT keeps no mount count.  A read-write mount sets FAT_STATE_DIRTY in the
 * boot sector and the unmount clears it, unless it was set already
 * (fat_set_state()); allocation updates the FAT and the FSInfo counters
 * (fat_alloc_clusters(), fs/fat/fatent.c); creating, deleting, renaming,
 * resizing or writing a file changes its directory entry (name, first
 * cluster, size, mtime: fat_write_inode(), fs/fat/inode.c). */
#define FAT_OFF_SECTOR_SIZE 11
#define FAT_OFF_SEC_PER_CLUS 13
#define FAT_OFF_RESERVED    14
#define FAT_OFF_FATS        16
#define FAT_OFF_DIR_ENTRIES 17
#define FAT_OFF_SECTORS     19
#define FAT_OFF_MEDIA       21
#define FAT_OFF_FAT_LENGTH  22
#define FAT_OFF_TOTAL_SECT  32
#define FAT16_OFF_VOL_ID    39
#define FAT32_OFF_LENGTH    36
#define FAT32_OFF_ROOT      44
#define FAT32_OFF_INFO      48
#define FAT32_OFF_VOL_ID    67
#define FAT_MAX12           0xFF4u       /* MAX_FAT12 */
#define FAT_MAX16           0xFFF4u
#define FAT_MAX32           0x0FFFFFF6u
#define FAT_START_ENT       2u
#define FAT_DIRENT          32u
#define FAT_ATTR_VOLUME     0x08
#define FAT_ATTR_DIR        0x10
#define FAT_DELETED         0xE5
#define FAT_MAX_FAT_BYTES   (64u << 20)  /* a FAT32 of 16 M clusters */
#define FAT_MAX_DIR_BYTES   (32u << 20)  /* a million directory entries */

struct fat {
    int fd;
    unsigned bits;            /* 12, 16, 32 */
    uint32_t sector;          /* bytes per sector */
    uint32_t cluster;         /* bytes per cluster */
    uint64_t fat_start;       /* byte offset of the first FAT */
    uint64_t fat_bytes;
    uint64_t root_start;      /* FAT12/16: byte offset of the fixed root directory */
    uint64_t root_bytes;
    uint64_t data_start;      /* byte offset of cluster 2 */
    uint32_t root_cluster;    /* FAT32 */
    uint32_t info_sector;     /* FAT32 */
    uint32_t max_cluster;     /* clusters are [2, max_cluster) */
    uint8_t *table;           /* the first FAT */
};

/* fat_read_bpb(): what the kernel accepts as a BIOS parameter block;
 * NOT_KIND otherwise. */
static int fat_bpb(const uint8_t *b, uint64_t size, struct fat *f, char *err, size_t errlen)
{
    uint32_t ss = khib_get16(b + FAT_OFF_SECTOR_SIZE), spc = b[FAT_OFF_SEC_PER_CLUS];
    uint32_t reserved = khib_get16(b + FAT_OFF_RESERVED), fats = b[FAT_OFF_FATS];
    uint8_t media = b[FAT_OFF_MEDIA];
    uint64_t fat_len = khib_get16(b + FAT_OFF_FAT_LENGTH), fat32_len = khib_get32(b + FAT32_OFF_LENGTH);
    if (!reserved || !fats || !(media >= 0xF8 || media == 0xF0) || !khib_fsk_is_pow2(ss) || ss < 512 || ss > 4096 ||
        !khib_fsk_is_pow2(spc) || (fat_len == 0 && fat32_len == 0)) {
        snprintf(err, errlen, "holds no vfat file system (no FAT BIOS parameter block at byte 0)");
        return KHIB_FS_NOT_KIND;
    }
    f->sector = ss;
    f->cluster = ss * spc;
    f->bits = fat_len == 0 ? 32 : 0;
    if (f->bits == 32) {
        fat_len = fat32_len;
        f->root_cluster = khib_get32(b + FAT32_OFF_ROOT);
        f->info_sector = khib_get16(b + FAT32_OFF_INFO) ? khib_get16(b + FAT32_OFF_INFO) : 1;
    }
    uint64_t dir_entries = khib_get16(b + FAT_OFF_DIR_ENTRIES);
    uint64_t dir_start = reserved + fats * fat_len, dir_secs = dir_entries * FAT_DIRENT / ss;
    uint64_t data_start = dir_start + dir_secs, total = khib_get16(b + FAT_OFF_SECTORS);
    if (total == 0)
        total = khib_get32(b + FAT_OFF_TOTAL_SECT);
    if (total <= data_start || total * ss > size || (dir_entries * FAT_DIRENT) % ss) {
        snprintf(err, errlen, "its boot sector is inconsistent (%" PRIu64 " sectors, data from sector %" PRIu64
                 ", %" PRIu64 " root entries)", total, data_start, dir_entries);
        return KHIB_FS_UNSUPPORTED;
    }
    uint64_t clusters = (total - data_start) / spc;
    if (f->bits == 0)
        f->bits = clusters > FAT_MAX12 ? 16 : 12;
    uint64_t fat_clusters = fat_len * ss * 8 / f->bits;   /* calc_fat_clusters() */
    if (fat_clusters < FAT_START_ENT)
        fat_clusters = FAT_START_ENT;
    if (clusters > fat_clusters - FAT_START_ENT)
        clusters = fat_clusters - FAT_START_ENT;
    uint64_t max = f->bits == 32 ? FAT_MAX32 : f->bits == 16 ? FAT_MAX16 : FAT_MAX12;
    if (clusters > max) {
        snprintf(err, errlen, "its boot sector is inconsistent (%" PRIu64 " clusters)", clusters);
        return KHIB_FS_UNSUPPORTED;
    }
    f->max_cluster = (uint32_t)(clusters + FAT_START_ENT);
    f->fat_start = (uint64_t)reserved * ss;
    f->fat_bytes = fat_len * ss;
    f->root_start = dir_start * ss;
    f->root_bytes = dir_secs * ss;
    f->data_start = data_start * ss;
    if (f->fat_bytes > FAT_MAX_FAT_BYTES) {
        snprintf(err, errlen, "its FAT is %" PRIu64 " MiB, more than the %u MiB khib reads", f->fat_bytes >> 20,
                 FAT_MAX_FAT_BYTES >> 20);
        return KHIB_FS_UNSUPPORTED;
    }
    return KHIB_FS_OK;
}

/* The FAT entry of cluster c (fat_ent_operations, fs/fat/fatent.c). */
static uint32_t fat_next(const struct fat *f, uint32_t c)
{
    if (f->bits == 12) {
        uint16_t v = khib_get16(f->table + c + c / 2);
        return c & 1 ? v >> 4 : v & 0xFFFu;
    }
    if (f->bits == 16)
        return khib_get16(f->table + 2 * (uint64_t)c);
    return khib_get32(f->table + 4 * (uint64_t)c) & 0x0FFFFFFFu;
}

struct fat_walk {
    uint8_t *seen;            /* a bit per cluster */
    uint32_t *todo;           /* first clusters of directories still to hash */
    size_t ntodo, captodo;
    uint64_t hash, bytes;
};

static int fat_push(struct fat_walk *w, uint32_t c, char *err, size_t errlen)
{
    if (w->ntodo == w->captodo) {
        size_t cap = w->captodo ? 2 * w->captodo : 64;
        uint32_t *p = realloc(w->todo, cap * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "cannot allocate memory for its directory tree");
            return -1;
        }
        w->todo = p;
        w->captodo = cap;
    }
    w->todo[w->ntodo++] = c;
    return 0;
}

/* Queue the subdirectories named in a block of directory entries, as
 * fat_get_short_entry() (fs/fat/dir.c) sees entries: free ones (IS_FREE)
 * and volume labels (and so long-name slots) skipped. */
static int fat_scan_dir(const struct fat *f, struct fat_walk *w, const uint8_t *buf, size_t len, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i + FAT_DIRENT <= len; i += FAT_DIRENT) {
        const uint8_t *de = buf + i;
        if (de[0] == 0 || de[0] == FAT_DELETED || (de[11] & FAT_ATTR_VOLUME) || !(de[11] & FAT_ATTR_DIR))
            continue;
        if (!memcmp(de, ".          ", 11) || !memcmp(de, "..         ", 11))
            continue;
        uint32_t c = khib_get16(de + 26);   /* fat_get_start(), fs/fat/fat.h */
        if (f->bits == 32)
            c |= (uint32_t)khib_get16(de + 20) << 16;
        if (fat_push(w, c, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Hash (and scan) one directory's cluster chain; a cluster seen before ends
 * it, so cross-links and loops end. */
static int fat_walk_chain(const struct fat *f, struct fat_walk *w, uint32_t c, uint8_t *buf, char *err,
                          size_t errlen)
{
    while (c >= FAT_START_ENT && c < f->max_cluster && !(w->seen[c / 8] & (1u << (c % 8)))) {
        w->seen[c / 8] |= (uint8_t)(1u << (c % 8));
        w->bytes += f->cluster;
        if (w->bytes > FAT_MAX_DIR_BYTES) {
            snprintf(err, errlen, "its directories hold more than %u MiB, more than khib reads",
                     FAT_MAX_DIR_BYTES >> 20);
            return KHIB_FS_UNSUPPORTED;
        }
        uint64_t off = f->data_start + (uint64_t)(c - FAT_START_ENT) * f->cluster;
        if (khib_pread_all(f->fd, buf, f->cluster, off, WHAT, err, errlen) != 0)
            return KHIB_FS_ERROR;
        w->hash = khib_hash64(buf, f->cluster, w->hash);
        if (fat_scan_dir(f, w, buf, f->cluster, err, errlen) != 0)
            return KHIB_FS_ERROR;
        c = fat_next(f, c);
    }
    return KHIB_FS_OK;
}

static int fat_hash_dirs(const struct fat *f, struct fat_walk *w, char *err, size_t errlen)
{
    uint8_t *buf = khib_fsk_alloc_or_err(f->cluster > f->root_bytes ? f->cluster : (size_t)f->root_bytes, err, errlen);
    if (!buf)
        return KHIB_FS_ERROR;
    int rc = KHIB_FS_OK;
    if (f->bits == 32) {
        rc = fat_push(w, f->root_cluster, err, errlen) == 0 ? KHIB_FS_OK : KHIB_FS_ERROR;
    } else if (khib_pread_all(f->fd, buf, (size_t)f->root_bytes, f->root_start, WHAT, err, errlen) != 0) {
        rc = KHIB_FS_ERROR;
    } else {
        w->hash = khib_hash64(buf, (size_t)f->root_bytes, w->hash);
        w->bytes = f->root_bytes;
        rc = fat_scan_dir(f, w, buf, (size_t)f->root_bytes, err, errlen) == 0 ? KHIB_FS_OK : KHIB_FS_ERROR;
    }
    for (size_t i = 0; rc == KHIB_FS_OK && i < w->ntodo; i++)
        rc = fat_walk_chain(f, w, w->todo[i], buf, err, errlen);
    free(buf);
    return rc;
}

int khib_fsk_vfat_probe(int fd, uint64_t size, uint8_t uuid[16], uint64_t *st, char *err, size_t errlen)
{
    uint8_t boot[512];
    if (size < sizeof boot) {
        snprintf(err, errlen, "holds no vfat file system (no FAT BIOS parameter block at byte 0)");
        return KHIB_FS_NOT_KIND;
    }
    if (khib_pread_all(fd, boot, sizeof boot, 0, WHAT, err, errlen) != 0)
        return KHIB_FS_ERROR;
    struct fat f = {.fd = fd};
    int rc = fat_bpb(boot, size, &f, err, errlen);
    if (rc != KHIB_FS_OK)
        return rc;
    memcpy(uuid, boot + (f.bits == 32 ? FAT32_OFF_VOL_ID : FAT16_OFF_VOL_ID), 4);
    st[0] = 0;
    if (khib_fsk_hash_region(fd, 0, f.sector, &st[0], err, errlen) != 0 ||
        (f.bits == 32 && khib_fsk_hash_region(fd, (uint64_t)f.info_sector * f.sector, f.sector, &st[0], err, errlen) != 0))
        return KHIB_FS_ERROR;
    f.table = khib_fsk_alloc_or_err((size_t)f.fat_bytes, err, errlen);
    struct fat_walk w = {0};
    w.seen = khib_fsk_alloc_or_err(f.max_cluster / 8 + 1, err, errlen);
    rc = KHIB_FS_ERROR;
    if (f.table && w.seen && khib_pread_all(fd, f.table, (size_t)f.fat_bytes, f.fat_start, WHAT, err, errlen) == 0)
        rc = fat_hash_dirs(&f, &w, err, errlen);
    if (rc == KHIB_FS_OK) {
        st[1] = khib_hash64(f.table, (size_t)f.fat_bytes, 0);
        st[2] = w.hash;
        st[3] = w.bytes;
    }
    free(f.table);
    free(w.seen);
    free(w.todo);
    return rc;
}

int khib_fsk_vfat_diff(const uint64_t *was, const uint64_t *now, char *err, size_t errlen)
{
    if (was[1] != now[1] || was[2] != now[2] || was[3] != now[3])
        snprintf(err, errlen, "was written since the hibernation (its FAT or a directory changed)");
    else
        snprintf(err, errlen, "was written since the hibernation (its boot sector or FSInfo sector changed)");
    return -1;
}
