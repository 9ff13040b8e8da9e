// kernel/paging.h — x86 two-level page tables (4 KiB pages, no PAE).
//
// Layout (see kernel_memory.h): [0, kIdentityLimit) identity-mapped except the
// null page; the kernel break window mapped on demand; PDE 1023 points at the
// page directory itself (recursive slot), so the page table covering `virt`
// is always visible at 0xFFC00000 + (virt >> 22) * 4096 and the directory at
// 0xFFFFF000. Page-table frames come from the buddy allocator.
#pragma once

#include <cstdint>

#include "platform/mapper.h"

namespace kheap::kernel {

void paging_init();

bool map_page(uint32_t virt, uint32_t phys);
uint32_t unmap_page(uint32_t virt);   // returns the frame that was mapped, or 0
uint32_t translate(uint32_t virt);    // frame address + offset, or 0 if unmapped
bool is_mapped(uint32_t virt);
uint32_t page_table_frames();         // frames used by page tables of the break window

}  // namespace kheap::kernel
