#ifndef KHIB_CHECK_H
#define KHIB_CHECK_H

#include "settings.h"

/* Run every precondition of a hibernation, printing one PASS/FAIL line each
 * (with the fix under a FAIL) to stdout when verbose, only the FAILs to
 * stderr otherwise.  Returns the number of failures. */
int run_checks(const struct settings *s, int verbose);

#endif
