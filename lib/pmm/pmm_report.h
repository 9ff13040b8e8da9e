// lib/pmm/pmm_report.h — the `meminfo` and `mmap` reports of the page-frame
// allocator, in /proc/meminfo and /proc/buddyinfo style.
//
// Lives in lib/ (not kernel/) so host tests, the gdb work and the kernel
// monitor all produce and check the very same text. Printed with kheap::print.
//
// meminfo lines (each at the start of a line; label left-aligned in 12
// columns, then the value right-aligned in 8, then " kB", as Linux does):
//   MemTotal:     130560 kB   usable frames the allocator manages (free + allocated)
//   MemFree:      ...         free frames
//   MemUsed:      ...         allocated frames
//   Reserved:     ...         usable RAM withheld: reserved ranges (first MiB, kernel
//                             image, multiboot data, modules) + PMM metadata + frame 0
//   KernelImage:  ...         size of the kernel image
//   PmmMetadata:  ...         frames taken by the Frame array
//   Buddyinfo: free blocks per order:      1      0 ...   (11 counts, order 0..10)
// Consistency: MemTotal + Reserved == the map's usable RAM below the limit
// minus what alignment trimming lost (and minus dropped/unindexable memory);
// MemFree + MemUsed == MemTotal.
#pragma once

#include "core/types.h"
#include "pmm/buddy.h"
#include "pmm/memory_map.h"

namespace kheap::pmm {

struct MeminfoNumbers {  // all in kB
  uint64_t total_kb, free_kb, used_kb, reserved_kb, kernel_image_kb, metadata_kb;
  size_t free_blocks[kMaxOrder + 1];
};

MeminfoNumbers meminfo_numbers(const BuddyAllocator& pmm, const NormalizedMap& map, uint64_t kernel_image_bytes);
void print_meminfo(const BuddyAllocator& pmm, const NormalizedMap& map, uint64_t kernel_image_bytes);

// Every raw region (base, end, size, type name), the reserved ranges with what
// they are, the normalized usable ranges and the bytes ignored above the limit.
void print_memory_map(const MemoryRegion* regions, size_t region_count, const ReservedRange* reserved,
                      size_t reserved_count, const NormalizedMap& map);

}  // namespace kheap::pmm
