// lib/host/host_machine.h — a simulated machine on the host, so the same
// lib/pmm and lib/vm code runs unchanged outside the kernel.
//
// "Physical memory" is a memfd of ram_bytes, managed by the very same
// BuddyAllocator the kernel uses (fed a synthetic memory map: usable from
// 1 MiB to the end, like QEMU's). The whole memfd is also mapped once as a
// "direct map" so the buddy allocator can reach its own metadata.
// Mapping a frame into the break window is mmap(MAP_FIXED|MAP_SHARED) of the
// memfd at the frame's offset; unmapping puts PROT_NONE back. So two virtual
// pages can really alias one frame, and a stale mapping really faults.
//
// lib/host/host_machine.cpp is that Linux implementation; the same class is
// implemented on Windows by lib/host/host_machine_windows.cpp (a pagefile-
// backed section and a VirtualAlloc window; there memfd_ holds a registry slot
// number, and aliasing is emulated by moving a frame's contents — see that
// file's header for why and what it costs).
#pragma once

#include "core/types.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"
#include "pmm/buddy.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

namespace kheap::host {

// Like QEMU's map: "RAM" from 1 MiB up is usable; the first MiB is never handed out.
inline constexpr uint64_t kFirstUsable = uint64_t{1} << 20;

struct HostMachineConfig {
  size_t ram_bytes = size_t{64} << 20;      // size of the memfd ("RAM")
  size_t window_bytes = size_t{256} << 20;  // size of the kernel-break window
};

class HostMachine final : public platform::FrameSource, public platform::Mapper {
 public:
  HostMachine() = default;
  ~HostMachine() { destroy(); }
  HostMachine(const HostMachine&) = delete;
  HostMachine& operator=(const HostMachine&) = delete;

  // memfd + buddy + window reservation + KernelBreak + PageHeap. False on failure.
  bool create(const HostMachineConfig& config = {});
  void destroy();  // unmaps everything, closes the memfd
  bool created() const { return memfd_ >= 0; }

  pmm::BuddyAllocator& pmm() { return pmm_; }
  vm::KernelBreak& kernel_break() { return break_; }
  vm::PageHeap& page_heap() { return page_heap_; }
  VirtAddr window_base() const { return window_base_; }
  size_t window_bytes() const { return config_.window_bytes; }
  // Address of a frame in the direct map (to check aliasing in tests).
  void* frame_in_direct_map(PhysAddr frame) const { return direct_map_ + frame; }

  // FrameSource
  PhysAddr alloc_frame() override;
  bool free_frame(PhysAddr frame) override;
  size_t free_frame_count() const override;
  // Mapper
  bool map_page(VirtAddr virt, PhysAddr frame) override;
  PhysAddr unmap_page(VirtAddr virt) override;
  PhysAddr translate(VirtAddr virt) const override;

  // Test hook: make alloc_frame fail after `n` more successes (-1: never).
  void fail_frames_after(long n) { fail_after_ = n; }

 private:
  bool start_stack();   // buddy + break + page heap over RAM the platform set up (host_machine_common.cpp)
  void forget_stack();

  HostMachineConfig config_{};
  int memfd_ = -1;
  char* direct_map_ = nullptr;
  VirtAddr window_base_ = 0;
  PhysAddr* translation_ = nullptr;  // one entry per window page (0 = unmapped)
  long fail_after_ = -1;
  pmm::BuddyAllocator pmm_;
  vm::KernelBreak break_;
  vm::PageHeap page_heap_;
};

// Bring up a whole stack on a fresh HostMachine: slab_init + heap_init over its
// page heap. Tests use it (one per test), as do the benchmarks.
bool bring_up_stack(HostMachine* machine, const HostMachineConfig& config = {});

}  // namespace kheap::host
