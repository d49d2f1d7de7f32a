/* The kexec swap list of A's window pages (kexec_backup.h). */
#include "kexec_backup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

#define PAGE 4096u
#define PAGE_MASK (~(uint64_t)(PAGE - 1))
/* include/linux/kexec.h */
#define IND_DESTINATION 0x1u
#define IND_INDIRECTION 0x2u
#define IND_DONE        0x4u
#define IND_SOURCE      0x8u

static int in_window(const struct khib_backup_map *m, uint64_t addr)
{
    return addr >= m->window_start && (addr - m->window_start) / PAGE < m->window_pages;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse the list from head into m->src (zeroed by the caller).  0 or -1. */
static int parse_list(khib_physread_fn read, void *ctx, uint64_t head, struct khib_backup_map *m, char *err,
                      size_t errlen)
{
    /* Sources: one per window page at most, all distinct. */
    uint64_t *seen = malloc((m->window_pages + 1) * sizeof *seen);
    uint8_t *page = malloc(PAGE);
    uint64_t nseen = 0, dest = UINT64_MAX, max_ind = m->window_pages / 256 + 16;
    int rc = -1;
    if (!seen || !page) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    uint64_t e = head;
    const uint8_t *next = NULL;   /* the entry after e, in page */
    size_t left = 0;              /* entries left in page after e */
    for (;;) {
        uint64_t addr = e & PAGE_MASK, flags = e & ~PAGE_MASK;
        if (flags == IND_INDIRECTION) {
            if (++m->ind_pages > max_ind) {
                snprintf(err, errlen, "more than %" PRIu64 " indirection pages", max_ind);
                goto out;
            }
            if (in_window(m, addr) || read(ctx, addr, page, PAGE) != 0) {
                snprintf(err, errlen, "indirection page 0x%" PRIx64 " is in the window or unreadable", addr);
                goto out;
            }
            next = page;
            left = PAGE / 8;
        } else if (flags == IND_DESTINATION) {
            if (!in_window(m, addr)) {
                snprintf(err, errlen, "destination 0x%" PRIx64 " lies outside the window", addr);
                goto out;
            }
            dest = addr;
        } else if (flags == IND_SOURCE) {
            if (dest == UINT64_MAX || !in_window(m, dest)) {
                snprintf(err, errlen, "source 0x%" PRIx64 " has no destination in the window", addr);
                goto out;
            }
            uint64_t i = (dest - m->window_start) / PAGE;
            if (m->src[i]) {
                snprintf(err, errlen, "window page 0x%" PRIx64 " is a destination twice", dest);
                goto out;
            }
            if (addr == dest) {
                m->src[i] = KHIB_BACKUP_SELF;
                m->self++;
            } else if (in_window(m, addr)) {
                snprintf(err, errlen, "source 0x%" PRIx64 " of 0x%" PRIx64 " lies in the window", addr, dest);
                goto out;
            } else {
                m->src[i] = (addr >> 12) + 1;
                m->copies++;
                seen[nseen++] = addr;
            }
            /* swap_pages: the destination advances a page per source. */
            dest += PAGE;
        } else if (flags == IND_DONE) {
            break;
        } else {
            snprintf(err, errlen, "entry 0x%" PRIx64 " has flags 0x%" PRIx64 ", not one of kexec's", e, flags);
            goto out;
        }
        if (!next || left == 0) {
            snprintf(err, errlen, "the list does not start with an indirection page, or runs off its page");
            goto out;
        }
        e = khib_get64(next);
        next += 8;
        left--;
    }
    if (m->copies == 0) {
        snprintf(err, errlen, "the list copies no window page");
        goto out;
    }
    qsort(seen, nseen, sizeof *seen, cmp_u64);
    for (uint64_t i = 1; i < nseen; i++)
        if (seen[i] == seen[i - 1]) {
            snprintf(err, errlen, "source page 0x%" PRIx64 " is used twice", seen[i]);
            goto out;
        }
    rc = 0;
out:
    free(seen);
    free(page);
    return rc;
}

int khib_backup_map_find(khib_physread_fn read, void *ctx, uint64_t entry, uint64_t window_start,
                         uint64_t window_size, struct khib_backup_map *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (window_start % PAGE || window_size % PAGE || window_size == 0) {
        snprintf(err, errlen, "the window 0x%" PRIx64 "+0x%" PRIx64 " is not page-aligned", window_start,
                 window_size);
        return -1;
    }
    m->window_start = window_start;
    m->window_pages = window_size / PAGE;
    uint64_t cp = entry & PAGE_MASK;
    uint8_t control[PAGE];
    if (!entry || in_window(m, cp) || read(ctx, cp, control, PAGE) != 0) {
        snprintf(err, errlen, "the control page 0x%" PRIx64 " of the jump-back entry is in the window or"
                 " unreadable", cp);
        return -1;
    }
    uint64_t *src = calloc(m->window_pages, sizeof *src);
    if (!src) {
        snprintf(err, errlen, "out of memory for a window of %" PRIu64 " pages", m->window_pages);
        return -1;
    }
    /* When none passes, the reason of the candidate that came furthest. */
    char why[400] = "";
    uint64_t best = 0;
    int found = 0;
    for (uint32_t off = 0; off < PAGE; off += 8) {
        uint64_t v = khib_get64(control + off);
        if ((v & ~PAGE_MASK) != IND_INDIRECTION || (v & PAGE_MASK) == 0)
            continue;
        if (found && v == m->head)
            continue;
        struct khib_backup_map c = {.window_start = m->window_start, .window_pages = m->window_pages, .src = src};
        memset(src, 0, m->window_pages * sizeof *src);
        char cwhy[200];
        if (parse_list(read, ctx, v, &c, cwhy, sizeof cwhy) != 0) {
            uint64_t got = c.ind_pages + c.copies + c.self;
            if (!why[0] || got >= best) {
                best = got;
                snprintf(why, sizeof why, "the word 0x%" PRIx64 " at byte 0x%" PRIx32 ": %s", v, off, cwhy);
            }
            continue;
        }
        if (found) {
            snprintf(err, errlen, "two kexec page lists in the control page 0x%" PRIx64 " (heads 0x%" PRIx64
                     " and 0x%" PRIx64 ")", cp, m->head, v);
            free(m->src);
            free(src);
            m->src = NULL;
            return -1;
        }
        found = 1;
        c.head = v;
        c.head_offset = off;
        c.src = malloc(m->window_pages * sizeof *src);
        if (!c.src) {
            free(src);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(c.src, src, m->window_pages * sizeof *src);
        *m = c;
    }
    free(src);
    if (!found) {
        snprintf(err, errlen, "no kexec page list in the control page 0x%" PRIx64 "%s%s", cp, why[0] ? ": " : "",
                 why);
        return -1;
    }
    return 0;
}

void khib_backup_map_free(struct khib_backup_map *m)
{
    free(m->src);
    m->src = NULL;
}

int khib_backup_read(void *reader, uint64_t paddr, void *buf, size_t len)
{
    struct khib_backup_reader *r = reader;
    const struct khib_backup_map *m = r->map;
    uint8_t *out = buf;
    while (len > 0) {
        size_t n = len;
        uint64_t at = paddr;
        if (in_window(m, paddr)) {
            uint64_t s = m->src[(paddr - m->window_start) / PAGE];
            if (!s || s == KHIB_BACKUP_SELF)
                return -1;
            n = PAGE - (size_t)(paddr % PAGE);
            if (n > len)
                n = len;
            at = ((s - 1) << 12) | (paddr % PAGE);
            r->redirected++;
        } else if (paddr < m->window_start && paddr + len > m->window_start) {
            n = (size_t)(m->window_start - paddr);
        }
        if (r->raw(r->raw_ctx, at, out, n) != 0)
            return -1;
        out += n;
        paddr += n;
        len -= n;
    }
    return 0;
}
