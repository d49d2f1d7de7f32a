#define _GNU_SOURCE
#include "fsrecord.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsstate.h"
#include "uuid.h"

/* How long a device named in a record may take to appear: the kernel probes
 * some disks (USB, NVMe behind some controllers) after /init has started. */
#define APPEAR_MS 10000

#define FOUND 1
#define NOT_HERE 0
#define CANNOT (-1)

void khib_fs_describe(const struct khib_fs_record *rec, char *buf, size_t len)
{
    snprintf(buf, len, "the file system at %.*s (%s on %.*s)", (int)KHIB_FS_MNT_LEN, rec->mnt,
             khib_fs_kind_name(rec->kind), (int)KHIB_FS_DEV_LEN, rec->dev);
}

static void dev_path(const char *dev, char *path, size_t len)
{
    snprintf(path, len, "%s%.*s", dev[0] == '/' ? "" : "/dev/", (int)KHIB_FS_DEV_LEN, dev);
}

static int device_bytes(int fd, uint64_t *bytes)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if (S_ISREG(st.st_mode)) {
        *bytes = (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISBLK(st.st_mode)) {
        errno = ENOTBLK;
        return -1;
    }
    return ioctl(fd, BLKGETSIZE64, bytes);
}

/* Is the file system of rec on path?  FOUND (state taken), NOT_HERE or
 * CANNOT (it may be, but cannot be read), each with why. */
static int match(const struct khib_fs_record *rec, const char *path, uint64_t state[KHIB_FS_STATE_WORDS], char *why,
                 size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return NOT_HERE;
    }
    uint64_t bytes;
    if (device_bytes(fd, &bytes) != 0) {
        snprintf(why, whylen, "cannot get the size of %s: %s", path, strerror(errno));
        close(fd);
        return CANNOT;
    }
    if (rec->dev_bytes && bytes != rec->dev_bytes) {
        snprintf(why, whylen, "%s holds %" PRIu64 " bytes, the hibernated system's device %" PRIu64, path, bytes,
                 rec->dev_bytes);
        close(fd);
        return NOT_HERE;
    }
    uint8_t uuid[16];
    char w[300];
    int rc = khib_fs_probe(fd, rec->kind, uuid, state, w, sizeof w);
    close(fd);
    if (rc != KHIB_FS_OK) {
        snprintf(why, whylen, "%s: %s", path, w);
        return rc == KHIB_FS_NOT_KIND ? NOT_HERE : CANNOT;
    }
    if (memcmp(uuid, rec->uuid, 16) != 0) {
        char a[40], b[40];
        khib_uuid_format(uuid, a, sizeof a);
        khib_uuid_format(rec->uuid, b, sizeof b);
        snprintf(why, whylen, "%s holds another %s file system (UUID %s, the hibernated system's %s): wrong disk,"
                 " or it was reformatted", path, khib_fs_kind_name(rec->kind), a, b);
        return NOT_HERE;
    }
    return FOUND;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The one block device other than rec->dev of rec's size that holds its
 * file system: disks may be named in another order by another kernel. */
static int scan(const struct khib_fs_record *rec, char name[KHIB_FS_DEV_LEN], uint64_t state[KHIB_FS_STATE_WORDS],
                char *why, size_t whylen)
{
    DIR *d = opendir("/sys/class/block");
    if (!d)
        return NOT_HERE;
    int found = 0;
    char names[200] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= KHIB_FS_DEV_LEN || !strcmp(e->d_name, rec->dev))
            continue;
        char path[300], w[400];
        unsigned long long sectors = 0;
        snprintf(path, sizeof path, "/sys/class/block/%s/size", e->d_name);
        FILE *f = fopen(path, "r");
        int sized = f && fscanf(f, "%llu", &sectors) == 1 && sectors * 512 == rec->dev_bytes;
        if (f)
            fclose(f);
        uint64_t st[KHIB_FS_STATE_WORDS];
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        if (!sized || match(rec, path, st, w, sizeof w) != FOUND)
            continue;
        if (found++ == 0) {
            snprintf(name, KHIB_FS_DEV_LEN, "%s", e->d_name);
            memcpy(state, st, sizeof st);
        }
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", e->d_name);
    }
    closedir(d);
    if (found > 1) {
        snprintf(why, whylen, "%d block devices hold it (%s): cannot tell which one it is", found, names);
        return CANNOT;
    }
    return found ? FOUND : NOT_HERE;
}

/* Find rec's file system here: FOUND with name and state, else why. */
static int locate(const struct khib_fs_record *rec, char name[KHIB_FS_DEV_LEN], uint64_t state[KHIB_FS_STATE_WORDS],
                  char *why, size_t whylen)
{
    char path[KHIB_FS_DEV_LEN + 8];
    dev_path(rec->dev, path, sizeof path);
    for (int waited = 0; rec->dev[0] != '/' && access(path, F_OK) != 0 && waited < APPEAR_MS; waited += 100)
        sleep_ms(100);
    int rc = match(rec, path, state, why, whylen);
    if (rc == FOUND)
        snprintf(name, KHIB_FS_DEV_LEN, "%.*s", (int)KHIB_FS_DEV_LEN - 1, rec->dev);
    if (rc != NOT_HERE || rec->dev[0] == '/')
        return rc;
    char w[300];
    rc = scan(rec, name, state, w, sizeof w);
    if (rc == CANNOT)
        snprintf(why, whylen, "%s", w);
    return rc;
}

int khib_fs_take(struct khib_fs_record *rec, char *err, size_t errlen)
{
    char what[200], why[500], name[KHIB_FS_DEV_LEN];
    khib_fs_describe(rec, what, sizeof what);
    if (locate(rec, name, rec->state, why, sizeof why) != FOUND) {
        snprintf(err, errlen, "cannot record the state of %s: %s; a resume could not tell whether it changed", what,
                 why);
        return -1;
    }
    memset(rec->dev, 0, sizeof rec->dev);
    memcpy(rec->dev, name, strlen(name));
    return 0;
}

int khib_fs_check(const struct khib_fs_record *rec, char *err, size_t errlen)
{
    char what[200], why[500], name[KHIB_FS_DEV_LEN];
    uint64_t now[KHIB_FS_STATE_WORDS];
    khib_fs_describe(rec, what, sizeof what);
    if (locate(rec, name, now, why, sizeof why) != FOUND) {
        snprintf(err, errlen, "cannot check %s, which the hibernated system had mounted: %s; resuming without that"
                 " check could corrupt it", what, why);
        return -1;
    }
    if (khib_fs_state_diff(rec->kind, rec->state, now, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s %s; resuming would corrupt it", what, why);
        return -1;
    }
    return 0;
}
