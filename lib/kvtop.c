/* x86_64 virtual to physical through the saved kernel's page tables (kvtop.h). */
#include "kvtop.h"

#include <string.h>

#include "le.h"

#define PTE_PRESENT (1ull << 0)
#define PTE_PSE     (1ull << 7)   /* a 1 GiB (level 3) or 2 MiB (level 2) leaf */
/* PTE_PFN_MASK of arch/x86/include/asm/pgtable_types.h with
 * __PHYSICAL_MASK_SHIFT 52 (arch/x86/include/asm/page_64_types.h). */
#define PTE_ADDR_BITS 0x000ffffffffff000ull

void khib_kvtop_init(struct khib_kvtop *kv, khib_physread_fn read, void *ctx, uint64_t init_top_pgt,
                     uint64_t phys_base, int l5, uint64_t sme_mask)
{
    memset(kv, 0, sizeof *kv);
    kv->read = read;
    kv->ctx = ctx;
    kv->pgd_paddr = init_top_pgt - KHIB_START_KERNEL_MAP + phys_base;
    kv->levels = l5 ? 5 : 4;
    kv->addr_mask = PTE_ADDR_BITS & ~sme_mask;
}

int khib_kvtop_translate(struct khib_kvtop *kv, uint64_t vaddr, uint64_t *paddr, uint64_t *span)
{
    if (kv->size && vaddr - kv->vbase < kv->size) {
        *paddr = kv->pbase + (vaddr - kv->vbase);
        *span = kv->size - (vaddr - kv->vbase);
        return 0;
    }
    kv->walks++;
    uint64_t table = kv->pgd_paddr;
    /* Level 5 indexes bits 48..56, level 4 bits 39..47, ... level 1 bits 12..20. */
    for (int level = kv->levels; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t index = (vaddr >> shift) & 511;
        uint8_t raw[8];
        if (kv->read(kv->ctx, table + index * 8, raw, sizeof raw) != 0)
            return -1;
        uint64_t e = khib_get64(raw);
        if (!(e & PTE_PRESENT))
            return -1;
        uint64_t next = e & kv->addr_mask;
        if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PSE))) {
            uint64_t size = 1ull << shift;
            kv->vbase = vaddr & ~(size - 1);
            kv->pbase = next & ~(size - 1);
            kv->size = size;
            *paddr = kv->pbase + (vaddr - kv->vbase);
            *span = size - (vaddr - kv->vbase);
            return 0;
        }
        table = next;
    }
    return -1;
}

int khib_kvtop_read(struct khib_kvtop *kv, uint64_t vaddr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len > 0) {
        uint64_t paddr, span;
        if (khib_kvtop_translate(kv, vaddr, &paddr, &span) != 0)
            return -1;
        size_t n = span < len ? (size_t)span : len;
        if (kv->read(kv->ctx, paddr, out, n) != 0)
            return -2;
        out += n;
        vaddr += n;
        len -= n;
    }
    return 0;
}
