/* Writing the outcome into the saved kernel's mailbox page through /dev/mem,
 * and reading one physical page: shared by B (jump-back) and R (restore). */
#ifndef KHIB_MAILBOX_POST_H
#define KHIB_MAILBOX_POST_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"

/* Map the page at addr of memdev, check the mailbox magic (and, when nonce
 * is not NULL, the nonce), then store update's status, message, image uuid
 * and figures (magic and nonce are kept).  Returns 0 or -1 with err. */
int khib_mailbox_post(const char *memdev, uint64_t addr, const uint64_t *nonce,
                      const struct khib_mailbox *update, char *err, size_t errlen);

/* Copy the 4 KiB page containing addr into page.  Returns 0 or -1 with err. */
int khib_read_phys_page(const char *memdev, uint64_t addr, void *page, char *err, size_t errlen);

#endif
