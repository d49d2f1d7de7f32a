/* The VMCOREINFO parser: a 6.12 kernel's text (lines as the kernel writes
 * them), the typed getters, the ELF note around it, and what is refused. */
#include "t.h"

#include <stdint.h>

#include "le.h"
#include "vmcoreinfo.h"

/* Lines in the formats of include/linux/vmcore_info.h, values of a 6.12 guest. */
static const char text612[] = "OSRELEASE=6.12.117\n"
                              "BUILD-ID=4e1a0c6f1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f\n"
                              "PAGESIZE=4096\n"
                              "SYMBOL(init_uts_ns)=ffffffff82a1b2c0\n"
                              "OFFSET(uts_namespace.name)=0\n"
                              "SYMBOL(mem_section)=ffff88801ffd2000\n"
                              "LENGTH(mem_section)=2048\n"
                              "SIZE(mem_section)=16\n"
                              "OFFSET(mem_section.section_mem_map)=0\n"
                              "NUMBER(SECTION_SIZE_BITS)=27\n"
                              "NUMBER(MAX_PHYSMEM_BITS)=46\n"
                              "NUMBER(VMALLOC_START)=0xffffc90000000000\n"
                              "SIZE(page)=64\n"
                              "OFFSET(page._mapcount)=48\n"
                              "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\n"
                              "NUMBER(phys_base)=69206016\n"
                              "KERNELOFFSET=1e000000\n"
                              "CRASHTIME=1795391156\n";

static void typed(void)
{
    struct khib_vmcoreinfo vi;
    char err[200] = "";
    CHECK(khib_vmcoreinfo_parse(text612, sizeof text612 - 1, &vi, err, sizeof err) == 0, "parse: %s", err);
    CHECK(vi.count == 18, "18 lines, got %u", vi.count);
    uint64_t u = 0;
    int64_t n = 0;
    CHECK(khib_vmci_symbol(&vi, "mem_section", &u) == 0 && u == 0xffff88801ffd2000ull, "SYMBOL hex %llx",
          (unsigned long long)u);
    CHECK(khib_vmci_length(&vi, "mem_section", &u) == 0 && u == 2048, "LENGTH");
    CHECK(khib_vmci_size(&vi, "page", &u) == 0 && u == 64, "SIZE");
    CHECK(khib_vmci_offset(&vi, "page._mapcount", &u) == 0 && u == 48, "OFFSET");
    CHECK(khib_vmci_number(&vi, "PAGE_BUDDY_MAPCOUNT_VALUE", &n) == 0 && n == -268435456, "NUMBER negative");
    CHECK(khib_vmci_number(&vi, "phys_base", &n) == 0 && n == 69206016, "NUMBER");
    CHECK(khib_vmci_number(&vi, "VMALLOC_START", &n) == 0 && (uint64_t)n == 0xffffc90000000000ull, "NUMBER 0x");
    CHECK(khib_vmci_plain(&vi, "KERNELOFFSET", 16, &u) == 0 && u == 0x1e000000, "KERNELOFFSET");
    CHECK(khib_vmci_plain(&vi, "PAGESIZE", 10, &u) == 0 && u == 4096, "PAGESIZE");
    CHECK(khib_vmci_get(&vi, "OSRELEASE") && strcmp(khib_vmci_get(&vi, "OSRELEASE"), "6.12.117") == 0, "OSRELEASE");
    CHECK(khib_vmci_symbol(&vi, "node_data", &u) == -1, "a missing SYMBOL is -1");
    CHECK(khib_vmci_number(&vi, "SECTION_SIZE_BIT", &n) == -1, "no prefix match");
    CHECK(khib_vmci_plain(&vi, "OSRELEASE", 10, &u) == -2, "text is not a number: -2");
    CHECK(khib_vmci_plain(&vi, "BUILD-ID", 16, &u) == -2, "a 160-bit hex value is out of range: -2");
    khib_vmcoreinfo_free(&vi);
    CHECK(vi.count == 0 && vi.text == NULL, "free empties");
}

static void malformed_values(void)
{
    static const char t[] = "SIZE(a)=12x\nSIZE(b)=-1\nSIZE(c)=\nNUMBER(d)=--3\nNUMBER(e)=9223372036854775808\n"
                            "NUMBER(f)=-9223372036854775808\nSYMBOL(g)=ffffg\nSIZE(h)= 5\nNUMBER(i)=0x\n";
    struct khib_vmcoreinfo vi;
    char err[200] = "";
    CHECK(khib_vmcoreinfo_parse(t, sizeof t - 1, &vi, err, sizeof err) == 0, "parse: %s", err);
    uint64_t u;
    int64_t n = 0;
    CHECK(khib_vmci_size(&vi, "a", &u) == -2, "trailing text");
    CHECK(khib_vmci_size(&vi, "b", &u) == -2, "a negative SIZE");
    CHECK(khib_vmci_size(&vi, "c", &u) == -2, "an empty value");
    CHECK(khib_vmci_number(&vi, "d", &n) == -2, "two minus signs");
    CHECK(khib_vmci_number(&vi, "e", &n) == -2, "past INT64_MAX");
    CHECK(khib_vmci_number(&vi, "f", &n) == 0 && n == INT64_MIN, "INT64_MIN");
    CHECK(khib_vmci_symbol(&vi, "g", &u) == -2, "not hex");
    CHECK(khib_vmci_size(&vi, "h", &u) == -2, "a leading space");
    CHECK(khib_vmci_number(&vi, "i", &n) == -2, "0x without digits");
    khib_vmcoreinfo_free(&vi);
}

static void refused(void)
{
    struct khib_vmcoreinfo vi;
    char err[200] = "";
    CHECK_ERR(khib_vmcoreinfo_parse("A=1\nnoequals\n", 13, &vi, err, sizeof err) == -1, err, "line 2: no '='");
    CHECK(vi.count == 0 && vi.text == NULL, "empty after an error");
    CHECK_ERR(khib_vmcoreinfo_parse("=1\n", 3, &vi, err, sizeof err) == -1, err, "empty key");
    CHECK_ERR(khib_vmcoreinfo_parse("A=1\nA=2\n", 8, &vi, err, sizeof err) == -1, err, "A given twice");
    size_t big = KHIB_VMCI_MAX_TEXT + 1;
    char *t = malloc(big);
    memset(t, '\n', big);
    CHECK_ERR(khib_vmcoreinfo_parse(t, big, &vi, err, sizeof err) == -1, err, "more than");
    /* More lines than entries. */
    size_t at = 0;
    for (unsigned i = 0; i <= KHIB_VMCI_MAX_ENTRIES; i++)
        at += (size_t)sprintf(t + at, "K%u=%u\n", i, i);
    CHECK_ERR(khib_vmcoreinfo_parse(t, at, &vi, err, sizeof err) == -1, err, "more than 1024 lines");
    free(t);
    /* Text stops at a NUL (the note's descriptor is zero-padded); blank lines are skipped. */
    CHECK(khib_vmcoreinfo_parse("A=1\n\nB=2\n\0garbage", 17, &vi, err, sizeof err) == 0 && vi.count == 2,
          "NUL ends the text: %s", err);
    khib_vmcoreinfo_free(&vi);
    /* No newline at the end. */
    CHECK(khib_vmcoreinfo_parse("A=1\nB=2", 7, &vi, err, sizeof err) == 0 && vi.count == 2 &&
              strcmp(khib_vmci_get(&vi, "B"), "2") == 0,
          "last line without newline: %s", err);
    khib_vmcoreinfo_free(&vi);
}

/* An ELF note as kernel/vmcore_info.c append_elf_note() writes it. */
static size_t note(uint8_t *buf, const char *name, uint32_t namesz, const char *desc, uint32_t descsz)
{
    memset(buf, 0, 4096);
    khib_put32(buf, namesz);
    khib_put32(buf + 4, descsz);
    khib_put32(buf + 8, 0);
    memcpy(buf + 12, name, strlen(name));
    size_t at = 12 + ((namesz + 3u) & ~3u);
    memcpy(buf + at, desc, descsz);
    return at + ((descsz + 3u) & ~3u) + 12;  /* and the empty closing note */
}

static void notes(void)
{
    uint8_t buf[4096];
    struct khib_vmcoreinfo vi;
    char err[200] = "";
    size_t len = note(buf, "VMCOREINFO", 11, text612, sizeof text612 - 1);
    CHECK(khib_vmcoreinfo_from_note(buf, len, &vi, err, sizeof err) == 0 && vi.count == 18, "note: %s", err);
    khib_vmcoreinfo_free(&vi);
    /* The sysfs size covers the whole buffer: zero padding after the text. */
    CHECK(khib_vmcoreinfo_from_note(buf, sizeof buf, &vi, err, sizeof err) == 0 && vi.count == 18, "padded: %s",
          err);
    khib_vmcoreinfo_free(&vi);
    note(buf, "CORE", 5, text612, sizeof text612 - 1);
    CHECK_ERR(khib_vmcoreinfo_from_note(buf, sizeof buf, &vi, err, sizeof err) == -1, err, "not named VMCOREINFO");
    note(buf, "VMCOREINF", 10, text612, sizeof text612 - 1);
    CHECK_ERR(khib_vmcoreinfo_from_note(buf, sizeof buf, &vi, err, sizeof err) == -1, err, "not named VMCOREINFO");
    len = note(buf, "VMCOREINFO", 11, text612, sizeof text612 - 1);
    CHECK_ERR(khib_vmcoreinfo_from_note(buf, 100, &vi, err, sizeof err) == -1, err, "exceed 100");
    CHECK_ERR(khib_vmcoreinfo_from_note(buf, 8, &vi, err, sizeof err) == -1, err, "shorter than a note header");
    khib_put32(buf, 0xfffffff0u);
    CHECK_ERR(khib_vmcoreinfo_from_note(buf, sizeof buf, &vi, err, sizeof err) == -1, err, "exceed");
}

int main(void)
{
    typed();
    malformed_values();
    refused();
    notes();
    return t_done();
}
