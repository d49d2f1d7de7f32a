#include "bootargs.h"

#include <stdio.h>
#include <unistd.h>

#include "target_file.h"

void window_words(uint64_t window, char *out, size_t len)
{
    snprintf(out, len, "nokaslr memmap=exactmap memmap=640K@0 memmap=%lluM@1M",
             (unsigned long long)((window >> 20) - 1));
}

int restore_words(const struct settings *s, char *out, size_t len, char *err, size_t errlen)
{
    if (!s->target[0]) {
        snprintf(err, errlen, "no target= in " KHIB_CONF ": the restore entry needs the image's device");
        return -1;
    }
    char win[128];
    window_words(s->window, win, sizeof win);
    /* Encryption set up: R refuses an image in clear (docs/encryption.md). */
    int encrypted = s->encrypt != ENCRYPT_NO && access(s->public_key, F_OK) == 0;
    /* An image file: its device and the offset of its first block (target_file.h). */
    char offset[48] = "";
    if (target_is_file(s))
        snprintf(offset, sizeof offset, " khib.offset=%llu", (unsigned long long)s->target_offset);
    int n = snprintf(out, len, "%s khib.role=restore khib.image=%s%s khib.normal=reboot%s%s%s", win,
                     target_is_file(s) ? s->target_device : s->target, offset,
                     encrypted ? " khib.encrypted=1" : "", s->restore_append[0] ? " " : "", s->restore_append);
    if (n < 0 || (size_t)n >= len) {
        snprintf(err, errlen, "the restore entry's command line is too long");
        return -1;
    }
    return 0;
}
