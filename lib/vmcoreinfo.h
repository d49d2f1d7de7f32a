/* A kernel's VMCOREINFO: the "KEY=VALUE\n" text the kernel writes at boot
 * (kernel/vmcore_info.c crash_save_vmcoreinfo_init(), and on x86_64
 * arch/x86/kernel/vmcore_info_64.c arch_crash_save_vmcoreinfo()) for dump
 * tools such as makedumpfile.  /sys/kernel/vmcoreinfo gives the physical
 * address and size of the ELF note ("VMCOREINFO", type 0) that holds it.
 *
 * The kernel writes these kinds of lines (the formats of
 * include/linux/vmcore_info.h):
 *   SYMBOL(name)=%lx      an address (for an _ARRAY symbol: the pointer's value)
 *   SIZE(name)=%lu        sizeof a struct or type
 *   OFFSET(s.member)=%lu  offsetof
 *   LENGTH(name)=%lu      an array's number of elements
 *   NUMBER(name)=%ld      a constant, signed; a few are written "0x%lx"
 *   KERNELOFFSET=%lx      the KASLR displacement, hex
 *   PAGESIZE=%ld, OSRELEASE=..., BUILD-ID=..., CRASHTIME=...
 * The parser keeps every line as key and value text; the getters convert.
 * It rejects a line without '=', an empty key, a key given twice, more than
 * KHIB_VMCI_MAX_ENTRIES lines or text longer than KHIB_VMCI_MAX_TEXT.
 */
#ifndef KHIB_VMCOREINFO_H
#define KHIB_VMCOREINFO_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_VMCI_MAX_TEXT    (1u << 16)
#define KHIB_VMCI_MAX_ENTRIES 1024u
#define KHIB_VMCI_NOTE_NAME   "VMCOREINFO"

struct khib_vmci_entry {
    const char *key;    /* NUL-terminated, into the struct's copy of the text */
    const char *value;
};

struct khib_vmcoreinfo {
    char *text;                     /* malloc'd copy, '=' and '\n' replaced by NUL */
    uint32_t count;
    struct khib_vmci_entry *entry;  /* in the order of the text */
};

/* Parse len bytes of text (it may end early at a NUL).  Returns 0, or -1
 * with err (vi is then empty). */
int khib_vmcoreinfo_parse(const char *text, size_t len, struct khib_vmcoreinfo *vi, char *err, size_t errlen);

/* Parse the first ELF note of buf (little-endian Elf64_Nhdr: namesz, descsz,
 * type, the name padded to 4 bytes, the descriptor): it must be named
 * "VMCOREINFO"; its descriptor is the text.  Returns 0 or -1 with err. */
int khib_vmcoreinfo_from_note(const void *buf, size_t len, struct khib_vmcoreinfo *vi, char *err, size_t errlen);

void khib_vmcoreinfo_free(struct khib_vmcoreinfo *vi);

/* The value text of KEY, or NULL. */
const char *khib_vmci_get(const struct khib_vmcoreinfo *vi, const char *key);

/* Typed getters of "KIND(name)": 0 and *out set, -1 when the line is
 * missing, -2 when its value is malformed (not a number of the kind's base,
 * trailing text, out of range). */
int khib_vmci_symbol(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out);  /* hex */
int khib_vmci_size(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out);    /* decimal */
int khib_vmci_offset(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out);  /* "s.member" */
int khib_vmci_length(const struct khib_vmcoreinfo *vi, const char *name, uint64_t *out);
int khib_vmci_number(const struct khib_vmcoreinfo *vi, const char *name, int64_t *out);   /* decimal or 0x */
/* A plain KEY (KERNELOFFSET: hex; PAGESIZE: decimal): base 16 or 10. */
int khib_vmci_plain(const struct khib_vmcoreinfo *vi, const char *key, int base, uint64_t *out);

#endif
