#include "cpio.h"

#include <string.h>

static int pad4(FILE *out, size_t written)
{
    static const char zeros[4];
    size_t pad = (4 - written % 4) % 4;
    return fwrite(zeros, 1, pad, out) == pad ? 0 : -1;
}

static int entry(FILE *out, const char *name, unsigned ino, unsigned mode,
                 const void *data, size_t len)
{
    size_t namesize = strlen(name) + 1;
    int n = fprintf(out, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
                    ino, mode, 0u, 0u, 1u, 0u, len, 0u, 0u, 0u, 0u, namesize, 0u);
    if (n != 110 || fwrite(name, 1, namesize, out) != namesize || pad4(out, 110 + namesize))
        return -1;
    if (len && (fwrite(data, 1, len, out) != len || pad4(out, len)))
        return -1;
    return 0;
}

int cpio_add_dir(FILE *out, const char *name, unsigned ino)
{
    return entry(out, name, ino, 0040755, NULL, 0);
}

int cpio_add_file(FILE *out, const char *name, unsigned ino, const void *data, size_t len)
{
    return entry(out, name, ino, 0100644, data, len);
}

int cpio_finish(FILE *out)
{
    return entry(out, "TRAILER!!!", 0, 0, NULL, 0);
}
