// lib/host/lazy_window.cpp — the malloc shim's platform: one lazily committed
// anonymous window, a counting frame source, a two-generation queue of
// unmapped pages given back with MADV_DONTNEED by age and under a bound (see
// lazy_window.h for the design, the policy and the invariants).
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include "host/lazy_window.h"

#include <sys/mman.h>
#include <time.h>

#include "core/assert.h"
#include "core/bitops.h"
#include "core/report.h"

namespace kheap::host {

namespace {

void* map_anonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

uint64_t monotonic_coarse_ms() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO, ~6 ns here; 4 ms resolution is plenty
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

constexpr size_t kNone = ~size_t{0};

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
  void* bitmaps = map_anonymous(3 * bitmap_bytes);  // mapped, young, old: zero-filled, touched lazily
  if (!bitmaps) {
    ::munmap(window, bytes);
    return false;
  }
  window_base_ = reinterpret_cast<VirtAddr>(window);
  window_bytes_ = bytes;
  bitmap_ = static_cast<uint64_t*>(bitmaps);  // nothing mapped
  bitmap_bytes_ = bitmap_bytes;
  young_ = Generation{bitmap_ + bitmap_bytes / sizeof(uint64_t), 0, 0, 0};
  old_ = Generation{bitmap_ + 2 * bitmap_bytes / sizeof(uint64_t), 0, 0, 0};
  frame_limit_ = config.frame_limit && config.frame_limit < pages ? config.frame_limit : pages;
  purge_delay_ms_ = config.purge_delay_ms;
  clock_ms_ = config.clock_ms ? config.clock_ms : monotonic_coarse_ms;
  epoch_start_ms_ = clock_ms_();
  break_.init(window_base_, window_base_ + bytes, this, this);
  if (!page_heap_.init(&break_)) return destroy(), false;
  return true;
}

void LazyWindow::destroy() {
  page_heap_ = vm::PageHeap{};
  break_ = vm::KernelBreak{};
  if (bitmap_) ::munmap(bitmap_, 3 * bitmap_bytes_);
  if (window_base_) ::munmap(reinterpret_cast<void*>(window_base_), window_bytes_);
  window_base_ = 0;
  window_bytes_ = 0;
  bitmap_ = nullptr;
  bitmap_bytes_ = 0;
  frame_limit_ = frames_in_use_ = peak_frames_ = 0;
  young_ = old_ = Generation{};
  queued_pages_ = 0;
  epoch_start_ms_ = 0;
  discard_calls_ = discarded_pages_ = dequeued_pages_ = unmapped_pages_ = aged_pages_ = bound_pages_ = 0;
}

LazyWindowStats LazyWindow::stats() const {
  return {frames_in_use_,   peak_frames_,    frame_limit_,    queued_pages_, discard_calls_,
          discarded_pages_, dequeued_pages_, unmapped_pages_, aged_pages_,   bound_pages_};
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
  bitmap_[page / 64] |= uint64_t{1} << (page % 64);
  if (queued_pages_ != 0) {
    if (take(young_, page) || take(old_, page)) {
      ++dequeued_pages_;  // mapped + queued unchanged: no bound to check
    } else {
      enforce_bound();    // a fresh page: mapped + queued grew
    }
    age();
  }
  return true;
}

PhysAddr LazyWindow::unmap_page(VirtAddr virt) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && in_window(reinterpret_cast<void*>(virt)));
  size_t page = page_of(virt);
  if (!bit(page)) return 0;
  bitmap_[page / 64] &= ~(uint64_t{1} << (page % 64));
  if (queued_pages_ == 0) {
    epoch_start_ms_ = clock_ms_();  // the queue starts afresh: nothing to age before this page
  } else {
    age();
  }
  Generation& g = young_;
  g.bits[page / 64] |= uint64_t{1} << (page % 64);
  if (g.count++ == 0) {
    g.lo = page;
    g.hi = page + 1;
  } else {
    if (page < g.lo) g.lo = page;
    if (page >= g.hi) g.hi = page + 1;
  }
  ++queued_pages_;
  ++unmapped_pages_;
  return (page + 1) << kPageShift;
}

PhysAddr LazyWindow::translate(VirtAddr virt) const {
  if (!bitmap_ || !in_window(reinterpret_cast<void*>(virt))) return 0;
  size_t page = page_of(virt);
  return bit(page) ? (page + 1) << kPageShift : 0;
}

bool LazyWindow::queued(VirtAddr virt) const {
  if (!bitmap_ || !in_window(reinterpret_cast<void*>(virt))) return false;
  size_t page = page_of(virt);
  return test(young_.bits, page) || test(old_.bits, page);
}

/* --- The queue: taking a page off, the policy, giving pages back ----------- */

bool LazyWindow::take(Generation& g, size_t page) {
  if (page < g.lo || page >= g.hi || !test(g.bits, page)) return false;
  g.bits[page / 64] &= ~(uint64_t{1} << (page % 64));
  --queued_pages_;
  if (--g.count == 0) g.lo = g.hi = 0;
  return true;
}

void LazyWindow::age() {
  uint64_t now = clock_ms_();
  uint64_t elapsed = now - epoch_start_ms_;
  if (elapsed < purge_delay_ms_) return;
  // Every old page was queued before the young generation started: >= one delay ago.
  discard(old_, Why::Aged);
  // Every young page was queued before now - delay (a later unmap would have
  // aged the queue then): with two delays gone, all of them are old enough too.
  if (elapsed >= 2 * uint64_t{purge_delay_ms_}) discard(young_, Why::Aged);
  Generation emptied = old_;
  old_ = young_;
  young_ = emptied;
  epoch_start_ms_ = now;
}

void LazyWindow::enforce_bound() {
  const size_t slack = slack_pages();
  if (frames_in_use_ + queued_pages_ <= peak_frames_ + slack) return;
  size_t excess = frames_in_use_ + queued_pages_ - (peak_frames_ + slack / 2);
  excess -= discard(old_, Why::Bound, excess);
  if (excess) discard(young_, Why::Bound, excess);
}

void LazyWindow::flush() {
  discard(old_, Why::Flush);
  discard(young_, Why::Flush);
}

namespace {

// Bit scans over a bitmap, downwards (pages below `floor` are never looked at).

// One past the highest set page below `limit`, or kNone.
size_t highest_set_below(const uint64_t* bits, size_t limit, size_t floor) {
  if (limit <= floor) return kNone;
  size_t w = (limit - 1) / 64;
  uint64_t word = bits[w] & (~uint64_t{0} >> (63 - (limit - 1) % 64));  // bits <= limit - 1
  for (;;) {
    if (word) return w * 64 + (63 - static_cast<size_t>(__builtin_clzll(word))) + 1;
    if (w == 0 || w * 64 <= floor) return kNone;
    word = bits[--w];
  }
}

// The lowest page of the run of set pages that ends at `end` - 1 (>= floor).
size_t run_start_below(const uint64_t* bits, size_t end, size_t floor) {
  size_t w = (end - 1) / 64;
  uint64_t clear = ~bits[w] & (~uint64_t{0} >> (63 - (end - 1) % 64));
  for (;;) {
    if (clear) {
      size_t start = w * 64 + (63 - static_cast<size_t>(__builtin_clzll(clear))) + 1;
      return start > floor ? start : floor;
    }
    if (w == 0 || w * 64 <= floor) return floor;
    clear = ~bits[--w];
  }
}

void clear_bits(uint64_t* bits, size_t first, size_t end) {
  for (size_t p = first; p < end;) {
    size_t n = 64 - p % 64 < end - p ? 64 - p % 64 : end - p;
    uint64_t mask = n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1) << (p % 64);
    bits[p / 64] &= ~mask;
    p += n;
  }
}

}  // namespace

// Runs of adjacent queued pages, from the top of g's span down, one madvise
// each. A partial discard leaves g's lower pages queued: its span's hi moves
// down to the lowest page given back (lo stays: the span stays a cover).
size_t LazyWindow::discard(Generation& g, Why why, size_t budget) {
  size_t done = 0, limit = g.hi;  // no page of g at or above limit
  while (done < budget && g.count > done) {
    size_t end = highest_set_below(g.bits, limit, g.lo);
    KHEAP_ASSERT(end != kNone);
    size_t start = run_start_below(g.bits, end, g.lo);
    if (end - start > budget - done) start = end - (budget - done);
    clear_bits(g.bits, start, end);
    discard_range(start, end - start, why);
    done += end - start;
    limit = start;
  }
  queued_pages_ -= done;
  g.count -= done;
  if (g.count == 0) g.lo = limit = 0;
  g.hi = limit;
  return done;
}

void LazyWindow::discard_range(size_t first, size_t count, Why why) {
  ::madvise(reinterpret_cast<void*>(window_base_ + (first << kPageShift)), count << kPageShift, MADV_DONTNEED);
  ++discard_calls_;
  discarded_pages_ += count;
  if (why == Why::Aged) aged_pages_ += count;
  if (why == Why::Bound) bound_pages_ += count;
}

bool LazyWindow::check() const {
  if (!bitmap_) return true;
  size_t words = ((window_bytes_ >> kPageShift) + 63) / 64;
  size_t mapped = 0;
  for (size_t w = 0; w < words; ++w) {
    uint64_t m = bitmap_[w], y = young_.bits[w], o = old_.bits[w];
    if ((m & y) || (m & o) || (y & o)) return false;  // queued and mapped, or in both generations
    mapped += static_cast<size_t>(__builtin_popcountll(m));
  }
  const Generation* gens[] = {&young_, &old_};
  for (const Generation* g : gens) {
    size_t n = 0;
    for (size_t w = 0; w < words; ++w) {
      uint64_t bits = g->bits[w];
      while (bits) {
        size_t page = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
        if (page < g->lo || page >= g->hi) return false;
        bits &= bits - 1;
        ++n;
      }
    }
    if (n != g->count || (n == 0 && (g->lo | g->hi) != 0)) return false;
  }
  return mapped == frames_in_use_ && frames_in_use_ <= frame_limit_ && peak_frames_ >= frames_in_use_ &&
         queued_pages_ == young_.count + old_.count &&
         unmapped_pages_ == queued_pages_ + discarded_pages_ + dequeued_pages_ &&
         aged_pages_ + bound_pages_ <= discarded_pages_;
}

}  // namespace kheap::host

#endif  // __linux__
