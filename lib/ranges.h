/* A bounded list of physical page ranges: A's RAM outside the window, as
 * `khib hibernate` finds it (memmap.c) and describes it (elfcore.c). */
#ifndef KHIB_RANGES_H
#define KHIB_RANGES_H

#include <stdint.h>

#include "image_format.h"

#define KHIB_RANGE_LIST_MAX 512u

struct khib_range_list {
    uint32_t count;
    uint64_t total_pages;
    struct khib_range range[KHIB_RANGE_LIST_MAX]; /* sorted, non-overlapping */
};

#endif
