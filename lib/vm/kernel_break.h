// lib/vm/kernel_break.h — an sbrk-style kernel break over one virtual window.
//
// The window is [base, limit). The break is byte-granular; the pages backing
// [base, align_up(break)) are mapped, the rest of the window is not (except
// that a page heap living in the break may unmap its free ranges: pages below
// the break that are already unmapped are simply skipped when shrinking).
// Growing takes frames from a FrameSource and maps them through a Mapper;
// shrinking unmaps and gives the frames back. POSIX semantics:
//   brk(0)     -> the current break
//   brk(addr)  -> addr on success; the current (unchanged) break on failure
//   sbrk(n)    -> the old break on success; (void*)-1 on failure
// A grow that runs out of frames (or page-table memory) part-way unmaps and
// returns everything it took, then fails: nothing leaks, nothing stays mapped.
// Requests below base or past limit fail cleanly (and so does any sbrk whose
// arithmetic would overflow). Failures are ordinary results (ENOMEM in POSIX),
// not caller bugs: nothing is reported. New pages are not zeroed.
//
// The window may lose a prefix to a page heap's metadata (carve_front, only
// while nothing is mapped): base() then moves up, window_base() stays.
// Not thread-safe: the caller serializes.
#pragma once

#include "core/types.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"

namespace kheap::vm {

class KernelBreak {
 public:
  // base and limit must be page aligned, base < limit.
  void init(VirtAddr base, VirtAddr limit, platform::FrameSource* frames, platform::Mapper* mapper);

  VirtAddr brk(VirtAddr addr);
  void* sbrk(intptr_t increment);

  VirtAddr base() const { return base_; }
  VirtAddr limit() const { return limit_; }
  VirtAddr current() const { return break_; }
  VirtAddr mapped_end() const { return mapped_end_; }   // page-aligned end of the mapped part
  size_t mapped_pages() const { return (mapped_end_ - base_) >> kPageShift; }
  bool contains(VirtAddr a) const { return a >= base_ && a < limit_; }
  // The window as given to init (base() may have moved up by carve_front).
  VirtAddr window_base() const { return window_base_; }

  // Give the first `pages` pages of the window away (a page heap keeps its
  // metadata there and maps it itself): base() moves up. Only allowed while
  // the break is at base (nothing mapped); false if not, or if it would leave
  // no room.
  bool carve_front(size_t pages);

  platform::FrameSource* frame_source() const { return frames_; }
  platform::Mapper* mapper() const { return mapper_; }

 private:
  bool set_break(VirtAddr addr);                 // addr already known to be in [base, limit]
  bool map_range(VirtAddr from, VirtAddr to);    // all or nothing
  void unmap_range(VirtAddr from, VirtAddr to);  // gives frames back

  VirtAddr window_base_ = 0;
  VirtAddr base_ = 0;
  VirtAddr limit_ = 0;
  VirtAddr break_ = 0;
  VirtAddr mapped_end_ = 0;
  platform::FrameSource* frames_ = nullptr;
  platform::Mapper* mapper_ = nullptr;
};

}  // namespace kheap::vm
