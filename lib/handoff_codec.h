/* Encoding and decoding of handoff.h: the khib note (in the ELF core header
 * A gives B) and the mailbox page. */
#ifndef KHIB_HANDOFF_CODEC_H
#define KHIB_HANDOFF_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"
#include "uuid.h"

/* Write the note's descriptor: KHIB_NOTE_SIZE bytes. */
void khib_note_encode(const struct khib_note *n, void *buf);

/* Decode a descriptor of len bytes (>= KHIB_NOTE_SIZE) and check it: version,
 * counts, NUL-terminated strings, page-aligned addresses.  Returns 0 or -1. */
int khib_note_decode(const void *buf, size_t len, struct khib_note *n, char *err, size_t errlen);

/* Write the first KHIB_MAILBOX_SIZE bytes of a mailbox page (the rest of the
 * page is left alone); the message is always NUL-terminated. */
void khib_mailbox_encode(const struct khib_mailbox *m, void *page);

/* Decode the first KHIB_MAILBOX_SIZE bytes; the caller checks magic and nonce. */
void khib_mailbox_decode(const void *page, struct khib_mailbox *m);

#endif
