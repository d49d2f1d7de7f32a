/* Writing the outcome into the saved kernel's mailbox page through /dev/mem,
 * and reading one physical page: shared by B (khib-save --report) and R
 * (restore). */
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

/* The same in two steps, for a report that may have to be made from a
 * signal handler: khib_mailbox_open maps and checks the page (0 or -1 with
 * err); khib_mailbox_store only stores into the mapping. */
struct khib_mailbox_page {
    unsigned char *p;
    struct khib_mailbox m;     /* magic and nonce as found */
};
int khib_mailbox_open(struct khib_mailbox_page *mp, const char *memdev, uint64_t addr, const uint64_t *nonce,
                      char *err, size_t errlen);
void khib_mailbox_store(struct khib_mailbox_page *mp, const struct khib_mailbox *update);
void khib_mailbox_close(struct khib_mailbox_page *mp);

/* Copy the 4 KiB page containing addr into page.  Returns 0 or -1 with err. */
int khib_read_phys_page(const char *memdev, uint64_t addr, void *page, char *err, size_t errlen);

#endif
