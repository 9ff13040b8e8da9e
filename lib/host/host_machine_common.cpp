// lib/host/host_machine_common.cpp — the parts of HostMachine that are the
// same on every host: starting and forgetting the memory stack over the
// machine's "RAM" once the platform has set it up, and the FrameSource (the
// buddy allocator, plus the fail_frames_after() test hook). Setting up RAM,
// the direct map and the window, and the Mapper, are per platform
// (host_machine.cpp on Linux, host_machine_windows.cpp on Windows).
#include "debug/roots.h"
#include "host/host_machine.h"
#include "slab/slab.h"
#include "pmm/memory_map.h"

namespace kheap::host {

bool HostMachine::start_stack() {
  pmm::MemoryRegion ram{kFirstUsable, config_.ram_bytes - kFirstUsable, static_cast<uint32_t>(pmm::RegionType::Usable)};
  pmm::NormalizedMap map;
  pmm::normalize_memory_map(&ram, 1, nullptr, 0, uint64_t{1} << 44, &map);
  auto phys_to_virt = [](PhysAddr phys, void* context) -> void* {
    return static_cast<HostMachine*>(context)->direct_map_ + phys;
  };
  if (!pmm_.init(map, config_.ram_bytes, phys_to_virt, this)) return false;
  break_.init(window_base_, window_base_ + config_.window_bytes, this, this);
  if (!page_heap_.init(&break_)) return false;
  debug::publish_roots({&pmm_, &break_, &page_heap_, nullptr, 0});  // for the gdb extension
  return true;
}

void HostMachine::forget_stack() {
  // The break, page heap and buddy only describe memory the platform releases,
  // so they are simply forgotten.
  if (debug::g_roots.pmm == &pmm_) debug::publish_roots({nullptr, nullptr, nullptr, nullptr, 0});
  // A slab layer over this machine forgets it too (its thread caches live in
  // this memory: a thread's exit callback must not walk them afterwards).
  if (slab_page_heap() == &page_heap_) slab_shutdown();
  page_heap_ = vm::PageHeap{};
  break_ = vm::KernelBreak{};
  pmm_ = pmm::BuddyAllocator{};
}

PhysAddr HostMachine::alloc_frame() {
  if (fail_after_ == 0) return 0;
  PhysAddr frame = pmm_.alloc_frame(pmm::kOwnerBreak);
  if (frame != 0 && fail_after_ > 0) --fail_after_;
  return frame;
}

bool HostMachine::free_frame(PhysAddr frame) { return pmm_.free_frame(frame); }

size_t HostMachine::free_frame_count() const { return pmm_.free_frame_count(); }

}  // namespace kheap::host
