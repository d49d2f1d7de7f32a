/* The test of a wrong exclusion (issue 17): every page an image marks
 * excluded (free in the saved kernel) filled with a poison pattern before
 * the saved kernel runs again, by khib-save --poison-excluded (a test save,
 * before the jump back) and khib-restore --poison-excluded (before the jump
 * into the restored kernel).  A page that was excluded but not free then
 * holds the pattern where the saved kernel expects its data, and the
 * resumed system fails visibly.  Test-only: a correct exclusion makes the
 * poison harmless, and it costs a write of every excluded page. */
#ifndef KHIB_POISON_H
#define KHIB_POISON_H

#include <stddef.h>
#include <stdint.h>

#include "image_format.h"
#include "physmem.h"

/* Each 8-byte word of a poisoned page: KHIB_POISON_WORD ^ pfn. */
#define KHIB_POISON_WORD 0x4e4f53494f50424bull   /* "KBPOISON" */

void khib_poison_page(void *page, uint64_t pfn);
int khib_page_is_poison(const void *page, uint64_t pfn);

/* Fill the excluded pages of chunks[0..n) through pm (writable).  Returns
 * the pages poisoned, or -1 with err. */
int64_t khib_poison_excluded(struct khib_physmem *pm, const struct khib_chunk *chunks, uint32_t n, char *err,
                             size_t errlen);

#endif
