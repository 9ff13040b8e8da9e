// lib/pmm/buddy.h — the physical page-frame allocator: a binary buddy system.
//
// Owns every frame of the usable ranges it is given. Blocks of 2^order frames,
// order 0 .. kMaxOrder (kMaxOrder = 10: 4 MiB blocks). One Frame entry per
// frame between the lowest and highest managed frame holds its state, the
// order of a free block's head, an owner tag, and the free-list links (as frame
// indices, so the metadata has the same layout on i386 and x86-64 and never
// needs the frames themselves to be mapped).
//
// The Frame array is carved out of the usable memory itself, below
// `metadata_limit` (memory the caller can reach through `phys_to_virt`).
//
// Invariants (checked by check()):
//  - a free block of order k is 2^k-frame aligned (relative to frame 0), lies
//    entirely in usable frames, its head has state Free and order k, its tail
//    frames have state Free and are on no list;
//  - no two free blocks overlap; per-order counts and the free total agree
//    with the lists.
//  - a free head's buddy (index ^ 2^k) is not a free head of the same order
//    (coalescing is complete); tails of an allocated block are Allocated,
//    not heads; free_frames_ + allocated frames == total_frames_.
// Misuse (double free, wrong order, unaligned, out of range, reserved frame,
// interior frame of a block) is reported through core/report.h and refused:
// state is unchanged. Out of memory returns 0 and reports nothing.
//
// Indexing: first_frame_ is aligned down to a 2^kMaxOrder-frame (4 MiB)
// boundary and frame_count_ is a multiple of 2^kMaxOrder (the padding frames
// are Reserved), so "aligned relative to frame index i" is the same as
// physically aligned, and a buddy (i ^ 2^k) is always inside the array.
// Free-list links and free_list_head() are such indices (into the Frame
// array, i.e. relative to first_frame_). Frame 0 (physical address 0) is
// never handed out. After init the lists hand out the lowest addresses first.
//
// Not thread-safe: the caller serializes (the kernel is single-CPU).
#pragma once

#include "core/types.h"
#include "pmm/memory_map.h"

namespace kheap::pmm {

inline constexpr unsigned kMaxOrder = 10;
inline constexpr uint32_t kNoFrame = 0xFFFFFFFFu;
inline constexpr uint8_t kTailOrder = 0xFF;  // Frame::order of every frame that is not a block head

enum class FrameState : uint8_t { Reserved = 0, Free = 1, Allocated = 2 };

// Owner tags that layers above set on frames they hold (informational; shown by reports/gdb).
enum FrameOwner : uint16_t {
  kOwnerNone = 0,
  kOwnerPmmMetadata = 1,
  kOwnerPageTable = 2,
  kOwnerBreak = 3,  // mapped into the kernel break
  kOwnerTest = 4,
};

struct Frame {
  uint32_t next;      // free-list link (frame index) or kNoFrame; only for free heads
  uint32_t prev;
  FrameState state;
  uint8_t order;      // for a free head: its order; for an allocated head: the order it was allocated with;
                      // kTailOrder for every other frame (so state+order identify a head in one compare)
  uint16_t owner;     // FrameOwner
  bool is_head;       // head of a free or allocated block
  uint8_t reserved_[3];
};
static_assert(sizeof(Frame) == 16, "the gdb extension relies on this layout");

struct BuddyStats {
  size_t total_frames;       // usable frames managed (free + allocated, excluding reserved)
  size_t free_frames;
  size_t allocated_frames;
  size_t metadata_frames;    // frames taken by the Frame array itself
  size_t withheld_frames;    // other usable frames never handed out (frame 0, memory past the index range)
  size_t free_blocks[kMaxOrder + 1];
};

class BuddyAllocator {
 public:
  using PhysToVirt = void* (*)(PhysAddr phys, void* context);

  // Initialise from a normalized map. Returns false (and reports) if no usable
  // memory below `metadata_limit` can hold the metadata.
  bool init(const NormalizedMap& map, uint64_t metadata_limit, PhysToVirt phys_to_virt, void* context);

  // A block of 2^order frames (physical address of its first byte), or 0.
  PhysAddr alloc_pages(unsigned order, uint16_t owner = kOwnerNone);
  // Free a block allocated with alloc_pages(order). Returns false and reports on misuse.
  bool free_pages(PhysAddr addr, unsigned order);

  // Single frames: the same as alloc_pages(0) / free_pages(addr, 0), the hot path.
  PhysAddr alloc_frame(uint16_t owner = kOwnerNone);
  bool free_frame(PhysAddr addr);

  // Walk everything and verify the invariants above. Reports what is wrong and returns false.
  bool check() const;

  BuddyStats stats() const;
  size_t free_frame_count() const { return free_frames_; }
  size_t free_blocks(unsigned order) const { return order <= kMaxOrder ? free_count_[order] : 0; }

  // Metadata of the frame containing `addr`, or nullptr if outside [first, end).
  const Frame* frame_info(PhysAddr addr) const;
  void set_owner(PhysAddr addr, uint16_t owner);

  PhysAddr metadata_base() const { return metadata_phys_; }
  size_t metadata_bytes() const { return metadata_bytes_; }
  PhysAddr first_frame_addr() const { return static_cast<PhysAddr>(first_frame_) << kPageShift; }
  PhysAddr end_frame_addr() const { return static_cast<PhysAddr>(first_frame_ + frame_count_) << kPageShift; }
  // Head frame index of the first free block of `order`, or kNoFrame (for gdb/monitor).
  uint32_t free_list_head(unsigned order) const { return order <= kMaxOrder ? free_head_[order] : kNoFrame; }
  // Frame-array index <-> physical address (index i describes frame first_frame_ + i).
  PhysAddr index_to_addr(uint32_t index) const { return static_cast<PhysAddr>(first_frame_ + index) << kPageShift; }
  uint32_t frame_count() const { return frame_count_; }
  size_t total_frame_count() const { return total_frames_; }

 private:
  // (implementation detail; see buddy.cpp)
  Frame* frames_ = nullptr;       // frames_[i] describes frame first_frame_ + i
  uint32_t first_frame_ = 0;
  uint32_t frame_count_ = 0;
  static_assert(kMaxOrder == 10, "free_head_'s initializer lists kMaxOrder + 1 entries");
  uint32_t free_head_[kMaxOrder + 1] = {kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame,
                                        kNoFrame, kNoFrame, kNoFrame, kNoFrame, kNoFrame};  // empty before init
  size_t free_count_[kMaxOrder + 1] = {};
  size_t free_frames_ = 0;
  size_t total_frames_ = 0;
  PhysAddr metadata_phys_ = 0;
  size_t metadata_bytes_ = 0;
  size_t withheld_frames_ = 0;
  PhysAddr first_addr_ = 0;       // first_frame_ << kPageShift

  PhysAddr frame_index_of(PhysAddr addr) const;

  void push_free(uint32_t index, unsigned order);
  void unlink_free(uint32_t index, unsigned order);
  void mark_block(uint32_t index, unsigned order, FrameState state, uint16_t owner);
  PhysAddr alloc_slow(unsigned order, uint16_t owner);
  void free_block(uint32_t index, unsigned order);
  bool refuse_free(PhysAddr addr, unsigned order) const;
  void add_free_range(uint32_t begin, uint32_t end);
  bool fail_check(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
};

}  // namespace kheap::pmm
