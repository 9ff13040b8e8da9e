// kernel/kernel_memory.h — the kernel's memory stack, as objects other kernel
// files (commands, selftests, the page-fault handler) can reach.
//
// Brought up in this order by memory_init() (kernel/memory_init.cpp):
//   multiboot map -> normalize -> BuddyAllocator g_pmm
//   -> paging (identity map of low memory, recursive slot) -> KernelBreak g_break
//   -> PageHeap g_page_heap -> slab_init -> heap_init
#pragma once

#include "core/types.h"
#include "pmm/buddy.h"
#include "pmm/memory_map.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

namespace kheap::kernel {

// Layout of the virtual address space (i386, 4 KiB pages, no PAE).
inline constexpr VirtAddr kIdentityLimit = 64u << 20;          // [0, 64 MiB) identity-mapped (page 0 left unmapped)
inline constexpr VirtAddr kBreakWindowBase = 0xC0000000u;      // kernel break window
inline constexpr VirtAddr kBreakWindowLimit = 0xE0000000u;     // 512 MiB
inline constexpr VirtAddr kRecursiveBase = 0xFFC00000u;         // page tables, via PDE 1023

// The firmware's map as received, for `mmap`.
inline constexpr size_t kMaxBootRegions = 64;
struct BootMemoryInfo {
  pmm::MemoryRegion regions[kMaxBootRegions];
  size_t region_count;
  pmm::ReservedRange reserved[32];
  size_t reserved_count;
  uint32_t mem_lower_kb, mem_upper_kb;
  bool has_mmap;
  pmm::NormalizedMap normalized;
};

extern BootMemoryInfo g_boot_memory;
extern pmm::BuddyAllocator g_pmm;
extern vm::KernelBreak g_break;
extern vm::PageHeap g_page_heap;

// Frame source and mapper implementations (the buddy allocator and the page tables).
platform::FrameSource& kernel_frame_source();
platform::Mapper& kernel_mapper();

}  // namespace kheap::kernel
