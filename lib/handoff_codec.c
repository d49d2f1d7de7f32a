#define _GNU_SOURCE
#include "handoff_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "extents.h"
#include "image_codec.h"
#include "le.h"

void khib_note_encode(const struct khib_note *n, void *buf)
{
    uint8_t *p = buf;
    memset(p, 0, KHIB_NOTE_SIZE);
    khib_put32(p, n->version);
    khib_put32(p + 4, n->flags);
    khib_put64(p + 8, n->mailbox_addr);
    khib_put64(p + 16, n->window_start);
    khib_put64(p + 24, n->window_size);
    khib_put64(p + 32, n->memmap_digest);
    khib_put64(p + 40, n->nonce);
    memcpy(p + 48, n->kernel_release, KHIB_RELEASE_LEN);
    p[47 + KHIB_RELEASE_LEN] = 0; /* byte 112: the release is always terminated */
    p[113] = n->build_id_len;
    memcpy(p + 114, n->build_id, KHIB_BUILD_ID_MAX);
    khib_put32(p + 136, (uint32_t)n->level);
    khib_put32(p + 140, n->fs_count);
    memcpy(p + 144, n->target, KHIB_TARGET_LEN);
    p[143 + KHIB_TARGET_LEN] = 0;
    for (unsigned i = 0; i < KHIB_FS_MAX; i++)
        khib_fs_record_encode(&n->fs[i], p + 272 + i * KHIB_FS_RECORD_SIZE);
    memcpy(p + 3600, n->host_name, KHIB_HOST_LEN);
    p[3599 + KHIB_HOST_LEN] = 0;
    khib_put64(p + 3664, n->vmcoreinfo_addr);
    khib_put32(p + 3672, n->vmcoreinfo_size);
    khib_put64(p + 3680, n->file_base);
    khib_put32(p + 3688, n->extent_count);
    khib_put64(p + 3696, n->extmap_checksum);
}

int khib_note_decode(const void *buf, size_t len, struct khib_note *n, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    memset(n, 0, sizeof *n);
    if (len < KHIB_NOTE_SIZE) {
        snprintf(err, errlen, "khib note is %zu bytes long, expected %u", len, KHIB_NOTE_SIZE);
        return -1;
    }
    n->version = khib_get32(p);
    n->flags = khib_get32(p + 4);
    n->mailbox_addr = khib_get64(p + 8);
    n->window_start = khib_get64(p + 16);
    n->window_size = khib_get64(p + 24);
    n->memmap_digest = khib_get64(p + 32);
    n->nonce = khib_get64(p + 40);
    memcpy(n->kernel_release, p + 48, KHIB_RELEASE_LEN);
    n->build_id_len = p[113];
    memcpy(n->build_id, p + 114, KHIB_BUILD_ID_MAX);
    n->level = (int32_t)khib_get32(p + 136);
    n->fs_count = khib_get32(p + 140);
    memcpy(n->target, p + 144, KHIB_TARGET_LEN);
    for (unsigned i = 0; i < KHIB_FS_MAX; i++)
        khib_fs_record_decode(p + 272 + i * KHIB_FS_RECORD_SIZE, &n->fs[i]);
    memcpy(n->host_name, p + 3600, KHIB_HOST_LEN);
    n->vmcoreinfo_addr = khib_get64(p + 3664);
    n->vmcoreinfo_size = khib_get32(p + 3672);
    n->file_base = khib_get64(p + 3680);
    n->extent_count = khib_get32(p + 3688);
    n->extmap_checksum = khib_get64(p + 3696);

    if (n->version != KHIB_NOTE_VERSION) {
        snprintf(err, errlen, "khib note version %" PRIu32 " is not supported (expected %u): "
                 "khib and khib-save come from different versions", n->version, KHIB_NOTE_VERSION);
        return -1;
    }
    if (n->flags & ~KHIB_NOTE_FLAGS) {
        snprintf(err, errlen, "khib note has unknown flags 0x%" PRIx32, n->flags);
        return -1;
    }
    if (n->vmcoreinfo_size > KHIB_VMCOREINFO_NOTE_MAX || (n->vmcoreinfo_size && !n->vmcoreinfo_addr)) {
        snprintf(err, errlen, "khib note VMCOREINFO 0x%" PRIx64 "+%" PRIu32 " is not a VMCOREINFO note (at most %u"
                 " bytes)", n->vmcoreinfo_addr, n->vmcoreinfo_size, KHIB_VMCOREINFO_NOTE_MAX);
        return -1;
    }
    if (n->extent_count ? (n->extent_count > KHIB_EXTMAP_MAX || !n->file_base || n->file_base % KHIB_PAGE_SIZE)
                        : (n->file_base || n->extmap_checksum)) {
        snprintf(err, errlen, "khib note extent fields are inconsistent (%" PRIu32 " extents, file at device byte %"
                 PRIu64 ")", n->extent_count, n->file_base);
        return -1;
    }
    if (!memchr(n->target, 0, KHIB_TARGET_LEN) || !memchr(n->host_name, 0, KHIB_HOST_LEN)) {
        snprintf(err, errlen, "khib note target or host name is not NUL-terminated");
        return -1;
    }
    struct khib_handoff_fields f = {n->window_start, n->window_size, n->mailbox_addr, n->fs_count,
                                    n->build_id_len, n->kernel_release, n->fs};
    return khib_handoff_check("khib note", &f, err, errlen);
}

void khib_mailbox_encode(const struct khib_mailbox *m, void *page)
{
    uint8_t *p = page;
    memcpy(p, m->magic, 8);
    khib_put64(p + 8, m->nonce);
    khib_put32(p + 16, m->status);
    khib_put32(p + 20, m->a_free_pages);
    memcpy(p + 24, m->image_uuid, 16);
    khib_put64(p + 40, m->saved_ns);
    khib_put64(p + 48, m->restored_ns);
    khib_put64(p + 56, m->save_ms);
    khib_put64(p + 64, m->restore_ms);
    khib_put64(p + 72, m->image_bytes);
    memcpy(p + 80, m->msg, KHIB_MAILBOX_MSG_LEN);
    p[80 + KHIB_MAILBOX_MSG_LEN - 1] = 0;
    khib_put32(p + 80 + KHIB_MAILBOX_MSG_LEN, m->a_pcp_pages);
}

void khib_mailbox_decode(const void *page, struct khib_mailbox *m)
{
    const uint8_t *p = page;
    memcpy(m->magic, p, 8);
    m->nonce = khib_get64(p + 8);
    m->status = khib_get32(p + 16);
    m->a_free_pages = khib_get32(p + 20);
    memcpy(m->image_uuid, p + 24, 16);
    m->saved_ns = khib_get64(p + 40);
    m->restored_ns = khib_get64(p + 48);
    m->save_ms = khib_get64(p + 56);
    m->restore_ms = khib_get64(p + 64);
    m->image_bytes = khib_get64(p + 72);
    memcpy(m->msg, p + 80, KHIB_MAILBOX_MSG_LEN);
    m->msg[KHIB_MAILBOX_MSG_LEN - 1] = 0;
    m->a_pcp_pages = khib_get32(p + 80 + KHIB_MAILBOX_MSG_LEN);
}
