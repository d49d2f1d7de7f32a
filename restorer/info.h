#ifndef KHIB_RESTORE_INFO_H
#define KHIB_RESTORE_INFO_H

#include <stdio.h>

#include "image.h"

/* The superblock of img, human-readable, one "name: value" line each. */
void print_info(FILE *out, const struct khib_image *img);

#endif
