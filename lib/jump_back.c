#define _GNU_SOURCE
#include "jump_back.h"

#include <stdio.h>
#include <string.h>

#include "image_format.h"
#include "kexec_jump.h"
#include "mailbox_post.h"

void khib_mailbox_report(const struct khib_superblock *sb, uint32_t status, struct khib_mailbox *m)
{
    memset(m, 0, sizeof *m);
    m->status = status;
    memcpy(m->image_uuid, sb->uuid, 16);
    m->saved_ns = sb->saved_ns;
    m->save_ms = sb->saved_ns > sb->created_ns ? (sb->saved_ns - sb->created_ns) / 1000000 : 0;
    m->image_bytes = sb->index_offset + sb->index_bytes;
}

int khib_jump_back(const char *memdev, uint64_t entry, int (*before)(void *ctx), void *ctx, char *err,
                   size_t errlen)
{
    unsigned char page[KHIB_PAGE_SIZE];
    if (khib_read_phys_page(memdev, entry, page, err, errlen) != 0 ||
        khib_kexec_jump_load(entry, page, err, errlen) != 0)
        return KHIB_JB_LOAD;
    if (before && before(ctx) != 0) {
        char why[200];
        if (khib_kexec_unload(why, sizeof why) != 0)
            snprintf(err, errlen, "%s", why);
        else if (errlen)
            err[0] = 0;
        return KHIB_JB_BEFORE;
    }
    if (khib_kexec_reboot(err, errlen) != 0)
        return KHIB_JB_JUMP;
    snprintf(err, errlen, "reboot(LINUX_REBOOT_CMD_KEXEC) returned");
    return KHIB_JB_JUMP;
}
