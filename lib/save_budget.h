/* What khib-save allocates for its pipeline, besides the chunk table: the
 * one count that khib-save prints when it starts (saver/save.c) and that
 * `khib check` puts into the window's need (frontend/window_need.c). */
#ifndef KHIB_SAVE_BUDGET_H
#define KHIB_SAVE_BUDGET_H

#include <stddef.h>

/* The writer's buffers (saver/writer.c): one filled while the other is
 * written, each one whole write. */
#define KHIB_WRITER_BUFFER  (8u << 20)
#define KHIB_WRITER_BUFFERS 2u

/* Frame slots between the workers and the writer. */
static inline unsigned khib_save_slots(unsigned threads)
{
    return 2 * threads + 4;
}

/* Bytes of the frame slots, the workers' coders at zstd level `level` and,
 * with `bounce` (the input is read, not mapped whole), their 1 MiB buffers,
 * and the writer's buffers. */
size_t khib_save_buffers(unsigned threads, int level, int bounce);

#endif
