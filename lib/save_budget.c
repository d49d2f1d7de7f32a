#include "save_budget.h"

#include "chunk_codec.h"
#include "image_format.h"

size_t khib_save_buffers(unsigned threads, int level, int bounce)
{
    return (size_t)khib_save_slots(threads) * (khib_frame_bound() + KHIB_SEAL_OVERHEAD) +
           (size_t)threads * (khib_coder_mem(level) + (bounce ? KHIB_CHUNK_RAW_MAX : 0)) +
           (size_t)KHIB_WRITER_BUFFERS * KHIB_WRITER_BUFFER;
}
