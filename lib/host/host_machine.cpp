// lib/host/host_machine.cpp — a simulated machine on Linux (see host_machine.h).
//
// Resources, created in this order and released in reverse by destroy():
//   memfd_        the machine's RAM (ram_bytes, sparse until touched)
//   direct_map_   the whole memfd mapped once, read/write: frame f is at direct_map_ + f
//   window_base_  a PROT_NONE reservation of window_bytes for the kernel break
//   translation_  one PhysAddr per window page (0 = unmapped), anonymous memory
// Invariants: a window page is mapped (memfd-backed, read/write) iff its
// translation_ entry is nonzero, and then it shows the frame at that offset;
// every other window page is an anonymous PROT_NONE page, so touching it
// faults (SIGSEGV). Frame 0 is never handed out, so 0 can mean "unmapped".
// Not thread-safe by itself, like the page heap and break above it: their
// callers serialize (lib/slab's lock, slab_lock()).
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include "host/host_machine.h"


#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/bitops.h"
#include "pmm/memory_map.h"

namespace kheap::host {

namespace {

void* reserve_none(void* at, size_t bytes, bool fixed) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (fixed ? MAP_FIXED : 0);
  void* p = ::mmap(at, bytes, PROT_NONE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

bool HostMachine::create(const HostMachineConfig& config) {
  destroy();
  if (config.ram_bytes < kFirstUsable + (size_t{1} << 20) || !is_aligned(config.ram_bytes, kPageSize) ||
      config.window_bytes < 4 * kPageSize || !is_aligned(config.window_bytes, kPageSize))
    return false;
  config_ = config;
  size_t window_pages = config.window_bytes >> kPageShift;

  memfd_ = ::memfd_create("kheap-ram", MFD_CLOEXEC);
  if (memfd_ < 0) return false;
  if (::ftruncate(memfd_, static_cast<off_t>(config.ram_bytes)) != 0) return destroy(), false;

  void* dm = ::mmap(nullptr, config.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
  if (dm == MAP_FAILED) return destroy(), false;
  direct_map_ = static_cast<char*>(dm);

  void* window = reserve_none(nullptr, config.window_bytes, false);
  if (!window) return destroy(), false;
  window_base_ = reinterpret_cast<VirtAddr>(window);

  void* table = ::mmap(nullptr, window_pages * sizeof(PhysAddr), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (table == MAP_FAILED) return destroy(), false;
  translation_ = static_cast<PhysAddr*>(table);  // zero-filled: nothing mapped

  if (!start_stack()) return destroy(), false;
  return true;
}

void HostMachine::destroy() {
  forget_stack();
  if (translation_) ::munmap(translation_, (config_.window_bytes >> kPageShift) * sizeof(PhysAddr));
  if (window_base_) ::munmap(reinterpret_cast<void*>(window_base_), config_.window_bytes);
  if (direct_map_) ::munmap(direct_map_, config_.ram_bytes);
  if (memfd_ >= 0) ::close(memfd_);
  translation_ = nullptr;
  window_base_ = 0;
  direct_map_ = nullptr;
  memfd_ = -1;
  fail_after_ = -1;
}

/* (FrameSource and the stack over RAM: host_machine_common.cpp, shared with the other platform) */

/* --- Mapper: mmap of the memfd into the window --------------------------------- */

bool HostMachine::map_page(VirtAddr virt, PhysAddr frame) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && virt >= window_base_ && virt - window_base_ < config_.window_bytes);
  KHEAP_ASSERT(is_aligned(frame, kPageSize) && frame != 0 && frame < config_.ram_bytes);
  size_t page = (virt - window_base_) >> kPageShift;
  KHEAP_ASSERT(translation_[page] == 0);
  void* p = ::mmap(reinterpret_cast<void*>(virt), kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd_,
                   static_cast<off_t>(frame));
  // Failure (e.g. vm.max_map_count reached) leaves the PROT_NONE page in place:
  // like running out of page-table memory in the kernel.
  if (p == MAP_FAILED) return false;
  translation_[page] = frame;
  return true;
}

PhysAddr HostMachine::unmap_page(VirtAddr virt) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && virt >= window_base_ && virt - window_base_ < config_.window_bytes);
  size_t page = (virt - window_base_) >> kPageShift;
  PhysAddr frame = translation_[page];
  if (frame == 0) return 0;
  // Replace, not munmap: the window stays reserved and the page faults.
  void* p = reserve_none(reinterpret_cast<void*>(virt), kPageSize, true);
  KHEAP_ASSERT(p == reinterpret_cast<void*>(virt));
  translation_[page] = 0;
  return frame;
}

PhysAddr HostMachine::translate(VirtAddr virt) const {
  if (!translation_ || virt < window_base_ || virt - window_base_ >= config_.window_bytes) return 0;
  return translation_[(virt - window_base_) >> kPageShift];
}

}  // namespace kheap::host

#endif  // __linux__
