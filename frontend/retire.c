#include "retire.h"

#include <stdio.h>

#include "image.h"
#include "target_file.h"
#include "uuid.h"

int khib_retire(const struct settings *s, const char *reason)
{
    if (!s->target[0]) {
        fprintf(stderr, "khib retire: no image target configured (target= in " KHIB_CONF ", or --target DEV)\n");
        return 3;
    }
    char err[600], uuid[40];
    uint8_t id[16];
    uint64_t offset;
    const char *where = image_location(s, &offset);
    int rc = khib_image_abandon_at(where, offset, reason, id, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "khib retire: cannot abandon the image on %s: %s\n", s->target, err);
        return 2;
    }
    if (rc > 0) {
        khib_uuid_format(id, uuid, sizeof uuid);
        printf("khib: image %s on %s abandoned: %s; it will never be restored\n", uuid, s->target, reason);
    }
    return 0;
}
