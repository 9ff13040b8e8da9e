// kernel/fault_region.cpp — naming the region of the address space an address
// lies in, for the page-fault report.
#include "idt.h"
#include "kernel_memory.h"
#include "paging.h"

extern "C" char __kernel_start[];
extern "C" char __kernel_end[];
extern "C" char __readonly_end[];
extern "C" char boot_stack_bottom[];
extern "C" char boot_stack_top[];

namespace kheap::kernel {

const char* describe_fault_region(uint32_t addr) {
  if (addr < 0x1000) return "null page (never mapped: a null-pointer dereference)";
  if (addr >= reinterpret_cast<uint32_t>(boot_stack_bottom) - 0x1000 &&
      addr < reinterpret_cast<uint32_t>(boot_stack_bottom))
    return "just below the kernel stack (stack overflow?)";
  if (addr >= reinterpret_cast<uint32_t>(__kernel_start) && addr < reinterpret_cast<uint32_t>(__readonly_end))
    return "kernel image: code or read-only data (mapped read-only)";
  if (addr >= reinterpret_cast<uint32_t>(__kernel_start) && addr < reinterpret_cast<uint32_t>(__kernel_end))
    return "kernel image: data";
  if (addr < kIdentityLimit) return "identity-mapped low memory";
  if (addr >= kBreakWindowBase && addr < kBreakWindowLimit) {
    if (addr < g_page_heap.data_start()) return "kernel break window: page-heap metadata";
    if (addr >= g_break.current()) {
      return addr < g_break.mapped_end() ? "kernel break window: past the break (inside its last mapped page)"
                                         : "kernel break window: past the break (unmapped)";
    }
    if (!is_mapped(addr & ~0xFFFu)) return "kernel break window: inside the break but unmapped (a freed page-heap run)";
    return "kernel break window: inside the break, mapped";
  }
  if (addr >= kRecursiveBase) return "recursive page-table window";
  if (addr >= 0xFFC00000u - 0x1000u) return "guard below the page-table window";
  return "unmapped kernel address space (no region here)";
}

}  // namespace kheap::kernel
