/* Changing an image's state in place: the last step of the commit protocol
 * (WRITING -> COMMITTED), and COMMITTED -> CONSUMED before a resume or after
 * a test snapshot. */
#ifndef KHIB_IMAGE_STATE_H
#define KHIB_IMAGE_STATE_H

#include <stddef.h>
#include <stdint.h>

/* Read the superblock of fd, check that it names image uuid (when uuid is not
 * NULL) and is in state `from`, rewrite it in state `to`, fdatasync.  Returns
 * 0, or -1 with err (the image is then unchanged). */
int khib_image_set_state(int fd, const uint8_t *uuid, uint32_t from, uint32_t to, char *err,
                         size_t errlen);

#endif
