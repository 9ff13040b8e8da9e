// kernel/commands_pmm.cpp — monitor commands of the page-frame allocator:
//   meminfo   /proc/meminfo-style totals and a /proc/buddyinfo-style line
//   mmap      the firmware memory map as received, the reserved ranges, the
//             normalized usable ranges and what was ignored above 4 GiB
// The text itself is produced by lib/pmm/pmm_report.cpp (shared with host tests).
#include "core/format.h"
#include "kernel_memory.h"
#include "monitor.h"
#include "pmm/pmm_report.h"

extern "C" char __kernel_start[];
extern "C" char __kernel_end[];

namespace kheap::kernel {

MONITOR_COMMAND(meminfo, "", "memory totals (/proc/meminfo style) and free blocks per order (/proc/buddyinfo style)") {
  uint64_t kernel_image = static_cast<uint64_t>(__kernel_end - __kernel_start);
  pmm::print_meminfo(g_pmm, g_boot_memory.normalized, kernel_image);
  return 0;
}

MONITOR_COMMAND(mmap, "", "the boot memory map as received, the reserved ranges and the usable ranges") {
  const BootMemoryInfo& m = g_boot_memory;
  if (!m.has_mmap)
    print("No multiboot memory map: regions built from mem_lower=%u KiB, mem_upper=%u KiB\n", m.mem_lower_kb,
          m.mem_upper_kb);
  pmm::print_memory_map(m.regions, m.region_count, m.reserved, m.reserved_count, m.normalized);
  print("Page-frame allocator: frames [0x%llx, 0x%llx), metadata at 0x%llx (%zu bytes)\n",
        static_cast<unsigned long long>(g_pmm.first_frame_addr()),
        static_cast<unsigned long long>(g_pmm.end_frame_addr()),
        static_cast<unsigned long long>(g_pmm.metadata_base()), g_pmm.metadata_bytes());
  return 0;
}

}  // namespace kheap::kernel
