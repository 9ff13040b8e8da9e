// lib/vm/kernel_break.cpp — the kernel break (see kernel_break.h).
//
// Invariants: base_ <= break_ <= limit_; mapped_end_ == align_up(break_) (all
// page aligned except break_); every page of [mapped_end_, limit_) is
// unmapped. Growing is all or nothing: map_range undoes its own partial work.
#include "vm/kernel_break.h"

#include "core/assert.h"
#include "core/bitops.h"

namespace kheap::vm {

void KernelBreak::init(VirtAddr base, VirtAddr limit, platform::FrameSource* frames, platform::Mapper* mapper) {
  KHEAP_ASSERT(is_aligned(base, kPageSize) && is_aligned(limit, kPageSize) && base < limit);
  KHEAP_ASSERT(frames != nullptr && mapper != nullptr);
  window_base_ = base;
  base_ = base;
  limit_ = limit;
  break_ = base;
  mapped_end_ = base;
  frames_ = frames;
  mapper_ = mapper;
}

bool KernelBreak::carve_front(size_t pages) {
  if (break_ != base_ || mapped_end_ != base_) return false;
  if (pages >= ((limit_ - base_) >> kPageShift)) return false;
  base_ += pages << kPageShift;
  break_ = base_;
  mapped_end_ = base_;
  return true;
}

VirtAddr KernelBreak::brk(VirtAddr addr) {
  if (addr == 0) return break_;
  if (addr < base_ || addr > limit_) return break_;
  set_break(addr);
  return break_;
}

void* KernelBreak::sbrk(intptr_t increment) {
  VirtAddr old = break_;
  VirtAddr target;
  if (increment >= 0) {
    // limit_ is page aligned and far below UINTPTR_MAX, but a huge increment
    // can still wrap: check the addition itself.
    if (__builtin_add_overflow(old, static_cast<uintptr_t>(increment), &target)) return reinterpret_cast<void*>(-1);
  } else {
    // Negate in unsigned arithmetic: -INTPTR_MIN does not exist as an intptr_t.
    uintptr_t down = uintptr_t{0} - static_cast<uintptr_t>(increment);
    if (down > old - base_) return reinterpret_cast<void*>(-1);
    target = old - down;
  }
  if (target > limit_) return reinterpret_cast<void*>(-1);
  if (!set_break(target)) return reinterpret_cast<void*>(-1);
  return reinterpret_cast<void*>(old);
}

bool KernelBreak::set_break(VirtAddr addr) {
  KHEAP_ASSERT(addr >= base_ && addr <= limit_);
  // limit_ is page aligned, so this cannot overflow.
  VirtAddr end = align_up(addr, kPageSize);
  if (end > mapped_end_) {
    if (!map_range(mapped_end_, end)) return false;
  } else if (end < mapped_end_) {
    unmap_range(end, mapped_end_);
  }
  mapped_end_ = end;
  break_ = addr;
  return true;
}

bool KernelBreak::map_range(VirtAddr from, VirtAddr to) {
  for (VirtAddr v = from; v < to; v += kPageSize) {
    PhysAddr frame = frames_->alloc_frame();
    if (frame == 0) {
      unmap_range(from, v);
      return false;
    }
    if (!mapper_->map_page(v, frame)) {
      // Out of page-table memory: this frame was never mapped, give it back directly.
      frames_->free_frame(frame);
      unmap_range(from, v);
      return false;
    }
  }
  return true;
}

void KernelBreak::unmap_range(VirtAddr from, VirtAddr to) {
  // Top down, so a shrink gives frames back in the reverse order a grow took them.
  for (VirtAddr v = to; v > from;) {
    v -= kPageSize;
    PhysAddr frame = mapper_->unmap_page(v);
    if (frame != 0) frames_->free_frame(frame);  // 0: a page heap's free range, already unmapped
  }
}

}  // namespace kheap::vm
