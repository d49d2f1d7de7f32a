#define _GNU_SOURCE
#include "info.h"

#include <inttypes.h>
#include <string.h>

#include "chunk_codec.h"
#include "fsrecord.h"
#include "seal.h"
#include "uuid.h"

static void line(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%-17s %s\n", name, value);
}

void print_info(FILE *out, const struct khib_image *img)
{
    const struct khib_superblock *sb = &img->sb;
    char v[512], a[40], b[40], c[40];
    line(out, "image:", img->t.path);
    line(out, "state:", khib_state_name(sb->state));
    khib_uuid_format(sb->uuid, v, sizeof v);
    line(out, "uuid:", v);
    khib_fmt_time_ns(sb->created_ns, v, sizeof v);
    line(out, "save started:", v);
    khib_fmt_time_ns(sb->saved_ns, v, sizeof v);
    line(out, "committed:", sb->saved_ns ? v : "-");
    khib_fmt_time_ns(sb->consumed_ns, v, sizeof v);
    line(out, "restored:", sb->consumed_ns ? v : "-");
    if (sb->state == KHIB_STATE_ABANDONED) {
        khib_fmt_time_ns(sb->abandoned_ns, a, sizeof a);
        snprintf(v, sizeof v, "%s (%s)", a, sb->abandon_reason[0] ? sb->abandon_reason : "no reason given");
        line(out, "abandoned:", v);
    }
    if (sb->locked_ns) {
        khib_fmt_time_ns(sb->locked_ns, v, sizeof v);
        line(out, "stayed locked:", v);
    }
    line(out, "host name:", sb->host_name[0] ? sb->host_name : "-");
    line(out, "kernel release:", sb->kernel_release[0] ? sb->kernel_release : "-");
    size_t n = 0;
    for (unsigned i = 0; i < sb->build_id_len && i < KHIB_BUILD_ID_MAX; i++)
        n += (size_t)snprintf(v + n, sizeof v - n, "%02x", sb->build_id[i]);
    line(out, "build id:", sb->build_id_len ? v : "-");
    khib_fmt_size(sb->pages_total * KHIB_PAGE_SIZE, a, sizeof a);
    snprintf(v, sizeof v, "%s in %" PRIu32 " ranges: %" PRIu64 " pages, %" PRIu64 " zero, %" PRIu64 " excluded (free),"
             " %" PRIu64 " stored", a, sb->range_count, sb->pages_total, sb->pages_zero, sb->pages_excluded,
             sb->pages_stored);
    line(out, "memory:", v);
    uint64_t image_bytes = sb->index_offset + sb->index_bytes;
    khib_fmt_size(image_bytes, a, sizeof a);
    khib_fmt_size(sb->data_bytes, b, sizeof b);
    khib_fmt_size(img->t.size, c, sizeof c);
    snprintf(v, sizeof v, "%s (data %s, index %" PRIu64 " bytes at %" PRIu64 "), on a target of %s", a, b,
             sb->index_bytes, sb->index_offset, c);
    line(out, "image size:", sb->index_offset ? v : "- (not complete)");
    if (image_bytes && sb->index_offset) {
        snprintf(v, sizeof v, "%.2f", (double)(sb->pages_total * KHIB_PAGE_SIZE) / (double)image_bytes);
        line(out, "ratio:", v);
    }
    char level[16];
    khib_level_format(sb->level, level, sizeof level);
    snprintf(v, sizeof v, "%" PRIu32 " of up to %" PRIu32 " pages, zstd level %s", sb->chunk_count,
             sb->chunk_pages, level);
    line(out, "chunks:", v);
    snprintf(v, sizeof v, "%s%s", khib_cipher_name(sb->cipher), sb->cipher ? " (docs/encryption.md)" : "");
    line(out, "encryption:", v);
    snprintf(v, sizeof v, "%" PRIu64, sb->data_offset);
    line(out, "data offset:", v);
    snprintf(v, sizeof v, "first block at device byte %" PRIu64 ", %" PRIu32 " extents (docs/file-target.md)",
             sb->file_base, sb->extmap_count);
    line(out, "image file:", sb->extmap_count ? v : "- (a partition)");
    snprintf(v, sizeof v, "[0x%" PRIx64 ", 0x%" PRIx64 ")", sb->window_start, sb->window_start + sb->window_size);
    line(out, "window:", v);
    snprintf(v, sizeof v, "0x%" PRIx64, sb->jump_back_entry);
    line(out, "jump-back entry:", sb->jump_back_entry ? v : "- (none)");
    snprintf(v, sizeof v, "0x%" PRIx64 " (nonce 0x%016" PRIx64 ")", sb->mailbox_addr, sb->mailbox_nonce);
    line(out, "mailbox:", sb->mailbox_addr ? v : "- (none)");
    snprintf(v, sizeof v, "0x%016" PRIx64, sb->memmap_digest);
    line(out, "memmap digest:", v);
    for (uint32_t i = 0; i < sb->fs_count; i++) {
        const struct khib_fs_record *r = &sb->fs[i];
        char what[200];
        khib_fs_describe(r, what, sizeof what);
        khib_uuid_format(r->uuid, a, sizeof a);
        n = (size_t)snprintf(v, sizeof v, "%s%s, UUID %s, state", what + strlen("the file system at "),
                             r->flags & KHIB_FSREC_RDONLY ? " read-only" : "", a);
        for (unsigned k = 0; k < KHIB_FS_STATE_WORDS && n < sizeof v; k++)
            n += (size_t)snprintf(v + n, sizeof v - n, " %" PRIx64, r->state[k]);
        line(out, "file system:", v);
    }
}
