// lib/pmm/pmm_report.cpp — `meminfo` and `mmap` text (see pmm_report.h for the format).
#include "pmm/pmm_report.h"

#include "core/format.h"

namespace kheap::pmm {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

uint64_t frames_kb(uint64_t frames) { return frames * (kPageSize / 1024); }

void meminfo_line(const char* label, uint64_t kb) { print("%-12s%8llu kB\n", label, ull(kb)); }

// "639 KiB", "127 MiB", "3 GiB" (exact units only; otherwise the smaller unit).
void print_size(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0)
    print("%8llu GiB", ull(bytes >> 30));
  else if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0)
    print("%8llu MiB", ull(bytes >> 20));
  else if (bytes % 1024 == 0)
    print("%8llu KiB", ull(bytes >> 10));
  else
    print("%8llu B  ", ull(bytes));
}

}  // namespace

MeminfoNumbers meminfo_numbers(const BuddyAllocator& pmm, const NormalizedMap& map, uint64_t kernel_image_bytes) {
  BuddyStats s = pmm.stats();
  MeminfoNumbers n{};
  n.total_kb = frames_kb(s.total_frames);
  n.free_kb = frames_kb(s.free_frames);
  n.used_kb = frames_kb(s.allocated_frames);
  n.metadata_kb = frames_kb(s.metadata_frames);
  n.reserved_kb = map.reserved_bytes / 1024 + frames_kb(s.metadata_frames + s.withheld_frames);
  n.kernel_image_kb = (kernel_image_bytes + 1023) / 1024;
  for (unsigned k = 0; k <= kMaxOrder; ++k) n.free_blocks[k] = s.free_blocks[k];
  return n;
}

void print_meminfo(const BuddyAllocator& pmm, const NormalizedMap& map, uint64_t kernel_image_bytes) {
  MeminfoNumbers n = meminfo_numbers(pmm, map, kernel_image_bytes);
  meminfo_line("MemTotal:", n.total_kb);
  meminfo_line("MemFree:", n.free_kb);
  meminfo_line("MemUsed:", n.used_kb);
  meminfo_line("Reserved:", n.reserved_kb);
  meminfo_line("KernelImage:", n.kernel_image_kb);
  meminfo_line("PmmMetadata:", n.metadata_kb);
  char line[160];
  size_t len = format(line, sizeof line, "Buddyinfo: free blocks per order:");
  for (unsigned k = 0; k <= kMaxOrder && len < sizeof line; ++k)
    len += format(line + len, sizeof line - len, " %6zu", n.free_blocks[k]);
  print("%s\n", line);
}

void print_memory_map(const MemoryRegion* regions, size_t region_count, const ReservedRange* reserved,
                      size_t reserved_count, const NormalizedMap& map) {
  print("Memory map as received (%zu regions):\n", region_count);
  for (size_t i = 0; i < region_count; ++i) {
    const MemoryRegion& r = regions[i];
    uint64_t end = r.base + r.length;
    print("  [0x%09llx, 0x%09llx) ", ull(r.base), ull(end));
    print_size(r.length);
    print("  %s (type %u)\n", region_type_name(r.type), r.type);
  }
  print("Reserved ranges (%zu):\n", reserved_count);
  for (size_t i = 0; i < reserved_count; ++i) {
    const ReservedRange& r = reserved[i];
    print("  [0x%09llx, 0x%09llx) ", ull(r.base), ull(r.base + r.length));
    print_size(r.length);
    print("  %s\n", r.what ? r.what : "?");
  }
  print("Usable after normalizing (%zu ranges%s):\n", map.count, map.overflowed ? ", overflowed" : "");
  for (size_t i = 0; i < map.count; ++i) {
    print("  [0x%09llx, 0x%09llx) ", ull(map.ranges[i].base), ull(map.ranges[i].end));
    print_size(map.ranges[i].end - map.ranges[i].base);
    print("\n");
  }
  print("Usable: %llu kB, reserved ranges took %llu kB, trimmed %llu B, dropped %llu kB\n", ull(map.usable_bytes >> 10),
        ull(map.reserved_bytes >> 10), ull(map.trimmed_bytes), ull(map.dropped_bytes >> 10));
  print("Ignored above the physical limit: %llu bytes (%llu MiB)\n", ull(map.ignored_bytes),
        ull(map.ignored_bytes >> 20));
}

}  // namespace kheap::pmm
