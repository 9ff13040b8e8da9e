// lib/platform/mapper.h — how the virtual-memory layer maps frames at addresses.
//
// The kernel's implementation writes x86 page tables (kernel/paging.cpp); the
// host's mmap()s the memfd page at MAP_FIXED (lib/host). All addresses are
// page aligned. A mapping is read/write, never executable, kernel-only.
#pragma once

#include "core/types.h"

namespace kheap::platform {

class Mapper {
 public:
  // Map one page. Returns false if no page-table memory could be had (nothing changes).
  virtual bool map_page(VirtAddr virt, PhysAddr frame) = 0;
  // Unmap one page and return the frame that was mapped there (0 if none).
  // Later accesses fault.
  virtual PhysAddr unmap_page(VirtAddr virt) = 0;
  // The frame mapped at `virt`, or 0.
  virtual PhysAddr translate(VirtAddr virt) const = 0;

 protected:
  ~Mapper() = default;
};

}  // namespace kheap::platform
