// lib/host/lazy_window.cpp — the malloc shim's platform: one lazily committed
// anonymous window, a counting frame source, batched MADV_DONTNEED (see
// lazy_window.h for the design and invariants).
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include "host/lazy_window.h"

#include <sys/mman.h>

#include "core/assert.h"
#include "core/bitops.h"
#include "core/report.h"

namespace kheap::host {

namespace {

void* map_anonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

bool LazyWindow::create(const LazyWindowConfig& config) {
  destroy();
  size_t bytes = config.window_bytes & ~(kPageSize - 1);
  // Page indices are uint32_t in the page heap: stay well below 2^32 pages.
  if (bytes > (size_t{1} << 44)) bytes = size_t{1} << 44;
  void* window = nullptr;
  while (bytes >= config.min_window_bytes && bytes >= 64 * kPageSize) {
    if ((window = map_anonymous(bytes)) != nullptr) break;
    bytes /= 2;  // RLIMIT_AS, a strict overcommit policy: settle for less
  }
  if (!window) return false;
  size_t pages = bytes >> kPageShift;
  size_t bitmap_bytes = align_up((pages + 63) / 64 * sizeof(uint64_t), kPageSize);
  void* bitmap = map_anonymous(bitmap_bytes);
  if (!bitmap) {
    ::munmap(window, bytes);
    return false;
  }
  window_base_ = reinterpret_cast<VirtAddr>(window);
  window_bytes_ = bytes;
  bitmap_ = static_cast<uint64_t*>(bitmap);  // zero-filled: nothing mapped
  bitmap_bytes_ = bitmap_bytes;
  frame_limit_ = config.frame_limit && config.frame_limit < pages ? config.frame_limit : pages;
  break_.init(window_base_, window_base_ + bytes, this, this);
  if (!page_heap_.init(&break_)) return destroy(), false;
  return true;
}

void LazyWindow::destroy() {
  page_heap_ = vm::PageHeap{};
  break_ = vm::KernelBreak{};
  if (bitmap_) ::munmap(bitmap_, bitmap_bytes_);
  if (window_base_) ::munmap(reinterpret_cast<void*>(window_base_), window_bytes_);
  window_base_ = 0;
  window_bytes_ = 0;
  bitmap_ = nullptr;
  bitmap_bytes_ = 0;
  frame_limit_ = frames_in_use_ = peak_frames_ = 0;
  queued_ranges_ = queued_pages_ = queue_lo_ = queue_hi_ = 0;
  discard_calls_ = discarded_pages_ = dequeued_pages_ = 0;
}

LazyWindowStats LazyWindow::stats() const {
  return {frames_in_use_, peak_frames_, frame_limit_, queued_pages_, discard_calls_, discarded_pages_,
          dequeued_pages_};
}

/* --- FrameSource: a count against the limit --------------------------------- */

PhysAddr LazyWindow::alloc_frame() {
  if (frames_in_use_ >= frame_limit_) return 0;
  if (++frames_in_use_ > peak_frames_) peak_frames_ = frames_in_use_;
  return kPageSize;  // a token: the page itself comes from the kernel on first touch
}

bool LazyWindow::free_frame(PhysAddr frame) {
  if (frames_in_use_ == 0 || frame == 0 || !is_aligned(frame, kPageSize)) {
    report_bug(BugClass::BadArgument, "lazy window: free_frame(%#zx) with %zu frames in use\n",
               static_cast<size_t>(frame), frames_in_use_);
    return false;
  }
  --frames_in_use_;
  return true;
}

/* --- Mapper: a bitmap, and a queue of pages to give back ------------------- */

bool LazyWindow::map_page(VirtAddr virt, PhysAddr frame) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && in_window(reinterpret_cast<void*>(virt)) && frame != 0);
  size_t page = page_of(virt);
  KHEAP_ASSERT(!bit(page));
  if (page >= queue_lo_ && page < queue_hi_ && dequeue(page)) ++dequeued_pages_;
  bitmap_[page / 64] |= uint64_t{1} << (page % 64);
  return true;
}

PhysAddr LazyWindow::unmap_page(VirtAddr virt) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && in_window(reinterpret_cast<void*>(virt)));
  size_t page = page_of(virt);
  if (!bit(page)) return 0;
  bitmap_[page / 64] &= ~(uint64_t{1} << (page % 64));
  enqueue(page);
  return (page + 1) << kPageShift;
}

PhysAddr LazyWindow::translate(VirtAddr virt) const {
  if (!bitmap_ || !in_window(reinterpret_cast<void*>(virt))) return 0;
  size_t page = page_of(virt);
  return bit(page) ? (page + 1) << kPageShift : 0;
}

void LazyWindow::discard(const Range& r) {
  if (r.count == 0) return;
  ::madvise(reinterpret_cast<void*>(window_base_ + (r.first << kPageShift)), r.count << kPageShift, MADV_DONTNEED);
  ++discard_calls_;
  discarded_pages_ += r.count;
}

void LazyWindow::flush() {
  for (size_t i = 0; i < queued_ranges_; ++i) discard(queue_[i]);
  queued_ranges_ = queued_pages_ = queue_lo_ = queue_hi_ = 0;
}

void LazyWindow::enqueue(size_t page) {
  // The page heap unmaps runs page by page from the top down, the break from
  // the top down too: usually the page extends the newest range downwards.
  bool merged = false;
  for (size_t k = queued_ranges_; k > 0 && !merged; --k) {
    Range& r = queue_[k - 1];
    if (page + 1 == r.first) {
      --r.first;
      merged = true;
    } else if (page == r.first + r.count) {
      ++r.count;
      merged = true;
    }
  }
  if (!merged) {
    if (queued_ranges_ == kMaxQueued) flush();
    queue_[queued_ranges_++] = Range{page, 1};
  }
  ++queued_pages_;
  if (queued_pages_ == 1 || page < queue_lo_) queue_lo_ = page;
  if (queued_pages_ == 1 || page + 1 > queue_hi_) queue_hi_ = page + 1;
  if (queued_pages_ >= kFlushPages) flush();
}

bool LazyWindow::dequeue(size_t page) {
  for (size_t k = 0; k < queued_ranges_; ++k) {
    Range& r = queue_[k];
    if (page < r.first || page >= r.first + r.count) continue;
    if (page == r.first) {
      ++r.first;
      --r.count;
    } else if (page == r.first + r.count - 1) {
      --r.count;
    } else if (queued_ranges_ < kMaxQueued) {  // split
      queue_[queued_ranges_++] = Range{page + 1, r.first + r.count - page - 1};
      r.count = page - r.first;
    } else {  // no room to split: give the upper part back now
      Range upper{page + 1, r.first + r.count - page - 1};
      discard(upper);
      queued_pages_ -= upper.count;
      r.count = page - r.first;
    }
    --queued_pages_;
    if (r.count == 0) r = queue_[--queued_ranges_];
    if (queued_pages_ == 0) queued_ranges_ = queue_lo_ = queue_hi_ = 0;
    return true;
  }
  return false;
}

}  // namespace kheap::host

#endif  // __linux__
