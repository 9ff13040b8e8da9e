// lib/platform/frame_source.h — where the virtual-memory layer gets page frames.
//
// The kernel's implementation is the buddy allocator (lib/pmm); the host's is
// the same buddy allocator over a memfd (lib/host). One frame is kPageSize bytes.
#pragma once

#include "core/types.h"

namespace kheap::platform {

class FrameSource {
 public:
  // A free frame, or 0 when none is left (0 is never a valid frame).
  virtual PhysAddr alloc_frame() = 0;
  // Give a frame back. Returns false (and reports) if the frame was not allocated.
  virtual bool free_frame(PhysAddr frame) = 0;
  // Frames still free.
  virtual size_t free_frame_count() const = 0;

 protected:
  ~FrameSource() = default;
};

}  // namespace kheap::platform
