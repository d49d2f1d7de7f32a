/* kexec_load(2) of the one-page "jump back" image.
 *
 * A preserve-context kexec ends in relocate_kernel (relocate_kernel_64.S)
 * with `call *%rdx` to the image's entry; the return address it pushes is the
 * peer's kexec_jump_back_entry.  To return to a saved kernel we load an image
 * whose entry is that address.  No bytes need to be copied, but the image must
 * have one segment covering the entry's page: x86_64 init_pgtable()
 * (machine_kexec_64.c) identity-maps only the running kernel's RAM plus the
 * segments, and a transient or restore kernel confined to the low window has
 * no mapping for the saved kernel's control page.  Since the preserve-context
 * relocation swaps each segment page with its destination, a segment holding
 * a copy of the destination's current contents leaves it unchanged.
 */
#define _GNU_SOURCE
#include "kexec_jump.h"

#include <errno.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int khib_kexec_jump_load(uint64_t entry, const void *page, char *err, size_t errlen)
{
    struct kexec_segment seg = {
        .buf = page,
        .bufsz = 4096,
        .mem = (void *)(uintptr_t)(entry & ~(uint64_t)4095),
        .memsz = 4096,
    };
    if (syscall(SYS_kexec_load, (unsigned long)entry, 1UL, &seg,
                (unsigned long)(KEXEC_PRESERVE_CONTEXT | KEXEC_ARCH_DEFAULT)) != 0) {
        int e = errno;
        snprintf(err, errlen, "kexec_load of the jump-back image (entry 0x%llx) failed: %s%s",
                 (unsigned long long)entry, strerror(e),
                 e == EPERM ? " (needs root, and kexec not disabled by kernel.kexec_load_disabled)"
                 : e == ENOSYS ? " (kernel built without CONFIG_KEXEC)" : "");
        return -1;
    }
    return 0;
}

int khib_kexec_reboot(char *err, size_t errlen)
{
    /* On a successful jump this does not return in this kernel.  In a kernel
     * that made a preserve-context jump, it returns 0 when the peer jumps
     * back (kernel_kexec() in kernel/kexec_core.c). */
    if (syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                LINUX_REBOOT_CMD_KEXEC, NULL) != 0) {
        snprintf(err, errlen, "reboot(LINUX_REBOOT_CMD_KEXEC) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int khib_kexec_unload(char *err, size_t errlen)
{
    if (syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL) != 0) {
        snprintf(err, errlen, "kexec unload failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}
