/* Run a program and wait for it. */
#ifndef KHIB_RUN_H
#define KHIB_RUN_H

#include <stddef.h>

/* Run argv[0] with argv (NULL-terminated, argv[0] a path), stdin and stderr
 * inherited.  With out, its standard output goes there (at most outlen - 1
 * bytes kept, NUL-terminated), else it is inherited too.  Returns its exit
 * status, 128 + the signal that killed it, 127 when it could not be run
 * (the child says why on stderr), or -1 (errno) when no child could be
 * made. */
int run_program(char *const argv[], char *out, size_t outlen);

#endif
