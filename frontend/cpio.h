/* A minimal writer of "newc" cpio archives: enough to append khib's handoff
 * files to the transient kernel's initramfs (the kernel unpacks concatenated
 * archives in order, init/initramfs.c). */
#ifndef KHIB_CPIO_H
#define KHIB_CPIO_H

#include <stddef.h>
#include <stdio.h>

/* Append a directory entry, a regular file, and the trailer.  Return 0, or -1
 * with errno set by the failing write. */
int cpio_add_dir(FILE *out, const char *name, unsigned ino);
int cpio_add_file(FILE *out, const char *name, unsigned ino, const void *data, size_t len);
int cpio_finish(FILE *out);

#endif
