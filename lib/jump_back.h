/* The way back to the saved system A: from B after a test save or a failed
 * save (khib-save --return), and from R after a restore (khib-restore
 * --jump).  The outcome goes into A's mailbox (mailbox_post.h: B's when
 * its save ends, R's just before the jump); a kexec image whose entry is
 * A's jump-back entry is loaded (kexec_jump.h), whatever must happen just
 * before the jump is done, and the machine jumps. */
#ifndef KHIB_JUMP_BACK_H
#define KHIB_JUMP_BACK_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"
#include "image_codec.h"

/* A report for A's mailbox about the image sb describes: status, its uuid,
 * when it was saved, how long the save took, its size. */
void khib_mailbox_report(const struct khib_superblock *sb, uint32_t status, struct khib_mailbox *m);

/* Results of khib_jump_back besides 0 (only in the saved kernel, when it is
 * jumped back into). */
#define KHIB_JB_LOAD   (-1)   /* the jump could not be loaded: nothing happened */
#define KHIB_JB_BEFORE (-2)   /* before() failed: the jump was unloaded */
#define KHIB_JB_JUMP   (-3)   /* the jump itself failed */

/* Load the jump to entry (its page read through memdev), call before(ctx)
 * when not NULL (nonzero: unload and stop), and jump.  Returns only when
 * the jump did not happen, with err (before()'s own message is its own). */
int khib_jump_back(const char *memdev, uint64_t entry, int (*before)(void *ctx), void *ctx, char *err,
                   size_t errlen);

#endif
