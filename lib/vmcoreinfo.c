/* The VMCOREINFO text: parsing and typed look-ups (vmcoreinfo.h). */
#include "vmcoreinfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

int khib_vmcoreinfo_parse(const char *text, size_t len, struct khib_vmcoreinfo *vi, char *err, size_t errlen)
{
    memset(vi, 0, sizeof *vi);
    const char *nul = memchr(text, '\0', len);
    if (nul)
        len = (size_t)(nul - text);
    if (len > KHIB_VMCI_MAX_TEXT) {
        snprintf(err, errlen, "VMCOREINFO: %zu bytes of text, more than %u", len, KHIB_VMCI_MAX_TEXT);
        return -1;
    }
    vi->text = malloc(len + 1);
    vi->entry = calloc(KHIB_VMCI_MAX_ENTRIES, sizeof *vi->entry);
    if (!vi->text || !vi->entry) {
        snprintf(err, errlen, "VMCOREINFO: out of memory");
        khib_vmcoreinfo_free(vi);
        return -1;
    }
    memcpy(vi->text, text, len);
    vi->text[len] = '\0';
    char *p = vi->text, *end = vi->text + len;
    unsigned line = 0;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *eol = '\0';
        if (*p != '\0') {
            char *eq = strchr(p, '=');
            if (!eq || eq == p) {
                snprintf(err, errlen, "VMCOREINFO line %u: %s", line, eq ? "empty key" : "no '='");
                khib_vmcoreinfo_free(vi);
                return -1;
            }
            *eq = '\0';
            if (khib_vmci_get(vi, p)) {
                snprintf(err, errlen, "VMCOREINFO line %u: %s given twice", line, p);
                khib_vmcoreinfo_free(vi);
                return -1;
            }
            if (vi->count == KHIB_VMCI_MAX_ENTRIES) {
                snprintf(err, errlen, "VMCOREINFO: more than %u lines", KHIB_VMCI_MAX_ENTRIES);
                khib_vmcoreinfo_free(vi);
                return -1;
            }
            vi->entry[vi->count].key = p;
            vi->entry[vi->count].value = eq + 1;
            vi->count++;
        }
        p = eol + 1;
    }
    return 0;
}

int khib_vmcoreinfo_from_note(const void *buf, size_t len, struct khib_vmcoreinfo *vi, char *err, size_t errlen)
{
    memset(vi, 0, sizeof *vi);
    const uint8_t *b = buf;
    if (len < 12) {
        snprintf(err, errlen, "VMCOREINFO note: %zu bytes, shorter than a note header", len);
        return -1;
    }
    uint32_t namesz = khib_get32(b), descsz = khib_get32(b + 4);
    uint64_t name_end = 12 + (uint64_t)namesz;
    uint64_t desc_at = 12 + (((uint64_t)namesz + 3) & ~(uint64_t)3);
    if (name_end > len || desc_at + descsz > len) {
        snprintf(err, errlen, "VMCOREINFO note: name %" PRIu32 " and descriptor %" PRIu32 " bytes exceed %zu",
                 namesz, descsz, len);
        return -1;
    }
    const size_t want = sizeof KHIB_VMCI_NOTE_NAME;  /* with its NUL, as the kernel's append_elf_note() */
    if (namesz != want || memcmp(b + 12, KHIB_VMCI_NOTE_NAME, want) != 0) {
        snprintf(err, errlen, "VMCOREINFO note: not named %s", KHIB_VMCI_NOTE_NAME);
        return -1;
    }
    return khib_vmcoreinfo_parse((const char *)b + desc_at, descsz, vi, err, errlen);
}

void khib_vmcoreinfo_free(struct khib_vmcoreinfo *vi)
{
    free(vi->text);
    free(vi->entry);
    memset(vi, 0, sizeof *vi);
}

const char *khib_vmci_get(const struct khib_vmcoreinfo *vi, const char *key)
{
    for (uint32_t i = 0; i < vi->count; i++)
        if (strcmp(vi->entry[i].key, key) == 0)
            return vi->entry[i].value;
    return NULL;
}

/* Strictly a number of the base, nothing after it: 0, or -2. */
static int parse_u64(const char *s, int base, uint64_t *out)
{
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -2;
    if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || end == s || *end != '\0')
        return -2;
    *out = v;
    return 0;
}

static int kind_get(const struct khib_vmcoreinfo *vi, const char *kind, const char *name, const char **value)
{
    char key[160];
    int n = snprintf(key, sizeof key, "%s(%s)", kind, name);
    if (n < 0 || (size_t)n >= sizeof key)
        return -1;
    *value = khib_vmci_get(vi, key);
    return *value ? 0 : -1;
}

static int kind_u64(const struct khib_vmcoreinfo *vi, const char *kind, const char *name, int base, uint64_t *out)
{
    const char *v;
    if (kind_get(vi, kind, name, &v) != 0)
        return -1;
    return parse_u64(v, base, out);
}

int khib_vmci_symbol(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out)
{
    return kind_u64(vi, "SYMBOL", name, 16, out);
}

int khib_vmci_size(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out)
{
    return kind_u64(vi, "SIZE", name, 10, out);
}

int khib_vmci_offset(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out)
{
    return kind_u64(vi, "OFFSET", name, 10, out);
}

int khib_vmci_length(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out)
{
    return kind_u64(vi, "LENGTH", name, 10, out);
}

/* NUMBER() is "%ld" (include/linux/vmcore_info.h VMCOREINFO_NUMBER), but
 * kernel/vmcore_info.c writes NUMBER(VMALLOC_START) as "0x%lx". */
int khib_vmci_number(const struct khib_vmcoreinfo *vi, const char *name, int64_t *out)
{
    const char *v;
    if (kind_get(vi, "NUMBER", name, &v) != 0)
        return -1;
    uint64_t u;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        if (parse_u64(v, 16, &u) != 0)
            return -2;
        *out = (int64_t)u;
        return 0;
    }
    int neg = v[0] == '-';
    if (parse_u64(v + neg, 10, &u) != 0)
        return -2;
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
        return -2;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int khib_vmci_plain(const struct khib_vmcoreinfo *vi, const char *key, int base, uint64_t *out)
{
    const char *v = khib_vmci_get(vi, key);
    if (!v)
        return -1;
    return parse_u64(v, base, out);
}
