#ifndef KHIB_HIBERNATE_H
#define KHIB_HIBERNATE_H

#include "settings.h"

/* Returns the exit status of `khib hibernate`: 0 saved (test) or resumed,
 * 3 refused before the jump, 4 the save failed in B, 5 no report. */
int khib_hibernate(const struct settings *s);

#endif
