/* Kernel command-line words of the transient kernel B and of the restore
 * kernel R's boot entry (the GRUB script 45_khib prints the latter through
 * `khib boot-args`, so that the entry and khib hibernate agree). */
#ifndef KHIB_BOOTARGS_H
#define KHIB_BOOTARGS_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* Confine a kernel to the window [0, W): "nokaslr memmap=exactmap
 * memmap=640K@0 memmap=<W-1M>M@1M".  nokaslr: the decompressor's KASLR
 * (arch/x86/boot/compressed/kaslr.c) does not honour memmap=exactmap and
 * may place the kernel outside the window.  The window starts at 0 so that
 * the kernel's real-mode trampoline, reserved low (arch/x86/realmode/init.c),
 * lands in memory the kexec swap backs up (docs/architecture.md). */
void window_words(uint64_t window, char *out, size_t len);

/* R's words: the window's, "khib.role=restore khib.image=TARGET
 * khib.normal=reboot" (initramfs/init), then restore-append=.  Returns 0,
 * or -1 with err when no target is configured or the words do not fit. */
int restore_words(const struct settings *s, char *out, size_t len, char *err, size_t errlen);

#endif
