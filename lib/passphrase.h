/* A passphrase, as R and khib setup-encryption ask for it
 * (docs/encryption.md): on a terminal (echo off, one '*' per character,
 * backspace, Enter), or, for tests, one line per answer from a file
 * descriptor.  Each answer must come within a timeout. */
#ifndef KHIB_PASSPHRASE_H
#define KHIB_PASSPHRASE_H

#include <stddef.h>
#include <termios.h>

#define PASSPHRASE_MAX 256u

struct passphrase_source {
    int fd;
    int own;                  /* fd opened here (the console) */
    int tty;                  /* a terminal: its settings are changed while reading */
    struct termios saved;
    unsigned timeout_s;       /* 0: none */
};

/* From fd (>= 0), else the terminal at console (NULL: /dev/tty, else
 * /dev/console).  0 or -1 with err. */
int passphrase_open(struct passphrase_source *ps, const char *console, int fd, unsigned timeout_s, char *err,
                    size_t errlen);

/* Print prompt (on a terminal) and read one passphrase into buf (locked
 * memory of PASSPHRASE_MAX bytes; NUL-terminated; *len bytes).  0; 1 when
 * none came (end of input, Ctrl-C or Ctrl-D, the timeout: the reason in
 * err); -1 with err. */
int passphrase_read(struct passphrase_source *ps, const char *prompt, char *buf, size_t *len, char *err,
                    size_t errlen);

/* Say something to whoever types (the terminal; stderr otherwise). */
void passphrase_say(const struct passphrase_source *ps, const char *msg);

void passphrase_close(struct passphrase_source *ps);

#endif
