// host_tests/vm_test.cpp — lib/vm (KernelBreak, PageHeap) against a fake frame
// source and mapper: every failure path can be injected exactly (fail on the
// Nth frame or the Nth map), and the fake checks the contract from below
// (no double map, no unmapping what is not mapped, no freeing a frame that is
// still mapped, no leak). The window is ordinary always-accessible memory, so
// the PageInfo array can live there; real faulting is host_machine_test's job.
#include <array>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <vector>

#include "core/bitops.h"
#include "core/report.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

using namespace kheap;
using kheap::vm::KernelBreak;
using kheap::vm::PageHeap;
using kheap::vm::PageHeapStats;
using kheap::vm::PageInfo;
using kheap::vm::PageKind;
using kheap::vm::RunInfo;
using kheap::vm::RunOwner;

namespace {

class FakeMachine final : public platform::FrameSource, public platform::Mapper {
 public:
  FakeMachine(size_t window_pages, size_t frames) : window_pages_(window_pages), allocated_(frames + 1, false),
                                                    mapped_frame_(frames + 1, false), table_(window_pages, 0) {
    window_ = static_cast<char*>(::operator new(window_pages * kPageSize, std::align_val_t{kPageSize}));
    for (size_t f = frames; f >= 1; --f) free_.push_back(f * kPageSize);  // lowest first
  }
  ~FakeMachine() { ::operator delete(window_, std::align_val_t{kPageSize}); }  // (no aligned_alloc on Windows)

  VirtAddr base() const { return reinterpret_cast<VirtAddr>(window_); }
  VirtAddr limit() const { return base() + window_pages_ * kPageSize; }

  PhysAddr alloc_frame() override {
    if (fail_frames_after_ == 0) return 0;
    if (free_.empty()) return 0;
    if (fail_frames_after_ > 0) --fail_frames_after_;
    PhysAddr f = free_.back();
    free_.pop_back();
    allocated_[f / kPageSize] = true;
    return f;
  }
  bool free_frame(PhysAddr frame) override {
    size_t i = frame / kPageSize;
    if (frame % kPageSize || i == 0 || i >= allocated_.size() || !allocated_[i]) {
      ADD_FAILURE() << "free_frame of a frame that is not allocated: " << frame;
      return false;
    }
    if (mapped_frame_[i]) ADD_FAILURE() << "free_frame of a frame that is still mapped: " << frame;
    allocated_[i] = false;
    free_.push_back(frame);
    return true;
  }
  size_t free_frame_count() const override { return free_.size(); }

  bool map_page(VirtAddr virt, PhysAddr frame) override {
    if (fail_maps_after_ == 0) return false;
    if (fail_maps_after_ > 0) --fail_maps_after_;
    size_t p = page(virt);
    if (table_[p] != 0) ADD_FAILURE() << "map_page over a mapped page at page " << p;
    if (!allocated_[frame / kPageSize]) ADD_FAILURE() << "map_page of an unallocated frame " << frame;
    if (mapped_frame_[frame / kPageSize]) ADD_FAILURE() << "frame mapped twice " << frame;
    table_[p] = frame;
    mapped_frame_[frame / kPageSize] = true;
    ++mapped_;
    ++map_calls_;
    return true;
  }
  PhysAddr unmap_page(VirtAddr virt) override {
    size_t p = page(virt);
    PhysAddr f = table_[p];
    if (f == 0) return 0;
    table_[p] = 0;
    mapped_frame_[f / kPageSize] = false;
    --mapped_;
    ++unmap_calls_;
    return f;
  }
  PhysAddr translate(VirtAddr virt) const override { return table_[page(virt)]; }

  size_t mapped() const { return mapped_; }
  void fail_frames_after(long n) { fail_frames_after_ = n; }
  void fail_maps_after(long n) { fail_maps_after_ = n; }
  size_t map_calls() const { return map_calls_; }

 private:
  size_t page(VirtAddr v) const {
    EXPECT_EQ(v % kPageSize, 0u);
    EXPECT_GE(v, base());
    EXPECT_LT(v, limit());
    return (v - base()) / kPageSize;
  }
  size_t window_pages_;
  char* window_ = nullptr;
  std::vector<PhysAddr> free_;
  std::vector<bool> allocated_, mapped_frame_;
  std::vector<PhysAddr> table_;
  size_t mapped_ = 0, map_calls_ = 0, unmap_calls_ = 0;
  long fail_frames_after_ = -1, fail_maps_after_ = -1;
};

void* const kSbrkFail = reinterpret_cast<void*>(-1);

class ReportsOff : public ::testing::Test {
 protected:
  void SetUp() override {
    set_report_echo(false);
    reset_reports();
  }
  void TearDown() override { set_report_echo(true); }
};

/* --- KernelBreak --------------------------------------------------------------- */

class BreakTest : public ReportsOff {
 protected:
  FakeMachine m{64, 32};  // a 64-page window, 32 frames
  KernelBreak b;
  void SetUp() override {
    ReportsOff::SetUp();
    b.init(m.base(), m.limit(), &m, &m);
  }
  void expect_consistent() {
    EXPECT_EQ(b.mapped_end(), align_up(b.current(), kPageSize));
    EXPECT_EQ(m.mapped(), b.mapped_pages());
    EXPECT_EQ(m.free_frame_count(), 32 - b.mapped_pages());
    for (VirtAddr v = b.base(); v < b.limit(); v += kPageSize) EXPECT_EQ(m.translate(v) != 0, v < b.mapped_end());
  }
};

TEST_F(BreakTest, StartsEmptyAndBrkZeroAsksForTheBreak) {
  EXPECT_EQ(b.brk(0), m.base());
  EXPECT_EQ(b.current(), m.base());
  EXPECT_EQ(b.mapped_pages(), 0u);
  expect_consistent();
}

TEST_F(BreakTest, BrkIsByteGranularMappingIsPageGranular) {
  EXPECT_EQ(b.brk(m.base() + 1), m.base() + 1);
  EXPECT_EQ(b.mapped_pages(), 1u);
  EXPECT_EQ(b.brk(m.base() + kPageSize), m.base() + kPageSize);
  EXPECT_EQ(b.mapped_pages(), 1u);
  EXPECT_EQ(b.brk(m.base() + kPageSize + 1), m.base() + kPageSize + 1);
  EXPECT_EQ(b.mapped_pages(), 2u);
  expect_consistent();
  EXPECT_EQ(b.brk(m.base() + 100), m.base() + 100);
  EXPECT_EQ(b.mapped_pages(), 1u);
  expect_consistent();
  EXPECT_EQ(b.brk(m.base()), m.base());
  EXPECT_EQ(b.mapped_pages(), 0u);
  expect_consistent();
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(BreakTest, BrkOutsideTheWindowFailsWithTheCurrentBreak) {
  ASSERT_EQ(b.brk(m.base() + 3 * kPageSize), m.base() + 3 * kPageSize);
  EXPECT_EQ(b.brk(m.base() - 1), m.base() + 3 * kPageSize);
  EXPECT_EQ(b.brk(1), m.base() + 3 * kPageSize);
  EXPECT_EQ(b.brk(m.limit() + 1), m.base() + 3 * kPageSize);
  EXPECT_EQ(b.brk(UINTPTR_MAX), m.base() + 3 * kPageSize);
  expect_consistent();
  EXPECT_EQ(report_count(), 0u);  // failures are results, not bugs
}

TEST_F(BreakTest, BrkToTheLimitNeedsFramesForEveryPage) {
  // 64 pages wanted, 32 frames: fails and maps nothing more.
  ASSERT_EQ(b.brk(m.base() + 5 * kPageSize), m.base() + 5 * kPageSize);
  EXPECT_EQ(b.brk(m.limit()), m.base() + 5 * kPageSize);
  expect_consistent();
  EXPECT_EQ(b.brk(m.base() + 32 * kPageSize), m.base() + 32 * kPageSize);  // exactly all frames
  EXPECT_EQ(m.free_frame_count(), 0u);
  expect_consistent();
}

TEST_F(BreakTest, SbrkReturnsTheOldBreak) {
  EXPECT_EQ(b.sbrk(0), reinterpret_cast<void*>(m.base()));
  EXPECT_EQ(b.sbrk(10), reinterpret_cast<void*>(m.base()));
  EXPECT_EQ(b.sbrk(kPageSize), reinterpret_cast<void*>(m.base() + 10));
  EXPECT_EQ(b.current(), m.base() + 10 + kPageSize);
  EXPECT_EQ(b.mapped_pages(), 2u);
  EXPECT_EQ(b.sbrk(-static_cast<intptr_t>(kPageSize)), reinterpret_cast<void*>(m.base() + 10 + kPageSize));
  EXPECT_EQ(b.current(), m.base() + 10);
  EXPECT_EQ(b.mapped_pages(), 1u);
  EXPECT_EQ(b.sbrk(-10), reinterpret_cast<void*>(m.base() + 10));
  EXPECT_EQ(b.mapped_pages(), 0u);
  expect_consistent();
}

TEST_F(BreakTest, SbrkFailuresChangeNothing) {
  ASSERT_EQ(b.sbrk(2 * kPageSize), reinterpret_cast<void*>(m.base()));
  VirtAddr cur = b.current();
  EXPECT_EQ(b.sbrk(-static_cast<intptr_t>(2 * kPageSize) - 1), kSbrkFail);  // below base
  EXPECT_EQ(b.sbrk(INTPTR_MIN), kSbrkFail);                                // negation overflow
  EXPECT_EQ(b.sbrk(INTPTR_MAX), kSbrkFail);                                // addition overflow / past limit
  EXPECT_EQ(b.sbrk(static_cast<intptr_t>(m.limit() - cur) + 1), kSbrkFail);  // one byte past the limit
  EXPECT_EQ(b.sbrk(40 * kPageSize), kSbrkFail);                            // inside the window, not enough frames
  EXPECT_EQ(b.current(), cur);
  expect_consistent();
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(BreakTest, SbrkOverflowNearTheTopOfTheAddressSpace) {
  // A window ending at the very top of the address space: base + n wraps.
  FakeMachine top(4, 4);
  KernelBreak tb;
  tb.init(top.base(), top.limit(), &top, &top);
  EXPECT_EQ(tb.sbrk(static_cast<intptr_t>(UINTPTR_MAX - top.base()) ), kSbrkFail);
  EXPECT_EQ(tb.sbrk(INTPTR_MAX), kSbrkFail);
  EXPECT_EQ(tb.current(), top.base());
}

TEST_F(BreakTest, GrowRunningOutOfFramesPartWayLeaksNothing) {
  ASSERT_EQ(b.sbrk(3 * kPageSize), reinterpret_cast<void*>(m.base()));
  for (long after = 0; after < 8; ++after) {
    size_t free_before = m.free_frame_count();
    m.fail_frames_after(after);
    EXPECT_EQ(b.sbrk(8 * kPageSize), kSbrkFail) << after;
    EXPECT_EQ(b.brk(m.base() + 11 * kPageSize), m.base() + 3 * kPageSize) << after;
    m.fail_frames_after(-1);
    EXPECT_EQ(m.free_frame_count(), free_before);
    EXPECT_EQ(b.current(), m.base() + 3 * kPageSize);
    expect_consistent();
  }
}

TEST_F(BreakTest, GrowFailingToMapPartWayLeaksNothing) {
  for (long after = 0; after < 6; ++after) {
    m.fail_maps_after(after);
    EXPECT_EQ(b.sbrk(6 * kPageSize), kSbrkFail) << after;
    m.fail_maps_after(-1);
    EXPECT_EQ(m.free_frame_count(), 32u);
    expect_consistent();
  }
  m.fail_maps_after(6);
  EXPECT_EQ(b.sbrk(6 * kPageSize), reinterpret_cast<void*>(m.base()));
  expect_consistent();
}

TEST_F(BreakTest, ShrinkReturnsFramesAndSkipsPagesAlreadyUnmapped) {
  ASSERT_EQ(b.sbrk(4 * kPageSize), reinterpret_cast<void*>(m.base()));
  // A page heap may have unmapped a page below the break already.
  PhysAddr f = m.unmap_page(m.base() + kPageSize);
  ASSERT_NE(f, 0u);
  m.free_frame(f);
  EXPECT_EQ(b.brk(m.base()), m.base());
  EXPECT_EQ(m.mapped(), 0u);
  EXPECT_EQ(m.free_frame_count(), 32u);
}

TEST_F(BreakTest, CarveFront) {
  EXPECT_TRUE(b.carve_front(2));
  EXPECT_EQ(b.window_base(), m.base());
  EXPECT_EQ(b.base(), m.base() + 2 * kPageSize);
  EXPECT_EQ(b.current(), b.base());
  EXPECT_EQ(b.brk(m.base() + kPageSize), b.base());  // the carved part is not the break's any more
  ASSERT_EQ(b.sbrk(1), reinterpret_cast<void*>(b.base()));
  EXPECT_FALSE(b.carve_front(1));  // only while nothing is mapped
  ASSERT_EQ(b.sbrk(-1), reinterpret_cast<void*>(b.base() + 1));
  EXPECT_FALSE(b.carve_front(62));  // would leave no room
}

TEST_F(BreakTest, RandomizedAgainstAModel) {
  std::mt19937_64 rng(7);
  VirtAddr model = m.base();
  for (int step = 0; step < 5000; ++step) {
    long fail = rng() % 5 == 0 ? static_cast<long>(rng() % 4) : -1;
    m.fail_frames_after(fail);
    if (rng() % 2) {
      intptr_t n = static_cast<intptr_t>(rng() % (24 * kPageSize)) - static_cast<intptr_t>(12 * kPageSize);
      VirtAddr target = model + n;
      bool in = target >= m.base() && target <= m.limit();
      size_t need = in && align_up(target, kPageSize) > align_up(model, kPageSize)
                        ? (align_up(target, kPageSize) - align_up(model, kPageSize)) / kPageSize : 0;
      bool ok = in && need <= m.free_frame_count() && (fail < 0 || static_cast<size_t>(fail) >= need);
      void* r = b.sbrk(n);
      EXPECT_EQ(r, ok ? reinterpret_cast<void*>(model) : kSbrkFail) << step;
      if (ok) model = target;
    } else {
      VirtAddr target = m.base() + rng() % (70 * kPageSize) - kPageSize;
      bool in = target >= m.base() && target <= m.limit();
      size_t need = in && align_up(target, kPageSize) > align_up(model, kPageSize)
                        ? (align_up(target, kPageSize) - align_up(model, kPageSize)) / kPageSize : 0;
      bool ok = in && need <= m.free_frame_count() && (fail < 0 || static_cast<size_t>(fail) >= need);
      EXPECT_EQ(b.brk(target), ok ? target : model) << step;
      if (ok) model = target;
    }
    m.fail_frames_after(-1);
    ASSERT_EQ(b.current(), model);
    ASSERT_EQ(m.mapped(), b.mapped_pages());
    ASSERT_EQ(m.free_frame_count(), 32 - b.mapped_pages());
  }
}

/* --- PageHeap ------------------------------------------------------------------ */

class HeapTest : public ReportsOff {
 protected:
  static constexpr size_t kWindow = 1024, kFrames = 256;
  FakeMachine m{kWindow, kFrames};
  KernelBreak b;
  PageHeap h;
  size_t meta_reserved = 0, base_free = 0;

  void SetUp() override {
    ReportsOff::SetUp();
    b.init(m.base(), m.limit(), &m, &m);
    ASSERT_TRUE(h.init(&b));
    meta_reserved = pages_for(kWindow * sizeof(PageInfo));
    base_free = m.free_frame_count();
    ASSERT_TRUE(h.check());
  }
  VirtAddr page(size_t i) const { return h.data_start() + i * kPageSize; }
  void* ptr(size_t i) const { return reinterpret_cast<void*>(page(i)); }
  size_t index(void* p) const { return (reinterpret_cast<VirtAddr>(p) - h.data_start()) / kPageSize; }
  size_t meta_needed() const { return pages_for(((h.top() - m.base()) / kPageSize) * sizeof(PageInfo)); }
  // Everything freed: with the spare metadata page released, every frame is back.
  void expect_all_frames_back() {
    EXPECT_LE(h.metadata_pages_mapped(), meta_needed() + 1);
    h.release_unused_metadata();
    EXPECT_EQ(h.metadata_pages_mapped(), meta_needed());
    EXPECT_EQ(m.free_frame_count(), base_free);
  }

  struct Snapshot {
    PageHeapStats s;
    size_t free_frames, mapped;
    VirtAddr top, brk;
    bool operator==(const Snapshot& o) const {
      return s.runs_in_use == o.s.runs_in_use && s.pages_in_use == o.s.pages_in_use && s.free_ranges == o.s.free_ranges &&
             s.free_pages == o.s.free_pages && s.metadata_pages == o.s.metadata_pages && free_frames == o.free_frames &&
             mapped == o.mapped && top == o.top && brk == o.brk;
    }
  };
  Snapshot snap() const { return {h.stats(), m.free_frame_count(), m.mapped(), h.top(), b.current()}; }
  void expect_report(BugClass c, uint32_t before) {
    EXPECT_EQ(report_count(), before + 1);
    EXPECT_EQ(last_report().bug_class, c) << last_report().text;
  }
};

TEST_F(HeapTest, InitCarvesLazilyMappedMetadata) {
  EXPECT_EQ(h.data_start(), m.base() + meta_reserved * kPageSize);
  EXPECT_EQ(b.base(), h.data_start());
  EXPECT_EQ(h.top(), h.data_start());
  EXPECT_EQ(h.metadata_pages_reserved(), meta_reserved);
  EXPECT_EQ(h.metadata_pages_mapped(), meta_needed());
  EXPECT_LT(h.metadata_pages_mapped(), meta_reserved);  // lazily: not all of it
  EXPECT_EQ(m.mapped(), h.metadata_pages_mapped());
  EXPECT_EQ(h.page_info_array()[0].kind, PageKind::Metadata);
  EXPECT_EQ(h.lookup(reinterpret_cast<void*>(m.base())), nullptr);
  EXPECT_EQ(h.lookup(ptr(0)), nullptr);
}

TEST_F(HeapTest, InitRefusesAMovedBreak) {
  FakeMachine m2(64, 16);
  KernelBreak b2;
  b2.init(m2.base(), m2.limit(), &m2, &m2);
  ASSERT_NE(b2.sbrk(1), kSbrkFail);
  PageHeap h2;
  EXPECT_FALSE(h2.init(&b2));
}

TEST_F(HeapTest, InitFailsCleanlyWithoutFrames) {
  FakeMachine m2(64, 0);
  KernelBreak b2;
  b2.init(m2.base(), m2.limit(), &m2, &m2);
  PageHeap h2;
  EXPECT_FALSE(h2.init(&b2));
  EXPECT_EQ(m2.mapped(), 0u);
  EXPECT_EQ(h2.alloc_run(1, RunOwner::Test, nullptr), nullptr);
  EXPECT_EQ(h2.lookup(reinterpret_cast<void*>(m2.base() + 3 * kPageSize)), nullptr);
}

TEST_F(HeapTest, AllocSetsEveryPageAndLookupIsExact) {
  int owner = 0;
  void* a = h.alloc_run(3, RunOwner::Slab, &owner, 7);
  ASSERT_EQ(a, ptr(0));
  EXPECT_EQ(h.top(), page(3));
  EXPECT_EQ(b.current(), page(3));
  for (size_t i = 0; i < 3; ++i) {
    const PageInfo* p = h.lookup(reinterpret_cast<char*>(a) + i * kPageSize + 123);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->kind, i == 0 ? PageKind::RunHead : PageKind::RunTail);
    EXPECT_EQ(p->owner, RunOwner::Slab);
    EXPECT_EQ(p->owner_ptr, &owner);
    EXPECT_EQ(p->tag, 7);
    EXPECT_EQ(p->head, index(a) + meta_reserved);
    EXPECT_NE(m.translate(page(i)), 0u);
    RunInfo r;
    ASSERT_TRUE(h.run_of(reinterpret_cast<char*>(a) + i * kPageSize, &r));
    EXPECT_EQ(r.start, a);
    EXPECT_EQ(r.pages, 3u);
    EXPECT_EQ(r.owner, RunOwner::Slab);
    EXPECT_EQ(r.owner_ptr, &owner);
  }
  EXPECT_EQ(h.lookup(ptr(3)), nullptr);  // past the break
  RunInfo r;
  EXPECT_FALSE(h.run_of(ptr(3), &r));
  EXPECT_EQ(h.lookup(reinterpret_cast<void*>(h.data_start() - 1)), nullptr);  // metadata
  h.set_owner(a, RunOwner::Heap, nullptr, 9);
  EXPECT_EQ(h.lookup(ptr(2))->owner, RunOwner::Heap);
  EXPECT_EQ(h.lookup(ptr(2))->tag, 9);
  EXPECT_TRUE(h.check());
  EXPECT_EQ(report_count(), 0u);
}

// Owner words: every page of a run carries the three words its owner set
// (the slab layer keeps kfree's object check of a kmalloc slab there);
// check() holds every page to the head's; re-owning or freeing the run clears
// them, and word 2 is 0 on a free range's head although words 0 and 1 share
// their bytes with its list links.
TEST_F(HeapTest, OwnerWordsAreTheSameOnEveryPageAndGoWithTheRun) {
  void* keep = h.alloc_run(1, RunOwner::Test, nullptr);  // so freeing `a` leaves a free range, not a trim
  void* a = h.alloc_run(3, RunOwner::Slab, nullptr, 7);
  void* after = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(keep && a && after);
  auto at = [&](size_t k) { return reinterpret_cast<char*>(a) + k * kPageSize + 100; };
  auto words = [&](size_t k) {
    const PageInfo* e = h.lookup(at(k));
    return std::array<uint32_t, 3>{e->owner_word0, e->owner_word1, e->owner_word2};
  };
  using W = std::array<uint32_t, 3>;
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(words(k), (W{0, 0, 0}));
  h.set_owner_words(a, 0xA0A0A0A0u, 5, 0xFFFFFFFFu);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(words(k), (W{0xA0A0A0A0u, 5, 0xFFFFFFFFu})) << k;
  EXPECT_TRUE(h.check());
  auto* e = const_cast<PageInfo*>(h.lookup(at(2)));
  e->owner_word1 += 1;  // a page whose words differ from the head's
  set_report_echo(false);
  EXPECT_FALSE(h.check());
  set_report_echo(true);
  e->owner_word1 -= 1;
  EXPECT_TRUE(h.check());
  h.set_owner(a, RunOwner::Heap, nullptr, 9);  // re-owned: the words go
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(words(k), (W{0, 0, 0}));
  h.set_owner_words(a, 1, 2, 3);
  ASSERT_TRUE(h.free_run(a));
  EXPECT_EQ(h.lookup(at(0))->kind, PageKind::FreeHead);  // now a free range: its head has list links, no word 2
  EXPECT_EQ(h.lookup(at(0))->owner_word2, 0u);
  for (size_t k = 1; k < 3; ++k) EXPECT_EQ(words(k), (W{0, 0, 0}));
  EXPECT_TRUE(h.check());
  const_cast<PageInfo*>(h.lookup(at(0)))->owner_word2 = 3;  // a free range head with a word 2: caught
  set_report_echo(false);
  EXPECT_FALSE(h.check());
  set_report_echo(true);
  const_cast<PageInfo*>(h.lookup(at(0)))->owner_word2 = 0;
  size_t reports = report_count();
  set_report_echo(false);
  h.set_owner_words(at(1), 1, 2, 3);  // not a run start: reported, nothing changes
  set_report_echo(true);
  EXPECT_EQ(report_count(), reports + 1);
  EXPECT_EQ(h.lookup(at(1))->owner_word2, 0u);
  EXPECT_TRUE(h.free_run(after));
  EXPECT_TRUE(h.free_run(keep));
  EXPECT_TRUE(h.check());
}

// A run that grows in place keeps its owner words on its new pages (check()
// holds every page to the head's).
TEST_F(HeapTest, OwnerWordsReachThePagesARunGrowsBy) {
  void* a = h.alloc_run(2, RunOwner::Slab, nullptr, 7);
  ASSERT_NE(a, nullptr);
  h.set_owner_words(a, 11, 22, 33);
  ASSERT_TRUE(h.resize_run_in_place(a, 5));  // (at the top: the break grows)
  for (size_t k = 0; k < 5; ++k) {
    const PageInfo* e = h.lookup(static_cast<char*>(a) + k * kPageSize);
    EXPECT_EQ(e->owner_word0, 11u) << k;
    EXPECT_EQ(e->owner_word1, 22u) << k;
    EXPECT_EQ(e->owner_word2, 33u) << k;
  }
  EXPECT_TRUE(h.check());
  EXPECT_TRUE(h.free_run(a));
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, FreeingTheTopTrimsTheBreakAndReturnsEveryFrame) {
  void* a = h.alloc_run(5, RunOwner::Test, nullptr);
  void* c = h.alloc_run(2, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && c);
  EXPECT_TRUE(h.free_run(c));
  EXPECT_EQ(h.top(), page(5));
  EXPECT_EQ(h.stats().free_ranges, 0u);
  EXPECT_TRUE(h.free_run(a));
  EXPECT_EQ(h.top(), h.data_start());
  EXPECT_EQ(b.current(), h.data_start());
  expect_all_frames_back();
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, MetadataGrowsAndShrinksWithTheTop) {
  // Enough pages to need a second metadata page, then back.
  size_t per_page = kPageSize / sizeof(PageInfo);
  size_t n = per_page;  // entries [0, meta_reserved + n) span two metadata pages
  size_t before = h.metadata_pages_mapped();
  void* a = h.alloc_run(n, RunOwner::Test, nullptr);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(h.metadata_pages_mapped(), meta_needed());
  EXPECT_GT(h.metadata_pages_mapped(), before);
  EXPECT_TRUE(h.check());
  EXPECT_TRUE(h.free_run(a));
  EXPECT_EQ(h.metadata_pages_mapped(), before + 1);  // one spare page kept (hysteresis)
  EXPECT_TRUE(h.check());
  void* again = h.alloc_run(n, RunOwner::Test, nullptr);  // crossing the boundary again maps nothing new
  EXPECT_EQ(h.metadata_pages_mapped(), before + 1);
  EXPECT_TRUE(h.free_run(again));
  EXPECT_EQ(h.release_unused_metadata(), 1u);
  EXPECT_EQ(h.release_unused_metadata(), 0u);
  EXPECT_EQ(h.metadata_pages_mapped(), before);
  expect_all_frames_back();
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, ReusesTheLowestFreeRangeThatFits) {
  void* r[6];
  for (auto& p : r) ASSERT_NE(p = h.alloc_run(2, RunOwner::Test, nullptr), nullptr);
  ASSERT_TRUE(h.free_run(r[1]));
  ASSERT_TRUE(h.free_run(r[3]));
  EXPECT_EQ(h.stats().free_ranges, 2u);
  size_t frames = m.free_frame_count();
  void* x = h.alloc_run(1, RunOwner::Test, nullptr);
  EXPECT_EQ(x, r[1]);  // first fit: lowest address
  EXPECT_EQ(m.free_frame_count(), frames - 1);
  void* y = h.alloc_run(2, RunOwner::Test, nullptr);
  EXPECT_EQ(y, r[3]);  // the 1-page remainder at r[1]+1 does not fit
  void* z = h.alloc_run(1, RunOwner::Test, nullptr);
  EXPECT_EQ(z, reinterpret_cast<char*>(r[1]) + kPageSize);
  EXPECT_EQ(h.stats().free_ranges, 0u);
  void* w = h.alloc_run(1, RunOwner::Test, nullptr);
  EXPECT_EQ(w, ptr(12));  // nothing free: grows the break
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, CoalescesWithBothNeighboursInAnyOrder) {
  const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& order : orders) {
    void* guard_lo = h.alloc_run(1, RunOwner::Test, nullptr);
    void* r[3] = {h.alloc_run(1, RunOwner::Test, nullptr), h.alloc_run(3, RunOwner::Test, nullptr),
                  h.alloc_run(2, RunOwner::Test, nullptr)};
    void* guard_hi = h.alloc_run(1, RunOwner::Test, nullptr);
    for (int k : order) {
      ASSERT_TRUE(h.free_run(r[k]));
      ASSERT_TRUE(h.check());
    }
    PageHeapStats s = h.stats();
    EXPECT_EQ(s.free_ranges, 1u);
    EXPECT_EQ(s.free_pages, 6u);
    EXPECT_EQ(s.largest_free_range, 6u);
    size_t seen = 0;
    h.for_each_free_range([&](void* start, size_t pages) {
      EXPECT_EQ(start, r[0]);
      EXPECT_EQ(pages, 6u);
      ++seen;
    });
    EXPECT_EQ(seen, 1u);
    ASSERT_TRUE(h.free_run(guard_hi));  // the free range now reaches the top: trimmed along
    EXPECT_EQ(h.top(), reinterpret_cast<VirtAddr>(r[0]));
    ASSERT_TRUE(h.free_run(guard_lo));
    EXPECT_EQ(h.top(), h.data_start());
    expect_all_frames_back();
    ASSERT_TRUE(h.check());
  }
}

TEST_F(HeapTest, FreedPagesAreUnmappedAndTheirFramesReturned) {
  void* a = h.alloc_run(4, RunOwner::Test, nullptr);
  void* keep = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && keep);
  size_t frames = m.free_frame_count();
  ASSERT_TRUE(h.free_run(a));
  EXPECT_EQ(m.free_frame_count(), frames + 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(m.translate(page(i)), 0u);
  const PageInfo* p = h.lookup(ptr(2));
  ASSERT_NE(p, nullptr);  // inside the page heap, but not a run
  EXPECT_EQ(p->kind, PageKind::Unused);
  EXPECT_EQ(h.lookup(ptr(0))->kind, PageKind::FreeHead);
  RunInfo r;
  EXPECT_FALSE(h.run_of(ptr(1), &r));
}

TEST_F(HeapTest, BadFreesAreReportedAndRefused) {
  void* a = h.alloc_run(3, RunOwner::Slab, nullptr);
  void* c = h.alloc_run(2, RunOwner::Test, nullptr);
  void* d = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && c && d);
  ASSERT_TRUE(h.free_run(c));
  Snapshot before = snap();
  struct Case {
    void* p;
    BugClass want;
  } cases[] = {
      {nullptr, BugClass::InvalidFree},
      {reinterpret_cast<char*>(a) + 8, BugClass::InvalidFree},           // unaligned
      {reinterpret_cast<char*>(a) + kPageSize, BugClass::InvalidFree},   // interior of a run
      {reinterpret_cast<char*>(a) + 2 * kPageSize, BugClass::InvalidFree},
      {c, BugClass::DoubleFree},                                          // already free (head)
      {reinterpret_cast<char*>(c) + kPageSize, BugClass::DoubleFree},    // already free (last page)
      {ptr(6), BugClass::InvalidFree},                                    // past the top
      {reinterpret_cast<void*>(m.base()), BugClass::InvalidFree},         // metadata
      {reinterpret_cast<void*>(m.limit()), BugClass::InvalidFree},        // outside the window
      {&before, BugClass::InvalidFree},                                   // foreign
  };
  for (const Case& k : cases) {
    uint32_t n = report_count();
    EXPECT_FALSE(h.free_run(k.p)) << k.p;
    expect_report(k.want, n);
    EXPECT_TRUE(before == snap());
    EXPECT_TRUE(h.check());
  }
  EXPECT_NE(std::string(last_report().text).find("invalid free"), std::string::npos) << last_report().text;
  ASSERT_TRUE(h.free_run(a));  // still works afterwards
  uint32_t n = report_count();
  EXPECT_FALSE(h.free_run(a));
  expect_report(BugClass::DoubleFree, n);
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, BadArgumentsAreReportedAndRefused) {
  void* a = h.alloc_run(3, RunOwner::Test, nullptr);
  void* c = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(h.free_run(c));
  Snapshot before = snap();
  uint32_t n = report_count();
  EXPECT_EQ(h.alloc_run(0, RunOwner::Test, nullptr), nullptr);
  expect_report(BugClass::BadArgument, n);
  n = report_count();
  EXPECT_FALSE(h.resize_run_in_place(a, 0));
  expect_report(BugClass::BadArgument, n);
  n = report_count();
  EXPECT_FALSE(h.resize_run_in_place(reinterpret_cast<char*>(a) + kPageSize, 1));
  expect_report(BugClass::BadArgument, n);
  n = report_count();
  EXPECT_FALSE(h.resize_run_in_place(ptr(100), 1));
  expect_report(BugClass::BadArgument, n);
  n = report_count();
  h.set_owner(reinterpret_cast<char*>(a) + kPageSize, RunOwner::Heap, nullptr, 1);
  expect_report(BugClass::BadArgument, n);
  EXPECT_EQ(h.lookup(a)->owner, RunOwner::Test);
  EXPECT_TRUE(before == snap());
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, OutOfFramesOrWindowReturnsNullAndChangesNothing) {
  void* a = h.alloc_run(10, RunOwner::Test, nullptr);
  void* hole = h.alloc_run(6, RunOwner::Test, nullptr);
  void* c = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && hole && c);
  ASSERT_TRUE(h.free_run(hole));
  Snapshot before = snap();
  uint32_t reports = report_count();
  for (long after = 0; after < 6; ++after) {
    m.fail_frames_after(after);
    EXPECT_EQ(h.alloc_run(6, RunOwner::Test, nullptr), nullptr);   // reuse path
    EXPECT_EQ(h.alloc_run(9, RunOwner::Test, nullptr), nullptr);   // growth path
    m.fail_frames_after(-1);
    m.fail_maps_after(after);
    EXPECT_EQ(h.alloc_run(6, RunOwner::Test, nullptr), nullptr);
    EXPECT_EQ(h.alloc_run(9, RunOwner::Test, nullptr), nullptr);
    m.fail_maps_after(-1);
    EXPECT_TRUE(before == snap()) << after;
    ASSERT_TRUE(h.check());
  }
  EXPECT_EQ(h.alloc_run(kWindow, RunOwner::Test, nullptr), nullptr);     // bigger than the window
  EXPECT_EQ(h.alloc_run(SIZE_MAX, RunOwner::Test, nullptr), nullptr);    // no overflow
  EXPECT_EQ(h.alloc_run(kFrames, RunOwner::Test, nullptr), nullptr);     // more than the frames left
  EXPECT_TRUE(before == snap());
  EXPECT_EQ(report_count(), reports);
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, FailingToMapANewMetadataPageChangesNothing) {
  // Fill the first metadata page's entries exactly; the next page needs a new metadata page.
  size_t per_page = kPageSize / sizeof(PageInfo);
  size_t first = (h.metadata_pages_mapped() * kPageSize) / sizeof(PageInfo) - meta_reserved;
  void* a = h.alloc_run(first, RunOwner::Test, nullptr);
  ASSERT_NE(a, nullptr);
  size_t meta = h.metadata_pages_mapped();
  Snapshot before = snap();
  m.fail_frames_after(0);
  EXPECT_EQ(h.alloc_run(1, RunOwner::Test, nullptr), nullptr);
  m.fail_frames_after(1);  // the metadata page gets a frame, the data page does not
  EXPECT_EQ(h.alloc_run(1, RunOwner::Test, nullptr), nullptr);
  m.fail_frames_after(-1);
  EXPECT_TRUE(before == snap());
  EXPECT_EQ(h.metadata_pages_mapped(), meta);
  EXPECT_TRUE(h.check());
  void* c = h.alloc_run(per_page, RunOwner::Test, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(h.metadata_pages_mapped(), meta_needed());
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, ResizeInPlace) {
  void* a = h.alloc_run(2, RunOwner::Large, nullptr, 3);
  ASSERT_NE(a, nullptr);
  // At the top: grows the break.
  EXPECT_TRUE(h.resize_run_in_place(a, 5));
  EXPECT_EQ(h.top(), page(5));
  EXPECT_EQ(h.lookup(ptr(4))->head, h.lookup(a)->head);
  EXPECT_EQ(h.lookup(ptr(4))->owner, RunOwner::Large);
  EXPECT_EQ(h.lookup(ptr(4))->tag, 3);
  EXPECT_TRUE(h.check());
  // Shrinking at the top trims.
  EXPECT_TRUE(h.resize_run_in_place(a, 3));
  EXPECT_EQ(h.top(), page(3));
  EXPECT_TRUE(h.check());
  void* c = h.alloc_run(2, RunOwner::Test, nullptr);  // pages 3-4
  void* d = h.alloc_run(1, RunOwner::Test, nullptr);  // page 5
  ASSERT_EQ(c, ptr(3));
  // Blocked by a run.
  Snapshot before = snap();
  EXPECT_FALSE(h.resize_run_in_place(a, 4));
  EXPECT_TRUE(before == snap());
  // Shrinking below a run leaves a free range; growing takes it back.
  EXPECT_TRUE(h.resize_run_in_place(a, 1));
  EXPECT_EQ(h.stats().free_pages, 2u);
  EXPECT_TRUE(h.check());
  EXPECT_TRUE(h.resize_run_in_place(a, 2));
  EXPECT_EQ(h.stats().free_pages, 1u);
  EXPECT_TRUE(h.check());
  EXPECT_FALSE(h.resize_run_in_place(a, 4));  // the free range is 1 page, then a run
  EXPECT_TRUE(h.resize_run_in_place(a, 3));
  EXPECT_EQ(h.stats().free_ranges, 0u);
  EXPECT_TRUE(h.check());
  // Shrinking next to a free range coalesces with it.
  ASSERT_TRUE(h.free_run(c));
  EXPECT_TRUE(h.resize_run_in_place(a, 1));
  EXPECT_EQ(h.stats().free_ranges, 1u);
  EXPECT_EQ(h.stats().free_pages, 4u);
  EXPECT_TRUE(h.check());
  // Out of frames while growing into the free range: nothing changes.
  before = snap();
  m.fail_frames_after(2);
  EXPECT_FALSE(h.resize_run_in_place(a, 5));
  m.fail_frames_after(-1);
  EXPECT_TRUE(before == snap());
  EXPECT_TRUE(h.resize_run_in_place(a, 5));
  EXPECT_TRUE(h.check());
  ASSERT_TRUE(h.free_run(d));
  ASSERT_TRUE(h.free_run(a));
  expect_all_frames_back();
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, SomeoneElseHoldingTheBreakStopsGrowthAndTrimming) {
  void* a = h.alloc_run(2, RunOwner::Test, nullptr);
  void* c = h.alloc_run(2, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && c);
  VirtAddr top = h.top();
  ASSERT_EQ(b.sbrk(3 * kPageSize), reinterpret_cast<void*>(top));  // e.g. the `sbrk` monitor command
  EXPECT_EQ(h.alloc_run(1, RunOwner::Test, nullptr), nullptr);      // would grow over their pages
  EXPECT_FALSE(h.resize_run_in_place(c, 3));
  EXPECT_TRUE(h.free_run(c));                                        // not trimmed: the break is theirs
  EXPECT_EQ(h.top(), top);
  EXPECT_EQ(h.stats().free_pages, 2u);
  EXPECT_TRUE(h.check());
  EXPECT_EQ(h.lookup(reinterpret_cast<void*>(top)), nullptr);
  EXPECT_EQ(h.alloc_run(1, RunOwner::Test, nullptr), c);             // a fitting free range is fine
  ASSERT_TRUE(h.free_run(c));
  ASSERT_EQ(b.sbrk(-3 * static_cast<intptr_t>(kPageSize)), reinterpret_cast<void*>(top + 3 * kPageSize));
  // The break is back at top: a bigger request extends the free range at the top.
  void* big = h.alloc_run(4, RunOwner::Test, nullptr);
  EXPECT_EQ(big, c);
  EXPECT_TRUE(h.check());
  ASSERT_TRUE(h.free_run(big));
  ASSERT_TRUE(h.free_run(a));
  expect_all_frames_back();
  EXPECT_TRUE(h.check());
}

// The reference model: in-use runs by first page. With nobody else moving
// the break, top is the end of the highest run, and the free ranges are the
// gaps between runs below it.
struct Model {
  std::map<size_t, size_t> runs;  // first page (relative to data_start) -> pages
  size_t top() const { return runs.empty() ? 0 : runs.rbegin()->first + runs.rbegin()->second; }
  size_t first_fit(size_t n) const {
    size_t at = 0;
    for (auto [s, len] : runs) {
      if (s - at >= n) return at;
      at = s + len;
    }
    return at;  // the top
  }
  size_t gap_after(size_t s) const {
    auto it = runs.upper_bound(s);
    return it == runs.end() ? SIZE_MAX : it->first - (s + runs.at(s));
  }
  std::vector<std::pair<size_t, size_t>> gaps() const {
    std::vector<std::pair<size_t, size_t>> g;
    size_t at = 0;
    for (auto [s, len] : runs) {
      if (s > at) g.push_back({at, s - at});
      at = s + len;
    }
    return g;
  }
};

TEST_F(HeapTest, RandomizedAgainstAReferenceModel) {
  std::mt19937_64 rng(1234);
  Model model;
  size_t data_pages = kWindow - meta_reserved;
  for (int step = 0; step < 6000; ++step) {
    int op = static_cast<int>(rng() % 10);
    long fail = rng() % 8 == 0 ? static_cast<long>(rng() % 3) : -1;
    m.fail_frames_after(fail);
    size_t frames = m.free_frame_count();
    if (op < 5 || model.runs.empty()) {
      size_t n = 1 + (rng() % 4 == 0 ? rng() % 24 : rng() % 4);
      size_t at = model.first_fit(n);
      size_t meta_more = 0, meta_need = pages_for((meta_reserved + at + n) * sizeof(PageInfo));
      if (at + n > model.top() && meta_need > h.metadata_pages_mapped()) meta_more = meta_need - h.metadata_pages_mapped();
      size_t need = n + meta_more;
      bool ok = at + n <= data_pages && need <= frames && (fail < 0 || static_cast<size_t>(fail) >= need);
      void* p = h.alloc_run(n, RunOwner::Test, reinterpret_cast<void*>(step), static_cast<uint16_t>(step));
      ASSERT_EQ(p, ok ? ptr(at) : nullptr) << step;
      if (ok) model.runs[at] = n;
    } else {
      auto it = model.runs.begin();
      std::advance(it, rng() % model.runs.size());
      size_t s = it->first, len = it->second;
      if (op < 8) {
        ASSERT_TRUE(h.free_run(ptr(s))) << step;
        model.runs.erase(it);
      } else {
        size_t n = 1 + rng() % 8;
        bool ok;
        if (n <= len) {
          ok = true;
        } else {
          size_t gap = model.gap_after(s), need = n - len;
          bool at_top = gap == SIZE_MAX;
          size_t meta_need = pages_for((meta_reserved + s + n) * sizeof(PageInfo));
          size_t meta_more = at_top && meta_need > h.metadata_pages_mapped() ? meta_need - h.metadata_pages_mapped() : 0;
          ok = (at_top ? s + n <= data_pages : gap >= need) && need + meta_more <= frames &&
               (fail < 0 || static_cast<size_t>(fail) >= need + meta_more);
        }
        ASSERT_EQ(h.resize_run_in_place(ptr(s), n), ok) << step;
        if (ok) it->second = n;
      }
    }
    m.fail_frames_after(-1);
    ASSERT_TRUE(h.check()) << step << ": " << last_report().text;
    ASSERT_EQ(h.top(), page(model.top())) << step;
    size_t used = 0;
    for (auto [s, len] : model.runs) used += len;
    PageHeapStats st = h.stats();
    ASSERT_EQ(st.runs_in_use, model.runs.size());
    ASSERT_EQ(st.pages_in_use, used);
    auto gaps = model.gaps();
    ASSERT_EQ(st.free_ranges, gaps.size());
    size_t gi = 0;
    h.for_each_free_range([&](void* start, size_t pages) {
      ASSERT_LT(gi, gaps.size());
      EXPECT_EQ(start, ptr(gaps[gi].first));
      EXPECT_EQ(pages, gaps[gi].second);
      ++gi;
    });
    ASSERT_GE(h.metadata_pages_mapped(), meta_needed());
    ASSERT_LE(h.metadata_pages_mapped(), meta_needed() + 1);
    ASSERT_EQ(m.free_frame_count(), kFrames - used - h.metadata_pages_mapped()) << step;
    if (step % 97 == 0) {  // spot-check lookups against the model
      for (auto [s, len] : model.runs) {
        RunInfo r;
        ASSERT_TRUE(h.run_of(reinterpret_cast<char*>(ptr(s + len - 1)) + 5, &r));
        ASSERT_EQ(r.start, ptr(s));
        ASSERT_EQ(r.pages, len);
      }
    }
  }
  for (auto [s, len] : model.runs) ASSERT_TRUE(h.free_run(ptr(s)));
  EXPECT_EQ(h.top(), h.data_start());
  expect_all_frames_back();
  EXPECT_EQ(report_count(), 0u);
  EXPECT_TRUE(h.check());
}

TEST_F(HeapTest, ShutdownRefusesLiveRunsThenReturnsEverything) {
  void* a = h.alloc_run(200, RunOwner::Test, nullptr);  // several metadata pages
  ASSERT_NE(a, nullptr);
  uint32_t n = report_count();
  EXPECT_FALSE(h.shutdown());
  expect_report(BugClass::BadArgument, n);
  EXPECT_TRUE(h.check());
  ASSERT_TRUE(h.free_run(a));
  EXPECT_TRUE(h.shutdown());
  EXPECT_EQ(m.mapped(), 0u);
  EXPECT_EQ(m.free_frame_count(), kFrames);
  EXPECT_EQ(h.alloc_run(1, RunOwner::Test, nullptr), nullptr);
  EXPECT_EQ(h.lookup(ptr(0)), nullptr);
  EXPECT_TRUE(h.shutdown());  // again: nothing to do
}

TEST_F(HeapTest, CheckCatchesCorruptedMetadata) {
  void* a = h.alloc_run(2, RunOwner::Test, nullptr);
  void* c = h.alloc_run(1, RunOwner::Test, nullptr);
  void* d = h.alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && c && d);
  ASSERT_TRUE(h.free_run(c));
  auto* info = const_cast<PageInfo*>(h.page_info_array());
  size_t ia = meta_reserved, ic = meta_reserved + 2;
  uint32_t n = report_count();
  info[ia + 1].head = 0;  // a run tail that forgot its head
  EXPECT_FALSE(h.check());
  expect_report(BugClass::FreeListCorruption, n);
  info[ia + 1].head = static_cast<uint32_t>(ia);
  EXPECT_TRUE(h.check());
  info[ic].free_next = static_cast<uint32_t>(ia);  // free list points at a run
  EXPECT_FALSE(h.check());
  info[ic].free_next = vm::kNoPage;
  EXPECT_TRUE(h.check());
  PhysAddr f = m.unmap_page(page(0));  // a run page lost its mapping
  EXPECT_FALSE(h.check());
  ASSERT_TRUE(m.map_page(page(0), f));
  EXPECT_TRUE(h.check());
}

}  // namespace
