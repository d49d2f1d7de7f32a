#define _GNU_SOURCE
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_codec.h"
#include "progress.h"
#include "uuid.h"

#define PROG "khib-restore"

/* 1 when path's first 4 KiB hold a COMMITTED image; its line printed for any
 * khib superblock. */
static int scan_one(FILE *out, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, PROG ": --scan: cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    uint8_t buf[KHIB_SB_SIZE];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)sizeof buf) {
        /* Shorter than a superblock: it cannot hold an image. */
        if (n < 0)
            fprintf(stderr, PROG ": --scan: cannot read %s: %s\n", path, strerror(saved));
        return 0;
    }
    struct khib_superblock sb;
    char err[400];
    int rc = khib_superblock_decode(buf, &sb, err, sizeof err);
    if (rc == KHIB_SB_NONE)
        return 0;
    if (rc != KHIB_SB_OK) {
        fprintf(stderr, PROG ": --scan: %s: %s\n", path, err);
        fprintf(out, "%s\tDAMAGED\t-\t-\t-\t-\n", path);
        return 0;
    }
    char when[64], uuid[40];
    khib_fmt_time_ns(sb.saved_ns, when, sizeof when);
    khib_uuid_format(sb.uuid, uuid, sizeof uuid);
    fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", path, khib_state_name(sb.state), sb.host_name[0] ? sb.host_name : "-",
            sb.kernel_release[0] ? sb.kernel_release : "-", sb.saved_ns ? when : "-", uuid);
    return sb.state == KHIB_STATE_COMMITTED;
}

/* A block device worth reading: not a RAM disk, not empty. */
static int candidate(const char *sys_block, const char *name)
{
    if (name[0] == '.' || !strncmp(name, "ram", 3) || !strncmp(name, "zram", 4))
        return 0;
    char path[512], size[32] = "";
    snprintf(path, sizeof path, "%s/%s/size", sys_block, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int ok = fgets(size, sizeof size, f) && strtoull(size, NULL, 10) > 0;
    fclose(f);
    return ok;
}

int scan_images(FILE *out, char *const *paths, int npaths, const char *sys_block)
{
    int committed = 0;
    for (int i = 0; i < npaths; i++)
        committed += scan_one(out, paths[i]);
    if (npaths)
        return committed;
    struct dirent **names;
    int n = scandir(sys_block, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, PROG ": --scan: cannot list %s: %s\n", sys_block, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (candidate(sys_block, names[i]->d_name)) {
            char dev[300];
            snprintf(dev, sizeof dev, "/dev/%s", names[i]->d_name);
            committed += scan_one(out, dev);
        }
        free(names[i]);
    }
    free(names);
    fflush(out);
    return committed;
}
