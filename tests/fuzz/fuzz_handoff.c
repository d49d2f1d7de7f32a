/* (e) The handoff structures: khib_note_decode on the input (a note
 * descriptor), khib_mailbox_decode on its first page (zero-padded), and
 * khib_mailbox_post / khib_read_phys_page on that page through a memfd standing
 * in for /dev/mem, as khib-restore and khib jump-back report in the saved
 * system's mailbox. */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

#include "handoff_codec.h"
#include "mailbox_post.h"

static int memfd = -1;

static void note(const uint8_t *data, size_t size)
{
    struct khib_note n, n2;
    char err[400];
    err[0] = 0;
    if (khib_note_decode(data, size, &n, err, sizeof err) != 0) {
        khib_fuzz_assert(err[0] != 0);
        return;
    }
    khib_fuzz_assert(size >= KHIB_NOTE_SIZE && n.version == KHIB_NOTE_VERSION);
    khib_fuzz_assert(n.fs_count <= KHIB_FS_MAX && n.build_id_len <= KHIB_BUILD_ID_MAX);
    khib_fuzz_assert(strlen(n.kernel_release) < KHIB_RELEASE_LEN && strlen(n.target) < KHIB_TARGET_LEN);
    for (uint32_t i = 0; i < n.fs_count; i++)
        khib_fuzz_assert(n.fs[i].dev[0] && strnlen(n.fs[i].dev, KHIB_FS_DEV_LEN) < KHIB_FS_DEV_LEN &&
                         n.fs[i].kind >= KHIB_FS_EXT && n.fs[i].kind <= KHIB_FS_VFAT);
    khib_fuzz_assert((n.mailbox_addr | n.window_start | n.window_size) % 4096 == 0);
    khib_fuzz_assert(n.window_size <= UINT64_MAX - n.window_start);
    /* Encoding what was decoded gives a note that decodes and encodes the same. */
    uint8_t e1[KHIB_NOTE_SIZE], e2[KHIB_NOTE_SIZE];
    khib_note_encode(&n, e1);
    khib_fuzz_assert(khib_note_decode(e1, sizeof e1, &n2, err, sizeof err) == 0);
    khib_note_encode(&n2, e2);
    khib_fuzz_assert(memcmp(e1, e2, sizeof e1) == 0);
    khib_fuzz_assert(strcmp(n.kernel_release, n2.kernel_release) == 0 && strcmp(n.target, n2.target) == 0);
}

static void mailbox(const uint8_t *page)
{
    struct khib_mailbox m, m2;
    khib_mailbox_decode(page, &m);
    khib_fuzz_assert(memchr(m.msg, 0, sizeof m.msg) != NULL);
    uint8_t p2[4096];
    memset(p2, 0, sizeof p2);
    khib_mailbox_encode(&m, p2);
    /* All but the message's last byte, always written NUL. */
    khib_fuzz_assert(memcmp(p2, page, 80 + KHIB_MAILBOX_MSG_LEN - 1) == 0 &&
                     memcmp(p2 + 80 + KHIB_MAILBOX_MSG_LEN, page + 80 + KHIB_MAILBOX_MSG_LEN,
                            KHIB_MAILBOX_SIZE - 80 - KHIB_MAILBOX_MSG_LEN) == 0);
    khib_mailbox_decode(p2, &m2);
    khib_fuzz_assert(memcmp(m.magic, m2.magic, 8) == 0 && m.nonce == m2.nonce && m.status == m2.status &&
                     strcmp(m.msg, m2.msg) == 0);

    /* Post a report into the page as khib-restore does, with the page's own
     * nonce and with another one. */
    char path[64], err[400];
    if (khib_fuzz_memfd(&memfd, page, 4096, path, sizeof path) != 0)
        return;
    uint8_t back[4096];
    if (khib_read_phys_page(path, 0, back, err, sizeof err) != 0)
        return;
    khib_fuzz_assert(memcmp(back, page, sizeof back) == 0);
    struct khib_mailbox upd;
    memset(&upd, 0xa5, sizeof upd);
    upd.status = KHIB_MBX_RESTORED;
    uint64_t other = m.nonce ^ 1;
    int valid = memcmp(m.magic, KHIB_MAILBOX_MAGIC, 8) == 0;
    khib_fuzz_assert((khib_mailbox_post(path, 0, &other, &upd, err, sizeof err) == 0) == 0);
    khib_fuzz_assert(khib_read_phys_page(path, 0, back, err, sizeof err) == 0 &&
                     memcmp(back, page, sizeof back) == 0);   /* refused: untouched */
    khib_fuzz_assert((khib_mailbox_post(path, 0, &m.nonce, &upd, err, sizeof err) == 0) == valid);
    khib_fuzz_assert(khib_read_phys_page(path, 0, back, err, sizeof err) == 0);
    if (!valid) {
        khib_fuzz_assert(memcmp(back, page, sizeof back) == 0);
        return;
    }
    struct khib_mailbox got;
    khib_mailbox_decode(back, &got);
    khib_fuzz_assert(memcmp(got.magic, KHIB_MAILBOX_MAGIC, 8) == 0 && got.nonce == m.nonce &&
                     got.status == KHIB_MBX_RESTORED && strlen(got.msg) == KHIB_MAILBOX_MSG_LEN - 1);
    khib_fuzz_assert(memcmp(back + KHIB_MAILBOX_SIZE, page + KHIB_MAILBOX_SIZE, 4096 - KHIB_MAILBOX_SIZE) == 0);
}

int khib_fuzz_handoff(const uint8_t *data, size_t size)
{
    note(data, size);
    uint8_t page[4096];
    memset(page, 0, sizeof page);
    memcpy(page, data, size < sizeof page ? size : sizeof page);
    mailbox(page);
    return 0;
}
