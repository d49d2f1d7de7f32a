/* A saved x86_64 kernel's virtual addresses, translated through its own page
 * tables, and its memory read through a caller's callback.
 *
 * The memory of the kernel (A) is reached by a read callback: read len bytes
 * at physical address paddr into buf, 0 or -1.  lib/physmem.c, a core file or
 * a unit test's array supplies it.
 *
 * The top-level table is init_top_pgt (VMCOREINFO SYMBOL(init_top_pgt)), an
 * address in the kernel's text mapping: its physical address is
 * vaddr - __START_KERNEL_map + phys_base (arch/x86/include/asm/page_64.h
 * __phys_addr_symbol(); NUMBER(phys_base) from
 * arch/x86/kernel/vmcore_info_64.c).  Four levels, or five when
 * NUMBER(pgtable_l5_enabled) is 1; 1 GiB and 2 MiB leaves (_PAGE_PSE);
 * the entries' address bits are 12..51 less the SME encryption bit
 * (NUMBER(sme_mask)), as arch/x86/include/asm/pgtable_types.h
 * PTE_PFN_MASK and makedumpfile's arch/x86_64.c __vtop4_x86_64().
 */
#ifndef KHIB_KVTOP_H
#define KHIB_KVTOP_H

#include <stddef.h>
#include <stdint.h>

#define KHIB_START_KERNEL_MAP 0xffffffff80000000ull

typedef int (*khib_physread_fn)(void *ctx, uint64_t paddr, void *buf, size_t len);

struct khib_kvtop {
    khib_physread_fn read;
    void *ctx;
    uint64_t pgd_paddr;     /* init_top_pgt's physical address */
    int levels;             /* 4 or 5 */
    uint64_t addr_mask;     /* an entry's physical address bits */
    /* The last leaf found: [vbase, vbase + size) is at pbase. */
    uint64_t vbase, pbase, size;
    uint64_t walks;         /* table walks done (the cache missed) */
};

/* Set up from init_top_pgt's virtual address, phys_base, 5-level paging and
 * sme_mask. */
void khib_kvtop_init(struct khib_kvtop *kv, khib_physread_fn read, void *ctx, uint64_t init_top_pgt,
                     uint64_t phys_base, int l5, uint64_t sme_mask);

/* The physical address of vaddr and how many bytes from it stay in the same
 * leaf mapping (*span).  0, or -1 when unmapped (or a table cannot be read). */
int khib_kvtop_translate(struct khib_kvtop *kv, uint64_t vaddr, uint64_t *paddr, uint64_t *span);

/* Read len bytes at the virtual address vaddr, crossing leaves as needed.
 * 0; -1 when a byte is unmapped (or a table cannot be read); -2 when the
 * callback fails to read mapped bytes. */
int khib_kvtop_read(struct khib_kvtop *kv, uint64_t vaddr, void *buf, size_t len);

#endif
