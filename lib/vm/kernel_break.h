// lib/vm/kernel_break.h — an sbrk-style kernel break over one virtual window.
//
// The window is [base, limit). The break is byte-granular; the pages backing
// [base, align_up(break)) are mapped, the rest of the window is not. Growing
// takes frames from a FrameSource and maps them through a Mapper; shrinking
// unmaps and gives the frames back. POSIX semantics:
//   brk(0)     -> the current break
//   brk(addr)  -> addr on success; the current (unchanged) break on failure
//   sbrk(n)    -> the old break on success; (void*)-1 on failure
// A grow that runs out of frames (or page-table memory) part-way unmaps and
// returns everything it took, then fails: nothing leaks, nothing stays mapped.
// Requests below base or past limit fail cleanly.
#pragma once

#include "core/types.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"

namespace kheap::vm {

class KernelBreak {
 public:
  void init(VirtAddr base, VirtAddr limit, platform::FrameSource* frames, platform::Mapper* mapper);

  VirtAddr brk(VirtAddr addr);
  void* sbrk(intptr_t increment);

  VirtAddr base() const { return base_; }
  VirtAddr limit() const { return limit_; }
  VirtAddr current() const { return break_; }
  VirtAddr mapped_end() const { return mapped_end_; }   // page-aligned end of the mapped part
  size_t mapped_pages() const { return (mapped_end_ - base_) >> kPageShift; }
  bool contains(VirtAddr a) const { return a >= base_ && a < limit_; }

  platform::FrameSource* frame_source() const { return frames_; }
  platform::Mapper* mapper() const { return mapper_; }

 private:
  bool map_range(VirtAddr from, VirtAddr to);    // all or nothing
  void unmap_range(VirtAddr from, VirtAddr to);  // gives frames back

  VirtAddr base_ = 0;
  VirtAddr limit_ = 0;
  VirtAddr break_ = 0;
  VirtAddr mapped_end_ = 0;
  platform::FrameSource* frames_ = nullptr;
  platform::Mapper* mapper_ = nullptr;
};

}  // namespace kheap::vm
