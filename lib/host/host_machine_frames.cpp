// lib/host/host_machine_frames.cpp — HostMachine's FrameSource, the same on
// every host: the buddy allocator over the machine's "RAM", plus the
// fail_frames_after() test hook. The Mapper half is per platform
// (host_machine.cpp on Linux, host_machine_windows.cpp on Windows).
#include "host/host_machine.h"

namespace kheap::host {

PhysAddr HostMachine::alloc_frame() {
  if (fail_after_ == 0) return 0;
  PhysAddr frame = pmm_.alloc_frame(pmm::kOwnerBreak);
  if (frame != 0 && fail_after_ > 0) --fail_after_;
  return frame;
}

bool HostMachine::free_frame(PhysAddr frame) { return pmm_.free_frame(frame); }

size_t HostMachine::free_frame_count() const { return pmm_.free_frame_count(); }

}  // namespace kheap::host
