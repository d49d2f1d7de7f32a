/* The jump back into a saved kernel: used by B (test mode, failures) and by R
 * (after a restore). */
#ifndef KHIB_KEXEC_JUMP_H
#define KHIB_KEXEC_JUMP_H

#include <stddef.h>
#include <stdint.h>

/* Load a preserve-context kexec image whose entry is the saved kernel's
 * jump-back entry.  page must hold the current contents of the 4 KiB page
 * containing entry (read from memory just before).  Returns 0, or -1 with
 * err filled. */
int khib_kexec_jump_load(uint64_t entry, const void *page, char *err, size_t errlen);

/* Execute the loaded image: reboot(LINUX_REBOOT_CMD_KEXEC).  Returns only if
 * the jump failed, or (in the saved kernel) when the peer jumped back; 0 in
 * the latter case, -1 with err filled in the former. */
int khib_kexec_reboot(char *err, size_t errlen);

/* Unload whatever kexec image is loaded (frees the kernel's copy). */
int khib_kexec_unload(char *err, size_t errlen);

#endif
