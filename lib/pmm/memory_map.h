// lib/pmm/memory_map.h — turning a firmware memory map into clean usable ranges.
//
// Input: the regions as the firmware (multiboot) or a host test gives them —
// possibly unsorted, overlapping, zero-length, unaligned, above 4 GiB — plus
// ranges that must never be handed out (first MiB, kernel image, multiboot
// structures, modules). Output: sorted, non-overlapping, page-aligned usable
// ranges. Rules: where a usable and a non-usable region overlap, the non-usable
// one wins; unaligned usable ranges are trimmed inward to whole pages; memory at
// or above `phys_limit` (4 GiB on i386) is dropped and counted as ignored.
// Reserved ranges are widened outward to whole pages. Accounting: of the RAM
// below phys_limit, usable + reserved + trimmed + dropped bytes add up to all of it.
#pragma once

#include "core/types.h"

namespace kheap::pmm {

// Multiboot's type numbers.
enum class RegionType : uint32_t {
  Usable = 1,
  Reserved = 2,
  AcpiReclaimable = 3,
  AcpiNvs = 4,
  BadRam = 5,
};
const char* region_type_name(uint32_t type);  // "usable", "reserved", "ACPI reclaimable", ...

struct MemoryRegion {
  uint64_t base;
  uint64_t length;
  uint32_t type;  // RegionType, or any other number (treated as reserved)
};

struct ReservedRange {
  uint64_t base;
  uint64_t length;
  const char* what;  // "kernel image", "multiboot info", ... (shown by `mmap`)
};

struct UsableRange {
  uint64_t base;  // page aligned
  uint64_t end;   // page aligned, exclusive
};

inline constexpr size_t kMaxUsableRanges = 128;

struct NormalizedMap {
  UsableRange ranges[kMaxUsableRanges];
  size_t count = 0;
  uint64_t usable_bytes = 0;        // sum of ranges
  uint64_t ignored_bytes = 0;       // usable memory at/above phys_limit
  uint64_t trimmed_bytes = 0;       // lost to page-alignment trimming
  uint64_t reserved_bytes = 0;      // usable memory taken away by reserved ranges
  uint64_t dropped_bytes = 0;       // usable memory in pieces beyond kMaxUsableRanges (not in ranges)
  bool overflowed = false;          // more than kMaxUsableRanges pieces (extra ones dropped)
};

// Build the normalized map. Never allocates; O(n^2) in the number of regions,
// which is small (firmware maps have tens of entries).
void normalize_memory_map(const MemoryRegion* regions, size_t region_count, const ReservedRange* reserved,
                          size_t reserved_count, uint64_t phys_limit, NormalizedMap* out);

}  // namespace kheap::pmm
