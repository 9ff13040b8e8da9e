// lib/pmm/buddy.cpp — the binary buddy page-frame allocator (see buddy.h for the
// invariants and the indexing scheme).
//
// Frame states:
//   Reserved   never handed out: holes between usable ranges, the padding up to
//              4 MiB boundaries, frame 0, and the Frame array itself (owner
//              kOwnerPmmMetadata).
//   Free       head (is_head, order = k, on list k) or tail (not a head, on no list).
//   Allocated  head (is_head, order = the order it was allocated with) or tail;
//              every frame of the block carries the owner tag.
// Every frame that is not a head has order kTailOrder, so "an allocated head
// of order k" or "a free head of order k" is one 16-bit compare of state+order.
// Links of frames that are not free heads are meaningless (may be stale).
// The order-0 paths (pop a list head / push and find the buddy busy) are kept
// short on purpose: they are the hot paths of the frame source.
#include "pmm/buddy.h"

#include <cstdarg>

#include "core/assert.h"
#include "core/bitops.h"
#include "core/format.h"
#include "core/report.h"
#include "platform/platform.h"

namespace kheap::pmm {

namespace {

constexpr uint32_t kMaxBlockFrames = 1u << kMaxOrder;

// Highest frame number (exclusive) we index: the frame numbers must fit in
// uint32_t and, on i386, the end address must fit in PhysAddr.
constexpr uint64_t kMaxEndFrame = sizeof(PhysAddr) == 4 ? (uint64_t{1} << 20) - kMaxBlockFrames
                                                        : (uint64_t{1} << 32) - kMaxBlockFrames;

const char* state_name(FrameState s) {
  switch (s) {
    case FrameState::Reserved: return "reserved";
    case FrameState::Free: return "free";
    case FrameState::Allocated: return "allocated";
  }
  return "corrupt";
}

const char* owner_name(uint16_t owner) {
  switch (owner) {
    case kOwnerNone: return "none";
    case kOwnerPmmMetadata: return "pmm metadata";
    case kOwnerPageTable: return "page table";
    case kOwnerBreak: return "kernel break";
    case kOwnerTest: return "test";
    default: return "other";
  }
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// State and order of a frame as one 16-bit value (state in the low byte).
static_assert(offsetof(Frame, order) == offsetof(Frame, state) + 1, "state and order are compared together");
inline uint32_t state_order(const Frame& f) {
  uint16_t v;
  __builtin_memcpy(&v, reinterpret_cast<const char*>(&f) + offsetof(Frame, state), sizeof v);
  return v;
}
constexpr uint32_t state_order_key(FrameState s, unsigned order) {
  return static_cast<uint32_t>(s) | (order << 8);
}
// Write state, order and owner with one 32-bit store.
static_assert(offsetof(Frame, owner) == offsetof(Frame, state) + 2, "state, order, owner are written together");
inline void set_state_order_owner(Frame& f, FrameState s, unsigned order, uint16_t owner) {
  uint32_t v = static_cast<uint32_t>(s) | (order << 8) | (static_cast<uint32_t>(owner) << 16);
  __builtin_memcpy(reinterpret_cast<char*>(&f) + offsetof(Frame, state), &v, sizeof v);
}

// Bulk init of metadata entries: the template is copied as two 64-bit words
// (a plain struct assignment made GCC rebuild it on the stack every iteration).
void fill_frames(Frame* frames, uint32_t begin, uint32_t end, FrameState state) {
  const Frame tmpl = {kNoFrame, kNoFrame, state, kTailOrder, kOwnerNone, false, {}};
  uint64_t words[2];
  __builtin_memcpy(words, &tmpl, sizeof words);
  static_assert(sizeof words == sizeof(Frame));
  for (uint32_t i = begin; i < end; ++i) __builtin_memcpy(&frames[i], words, sizeof words);
}

}  // namespace

/* --- Free lists ------------------------------------------------------------ */

inline void BuddyAllocator::push_free(uint32_t index, unsigned order) {
  Frame& f = frames_[index];
  uint32_t head = free_head_[order];
  f.next = head;
  f.prev = kNoFrame;
  f.is_head = true;
  f.order = static_cast<uint8_t>(order);
  if (head != kNoFrame) frames_[head].prev = index;
  free_head_[order] = index;
  ++free_count_[order];
  free_frames_ += size_t{1} << order;
}

inline void BuddyAllocator::unlink_free(uint32_t index, unsigned order) {
  Frame& f = frames_[index];
  if (f.prev != kNoFrame)
    frames_[f.prev].next = f.next;
  else
    free_head_[order] = f.next;
  if (f.next != kNoFrame) frames_[f.next].prev = f.prev;
  f.next = f.prev = kNoFrame;
  --free_count_[order];
  free_frames_ -= size_t{1} << order;
}

// Set state and owner of the tail frames of the block at `index` (the head is the caller's).
void BuddyAllocator::mark_block(uint32_t index, unsigned order, FrameState state, uint16_t owner) {
  uint32_t end = index + (1u << order);
  for (uint32_t i = index + 1; i < end; ++i) {
    frames_[i].state = state;
    frames_[i].order = kTailOrder;
    frames_[i].owner = owner;
  }
}

// Push [begin, end) (frame indices, all Free tails) as maximal aligned blocks, highest
// first, so that the lowest block ends up at the head of its list.
void BuddyAllocator::add_free_range(uint32_t begin, uint32_t end) {
  while (end > begin) {
    unsigned k = end == 0 ? kMaxOrder : static_cast<unsigned>(__builtin_ctz(end));
    if (k > kMaxOrder) k = kMaxOrder;
    while ((1u << k) > end - begin) --k;
    end -= 1u << k;
    push_free(end, k);
  }
}

/* --- Init -------------------------------------------------------------------- */

bool BuddyAllocator::init(const NormalizedMap& map, uint64_t metadata_limit, PhysToVirt phys_to_virt, void* context) {
  *this = BuddyAllocator{};
  for (unsigned k = 0; k <= kMaxOrder; ++k) free_head_[k] = kNoFrame;

  // The map must be normalized: sorted, disjoint, page aligned.
  if (map.count > kMaxUsableRanges) {
    report_bug(BugClass::BadArgument, "  pmm init: %zu ranges (at most %zu)\n", map.count, kMaxUsableRanges);
    return false;
  }
  for (size_t r = 0; r < map.count; ++r) {
    const UsableRange& u = map.ranges[r];
    bool aligned = is_aligned(static_cast<uintptr_t>(u.base), kPageSize) && is_aligned(static_cast<uintptr_t>(u.end), kPageSize);
    if (!aligned || u.end <= u.base || (r > 0 && u.base < map.ranges[r - 1].end)) {
      report_bug(BugClass::BadArgument, "  pmm init: range %zu [0x%llx, 0x%llx) is not normalized\n", r, ull(u.base),
                 ull(u.end));
      return false;
    }
  }

  // The usable ranges as frame numbers, clamped to what we can index.
  uint64_t lo = kMaxEndFrame, hi = 0;
  for (size_t r = 0; r < map.count; ++r) {
    uint64_t b = map.ranges[r].base >> kPageShift, e = map.ranges[r].end >> kPageShift;
    if (e > kMaxEndFrame) e = kMaxEndFrame;
    if (b >= e) continue;
    if (b < lo) lo = b;
    if (e > hi) hi = e;
  }
  if (hi == 0 || phys_to_virt == nullptr) {
    report_bug(BugClass::BadArgument, "  pmm init: no usable memory in the map (%zu ranges)\n", map.count);
    return false;
  }
  uint64_t first = align_down64(lo, kMaxBlockFrames);
  uint64_t count = align_up64(hi, kMaxBlockFrames) - first;
  uint64_t meta_bytes = count * sizeof(Frame);
  uint64_t meta_pages = align_up64(meta_bytes, kPageSize) >> kPageShift;

  // Lowest fit below metadata_limit, never at frame 0.
  uint64_t limit_frame = metadata_limit >> kPageShift;
  uint64_t meta_frame = 0;
  for (size_t r = 0; r < map.count && meta_frame == 0; ++r) {
    uint64_t b = map.ranges[r].base >> kPageShift, e = map.ranges[r].end >> kPageShift;
    if (b == 0) b = 1;
    if (e > limit_frame) e = limit_frame;
    if (e > kMaxEndFrame) e = kMaxEndFrame;
    if (b < e && e - b >= meta_pages) meta_frame = b;
  }
  if (meta_frame == 0) {
    report_bug(BugClass::BadArgument,
               "  pmm init: no usable range below 0x%llx can hold the frame metadata (%llu bytes for %llu frames)\n",
               ull(metadata_limit), ull(meta_bytes), ull(count));
    return false;
  }
  auto* frames = static_cast<Frame*>(phys_to_virt(static_cast<PhysAddr>(meta_frame << kPageShift), context));
  if (frames == nullptr) {
    report_bug(BugClass::BadArgument, "  pmm init: metadata at 0x%llx is not reachable\n", ull(meta_frame << kPageShift));
    return false;
  }

  frames_ = frames;
  first_frame_ = static_cast<uint32_t>(first);
  first_addr_ = static_cast<PhysAddr>(first << kPageShift);
  frame_count_ = static_cast<uint32_t>(count);
  metadata_phys_ = static_cast<PhysAddr>(meta_frame << kPageShift);
  metadata_bytes_ = static_cast<size_t>(meta_bytes);
  uint32_t meta_begin = static_cast<uint32_t>(meta_frame - first);
  uint32_t meta_end = meta_begin + static_cast<uint32_t>(meta_pages);

  // Bulk metadata: one pass writing every entry once (Reserved gaps, Free usable frames).
  uint32_t pos = 0;
  for (size_t r = 0; r < map.count; ++r) {
    uint64_t b = map.ranges[r].base >> kPageShift, e = map.ranges[r].end >> kPageShift;
    if (e > kMaxEndFrame) e = kMaxEndFrame;
    if (b >= e) continue;
    auto rb = static_cast<uint32_t>(b - first), re = static_cast<uint32_t>(e - first);
    fill_frames(frames_, pos, rb, FrameState::Reserved);
    fill_frames(frames_, rb, re, FrameState::Free);
    pos = re;
  }
  fill_frames(frames_, pos, frame_count_, FrameState::Reserved);
  for (uint32_t i = meta_begin; i < meta_end; ++i) {
    frames_[i].state = FrameState::Reserved;
    frames_[i].owner = kOwnerPmmMetadata;
  }
  if (first == 0 && frames_[0].state == FrameState::Free) {
    frames_[0].state = FrameState::Reserved;
    withheld_frames_ = 1;
  }
  for (size_t r = 0; r < map.count; ++r) {
    uint64_t e = map.ranges[r].end >> kPageShift;
    uint64_t b = map.ranges[r].base >> kPageShift;
    if (e > kMaxEndFrame) withheld_frames_ += static_cast<size_t>(e - (b > kMaxEndFrame ? b : kMaxEndFrame));
  }

  // Free lists: each usable range minus metadata and frame 0, highest range first.
  for (size_t r = map.count; r-- > 0;) {
    uint64_t b = map.ranges[r].base >> kPageShift, e = map.ranges[r].end >> kPageShift;
    if (e > kMaxEndFrame) e = kMaxEndFrame;
    if (b == 0) b = 1;
    if (b >= e) continue;
    auto rb = static_cast<uint32_t>(b - first), re = static_cast<uint32_t>(e - first);
    if (meta_begin >= rb && meta_end <= re) {
      add_free_range(meta_end, re);
      add_free_range(rb, meta_begin);
    } else {
      add_free_range(rb, re);
    }
  }
  total_frames_ = free_frames_;
  return true;
}

/* --- Alloc ------------------------------------------------------------------- */

PhysAddr BuddyAllocator::alloc_frame(uint16_t owner) {
  // Fast path: pop the head of list 0 (its prev link is already kNoFrame).
  uint32_t i = free_head_[0];
  if (__builtin_expect(i == kNoFrame, 0)) return alloc_slow(0, owner);
  Frame& f = frames_[i];
  uint32_t next = f.next;
  free_head_[0] = next;
  if (next != kNoFrame) frames_[next].prev = kNoFrame;
  f.state = FrameState::Allocated;
  f.owner = owner;
  --free_count_[0];
  --free_frames_;
  return index_to_addr(i);
}

PhysAddr BuddyAllocator::alloc_pages(unsigned order, uint16_t owner) {
  return order == 0 ? alloc_frame(owner) : alloc_slow(order, owner);
}

PhysAddr BuddyAllocator::alloc_slow(unsigned order, uint16_t owner) {
  if (order > kMaxOrder) {
    report_bug(BugClass::BadArgument, "  alloc_pages(order %u): order above the maximum %u (%u KiB blocks)\n", order,
               kMaxOrder, (1u << kMaxOrder) * static_cast<unsigned>(kPageSize / 1024));
    return 0;
  }
  unsigned k = order;
  while (k <= kMaxOrder && free_head_[k] == kNoFrame) ++k;
  if (k > kMaxOrder) return 0;  // out of memory: not a bug, no report

  uint32_t i = free_head_[k];
  unlink_free(i, k);
  // Split: the upper halves go back on the lower lists.
  while (k > order) {
    --k;
    push_free(i + (1u << k), k);
  }
  Frame& f = frames_[i];
  f.state = FrameState::Allocated;
  f.owner = owner;
  f.order = static_cast<uint8_t>(order);
  f.is_head = true;
  mark_block(i, order, FrameState::Allocated, owner);
  return index_to_addr(i);
}

/* --- Free -------------------------------------------------------------------- */

// (addr - first) / kPageSize, rotated so that an address that is not page
// aligned (low bits set) or below the first frame gives an index far beyond
// frame_count_: one compare checks range and alignment.
inline PhysAddr BuddyAllocator::frame_index_of(PhysAddr addr) const {
  PhysAddr offset = addr - first_addr_;
  return (offset >> kPageShift) | (offset << (sizeof(PhysAddr) * 8 - kPageShift));
}

bool BuddyAllocator::free_frame(PhysAddr addr) {
  PhysAddr index = frame_index_of(addr);
  if (__builtin_expect(index >= frame_count_, 0)) return refuse_free(addr, 0);
  Frame& f = frames_[index];
  if (__builtin_expect(state_order(f) != state_order_key(FrameState::Allocated, 0), 0)) return refuse_free(addr, 0);
  auto i = static_cast<uint32_t>(index);
  // Fast path: the buddy is busy (the steady state), so no coalescing: push on list 0.
  if (__builtin_expect(state_order(frames_[i ^ 1]) == state_order_key(FrameState::Free, 0), 0)) {
    free_block(i, 0);
    return true;
  }
  set_state_order_owner(f, FrameState::Free, 0, kOwnerNone);
  // An allocated head's prev link is always kNoFrame (it was a list head or unlinked when taken).
  KHEAP_ASSERT_INTERNAL(f.prev == kNoFrame);
  uint32_t head = free_head_[0];
  f.next = head;
  if (head != kNoFrame) frames_[head].prev = i;
  free_head_[0] = i;
  ++free_count_[0];
  ++free_frames_;
  return true;
}

bool BuddyAllocator::free_pages(PhysAddr addr, unsigned order) {
  if (order == 0) return free_frame(addr);
  PhysAddr index = frame_index_of(addr);
  // An allocated head of the right order (necessarily aligned to that order).
  if (index >= frame_count_ || order > kMaxOrder ||
      state_order(frames_[index]) != state_order_key(FrameState::Allocated, order))
    return refuse_free(addr, order);
  free_block(static_cast<uint32_t>(index), order);
  return true;
}

// Free the validated allocated block at `i` and coalesce it with free buddies.
void BuddyAllocator::free_block(uint32_t i, unsigned order) {
  Frame& f = frames_[i];
  mark_block(i, order, FrameState::Free, kOwnerNone);
  f.state = FrameState::Free;
  f.owner = kOwnerNone;
  unsigned k = order;
  while (k < kMaxOrder) {
    uint32_t b = i ^ (1u << k);
    Frame& bf = frames_[b];
    if (state_order(bf) != state_order_key(FrameState::Free, k)) break;
    KHEAP_ASSERT_INTERNAL(bf.is_head);
    unlink_free(b, k);
    bf.is_head = false;
    bf.order = kTailOrder;
    f.is_head = false;
    f.order = kTailOrder;
    i &= ~(1u << k);
    ++k;
  }
  push_free(i, k);
}

// The misuse paths of free_pages: say exactly what is wrong, change nothing.
bool BuddyAllocator::refuse_free(PhysAddr addr, unsigned order) const {
  PhysAddr index = (addr >> kPageShift) - first_frame_;
  if (frames_ == nullptr || index >= frame_count_) {
    report_bug(BugClass::OutOfRange,
               "  free_pages(0x%llx, order %u): address outside the managed frames [0x%llx, 0x%llx)\n", ull(addr),
               order, ull(first_frame_addr()), ull(end_frame_addr()));
    return false;
  }
  auto i = static_cast<uint32_t>(index);
  const Frame& f = frames_[i];
  PhysAddr frame_addr = index_to_addr(i);
  // The head of the block containing frame i (a free or allocated one), or i itself.
  uint32_t head = i;
  unsigned head_order = f.order;
  if (f.state != FrameState::Reserved && !f.is_head) {
    for (unsigned k = 1; k <= kMaxOrder; ++k) {
      uint32_t h = i & ~((1u << k) - 1);
      const Frame& hf = frames_[h];
      if (hf.is_head && hf.state == f.state && h + (1u << hf.order) > i) {
        head = h;
        head_order = hf.order;
        break;
      }
    }
  }
  if (order > kMaxOrder) {
    report_bug(BugClass::WrongOrder,
               "  free_pages(0x%llx, order %u): order above the maximum %u (frame is %s, order %u)\n", ull(addr),
               order, kMaxOrder, state_name(f.state), f.order);
  } else if ((addr & (kPageSize - 1)) != 0) {
    report_bug(BugClass::Unaligned,
               "  free_pages(0x%llx, order %u): address is not page aligned (frame 0x%llx is %s, order %u)\n",
               ull(addr), order, ull(frame_addr), state_name(f.state), f.order);
  } else if (f.state == FrameState::Reserved) {
    report_bug(BugClass::ReservedFrame,
               "  free_pages(0x%llx, order %u): frame 0x%llx is reserved (owner %s), never handed out\n", ull(addr),
               order, ull(frame_addr), owner_name(f.owner));
  } else if (f.state == FrameState::Free) {
    report_bug(BugClass::DoubleFree,
               "  free_pages(0x%llx, order %u): frame 0x%llx is already free (%s the free block 0x%llx of order %u)\n",
               ull(addr), order, ull(frame_addr), head == i ? "head of" : "inside", ull(index_to_addr(head)),
               head_order);
  } else if (f.is_head) {
    report_bug(BugClass::WrongOrder,
               "  free_pages(0x%llx, order %u): frame 0x%llx is allocated with order %u (owner %s)\n", ull(addr),
               order, ull(frame_addr), f.order, owner_name(f.owner));
  } else if ((i & ((1u << order) - 1)) != 0) {
    report_bug(BugClass::Unaligned,
               "  free_pages(0x%llx, order %u): address not aligned to order %u (frame 0x%llx is allocated, inside "
               "the block 0x%llx of order %u)\n",
               ull(addr), order, order, ull(frame_addr), ull(index_to_addr(head)), head_order);
  } else {
    report_bug(BugClass::InvalidFree,
               "  free_pages(0x%llx, order %u): frame 0x%llx is allocated but inside the block 0x%llx of order %u, "
               "not its head\n",
               ull(addr), order, ull(frame_addr), ull(index_to_addr(head)), head_order);
  }
  return false;
}

/* --- Queries ------------------------------------------------------------------ */

BuddyStats BuddyAllocator::stats() const {
  BuddyStats s{};
  s.total_frames = total_frames_;
  s.free_frames = free_frames_;
  s.allocated_frames = total_frames_ - free_frames_;
  s.metadata_frames = pages_for(metadata_bytes_);
  s.withheld_frames = withheld_frames_;
  for (unsigned k = 0; k <= kMaxOrder; ++k) s.free_blocks[k] = free_count_[k];
  return s;
}

const Frame* BuddyAllocator::frame_info(PhysAddr addr) const {
  PhysAddr index = (addr >> kPageShift) - first_frame_;
  if (frames_ == nullptr || index >= frame_count_) return nullptr;
  return &frames_[index];
}

void BuddyAllocator::set_owner(PhysAddr addr, uint16_t owner) {
  PhysAddr index = (addr >> kPageShift) - first_frame_;
  if (frames_ == nullptr || index >= frame_count_) return;
  Frame& f = frames_[index];
  if (f.state != FrameState::Allocated) return;
  f.owner = owner;
  if (f.is_head) mark_block(static_cast<uint32_t>(index), f.order, FrameState::Allocated, owner);
}

/* --- Invariants --------------------------------------------------------------- */

bool BuddyAllocator::fail_check(const char* fmt, ...) const {
  char text[400];
  va_list args;
  va_start(args, fmt);
  vformat(text, sizeof text, fmt, args);
  va_end(args);
  report_bug(BugClass::FreeListCorruption, "  pmm check: %s\n  pmm: frames [0x%llx, 0x%llx), metadata at 0x%llx\n",
             text, ull(first_frame_addr()), ull(end_frame_addr()), ull(metadata_phys_));
  return false;
}

bool BuddyAllocator::check() const {
  if (frames_ == nullptr) return true;  // never initialised: nothing to check
  size_t heads[kMaxOrder + 1] = {};
  size_t free_frames = 0, allocated_frames = 0;

  // 1. Walk the array block by block.
  for (uint32_t i = 0; i < frame_count_;) {
    const Frame& f = frames_[i];
    if (f.state == FrameState::Reserved) {
      if (f.is_head || f.order != kTailOrder)
        return fail_check("reserved frame 0x%llx is marked as a block head (order %u)", ull(index_to_addr(i)), f.order);
      ++i;
      continue;
    }
    if (f.state != FrameState::Free && f.state != FrameState::Allocated)
      return fail_check("frame 0x%llx has invalid state %u", ull(index_to_addr(i)), static_cast<unsigned>(f.state));
    if (!f.is_head)
      return fail_check("%s frame 0x%llx belongs to no block", state_name(f.state), ull(index_to_addr(i)));
    unsigned k = f.order;
    if (k > kMaxOrder) return fail_check("block 0x%llx has order %u", ull(index_to_addr(i)), k);
    uint32_t size = 1u << k;
    if ((i & (size - 1)) != 0)
      return fail_check("%s block 0x%llx of order %u is not aligned to its order", state_name(f.state),
                        ull(index_to_addr(i)), k);
    if (i + size > frame_count_)
      return fail_check("block 0x%llx of order %u runs past the end", ull(index_to_addr(i)), k);
    for (uint32_t t = i + 1; t < i + size; ++t) {
      if (frames_[t].state != f.state || frames_[t].is_head || frames_[t].order != kTailOrder)
        return fail_check("%s block 0x%llx of order %u: frame 0x%llx is %s%s, order %u", state_name(f.state),
                          ull(index_to_addr(i)), k, ull(index_to_addr(t)), state_name(frames_[t].state),
                          frames_[t].is_head ? " (a head)" : "", frames_[t].order);
    }
    if (f.state == FrameState::Free) {
      ++heads[k];
      free_frames += size;
      if (k < kMaxOrder) {
        const Frame& b = frames_[i ^ size];
        if (b.state == FrameState::Free && b.is_head && b.order == k)
          return fail_check("free buddies 0x%llx and 0x%llx of order %u are not coalesced", ull(index_to_addr(i)),
                            ull(index_to_addr(i ^ size)), k);
      }
    } else {
      allocated_frames += size;
    }
    i += size;
  }

  // 2. Walk the lists: each node a free head of that order, links consistent, no cycles.
  size_t listed_frames = 0;
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    size_t n = 0;
    uint32_t prev = kNoFrame;
    for (uint32_t i = free_head_[k]; i != kNoFrame; prev = i, i = frames_[i].next) {
      if (i >= frame_count_) return fail_check("list %u: link %u (after %u) is out of range", k, i, prev);
      const Frame& f = frames_[i];
      if (f.state != FrameState::Free || !f.is_head || f.order != k)
        return fail_check("list %u: frame 0x%llx is %s, head=%d, order %u", k, ull(index_to_addr(i)),
                          state_name(f.state), f.is_head ? 1 : 0, f.order);
      if (f.prev != prev)
        return fail_check("list %u: frame 0x%llx has prev %u, expected %u", k, ull(index_to_addr(i)), f.prev, prev);
      if (++n > heads[k]) return fail_check("list %u is longer than the %zu free blocks of that order (a cycle?)", k, heads[k]);
    }
    if (n != heads[k]) return fail_check("list %u has %zu blocks, the array has %zu free heads", k, n, heads[k]);
    if (n != free_count_[k]) return fail_check("list %u has %zu blocks, the counter says %zu", k, n, free_count_[k]);
    listed_frames += n << k;
  }
  if (listed_frames != free_frames_ || free_frames != free_frames_)
    return fail_check("free total %zu, lists hold %zu frames, array %zu", free_frames_, listed_frames, free_frames);
  if (free_frames + allocated_frames != total_frames_)
    return fail_check("free %zu + allocated %zu frames != total %zu", free_frames, allocated_frames, total_frames_);
  return true;
}

}  // namespace kheap::pmm
