#ifndef KHIB_RETIRE_H
#define KHIB_RETIRE_H

#include "settings.h"

/* `khib retire`: mark a committed image on the target ABANDONED, saying so
 * in one line; silent when there is none.  Returns 0 (retired, or nothing to
 * retire), 2 when the target cannot be written, 3 when none is configured. */
int khib_retire(const struct settings *s, const char *reason);

#endif
