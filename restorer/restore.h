/* Writing every chunk's pages back to their physical addresses. */
#ifndef KHIB_RESTORE_RESTORE_H
#define KHIB_RESTORE_RESTORE_H

#include <stddef.h>

#include "image.h"
#include "physmem.h"

#define RESTORE_MEM_ERROR (-4)   /* the destination memory could not be mapped */

/* Decompress, check and write every chunk of img (index loaded) through dst.
 * Returns KHIB_IMG_OK, KHIB_IMG_BAD (a chunk failed: err names it; what was
 * written before it stays), KHIB_IMG_IO or RESTORE_MEM_ERROR. */
int restore_memory(struct khib_image *img, struct khib_physmem *dst, struct khib_progress *prog, char *err,
                   size_t errlen);

#endif
