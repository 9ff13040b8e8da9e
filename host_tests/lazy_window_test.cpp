// host_tests/lazy_window_test.cpp — the malloc shim's platform (lib/host/lazy_window.h):
// its release policy, driven through the Mapper/FrameSource interface with a
// fake clock, checked against the kernel's view of the window (mincore: is a
// page resident?) and against its contents (a page kept on the queue keeps
// its data; a page given back reads zeros); then the real page heap on top,
// against a model of which pages are queued.
// Linux only, like lib/host/lazy_window.cpp (the Windows build compiles it to
// a binary with no tests).
#include <gtest/gtest.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "core/bitops.h"
#include "core/report.h"
#include "host/lazy_window.h"

using namespace kheap;
using kheap::host::LazyWindow;
using kheap::host::LazyWindowConfig;

namespace {

uint64_t g_now_ms = 0;
uint64_t fake_clock() { return g_now_ms; }

class LazyWindowTest : public ::testing::Test {
 protected:
  LazyWindow w;
  VirtAddr first = 0;  // first page above the page heap's metadata: ours to map and unmap

  void SetUp() override {
    set_report_echo(false);
    reset_reports();
    g_now_ms = 1000;
    LazyWindowConfig c;
    c.window_bytes = c.min_window_bytes = size_t{64} << 20;  // 16384 pages
    c.purge_delay_ms = 100;
    c.clock_ms = fake_clock;
    ASSERT_TRUE(w.create(c));
    // Work above the page heap's data start, where nothing is mapped.
    first = align_up(w.page_heap().data_start(), kPageSize) + (size_t{16} << 20);
    ASSERT_TRUE(w.check());
  }
  void TearDown() override {
    w.destroy();
    set_report_echo(true);
  }
  VirtAddr page(size_t i) const { return first + (i << kPageShift); }
  char* ptr(size_t i) const { return reinterpret_cast<char*>(page(i)); }
  // As the page heap does: a frame, then the mapping; touch it like a program.
  void map(size_t i, char fill) {
    PhysAddr f = w.alloc_frame();
    ASSERT_NE(f, 0u);
    ASSERT_TRUE(w.map_page(page(i), f));
    memset(ptr(i), fill, kPageSize);
  }
  void map_keep(size_t i) {  // map without writing: the contents say whether it was given back
    PhysAddr f = w.alloc_frame();
    ASSERT_NE(f, 0u);
    ASSERT_TRUE(w.map_page(page(i), f));
  }
  void unmap(size_t i) {
    PhysAddr f = w.unmap_page(page(i));
    ASSERT_NE(f, 0u);
    ASSERT_TRUE(w.free_frame(f));
  }
  bool resident(size_t i) const {
    unsigned char v = 0;
    EXPECT_EQ(::mincore(ptr(i), kPageSize, &v), 0);
    return v & 1;
  }
  host::LazyWindowStats st() const { return w.stats(); }
};

TEST_F(LazyWindowTest, UnmappedPageStaysQueuedAndResidentAndIsReusedWithoutDiscard) {
  map(0, 'a');
  unmap(0);
  EXPECT_TRUE(w.queued(page(0)));
  EXPECT_EQ(w.translate(page(0)), 0u);
  EXPECT_TRUE(resident(0));  // not given back
  EXPECT_EQ(st().queued_pages, 1u);
  map_keep(0);
  EXPECT_FALSE(w.queued(page(0)));
  EXPECT_EQ(ptr(0)[100], 'a');  // the same memory: no madvise, no fault
  auto s = st();
  EXPECT_EQ(s.dequeued_pages, 1u);
  EXPECT_EQ(s.discard_calls, 0u);
  EXPECT_EQ(s.queued_pages, 0u);
  EXPECT_TRUE(w.check());
}

TEST_F(LazyWindowTest, FlushGivesEverythingBackInCoalescedRanges) {
  // Pages 0..9 and 20..24, unmapped in a scrambled order: two runs.
  for (size_t i = 0; i < 25; ++i) map(i, 'x');
  size_t order[] = {3, 1, 24, 0, 9, 20, 2, 4, 22, 5, 6, 21, 8, 7, 23};
  for (size_t i : order) unmap(i);
  EXPECT_EQ(st().queued_pages, 15u);
  EXPECT_TRUE(w.check());
  w.flush();
  auto s = st();
  EXPECT_EQ(s.queued_pages, 0u);
  EXPECT_EQ(s.discarded_pages, 15u);
  EXPECT_EQ(s.discard_calls, 2u);  // [0,10) and [20,25)
  for (size_t i : order) {
    EXPECT_FALSE(resident(i)) << i;
    EXPECT_FALSE(w.queued(page(i)));
  }
  for (size_t i = 10; i < 20; ++i) EXPECT_EQ(ptr(i)[7], 'x') << i;  // mapped pages untouched
  map_keep(0);
  EXPECT_EQ(ptr(0)[7], 0);  // given back: reads zeros
  EXPECT_EQ(st().dequeued_pages, 0u);
  EXPECT_TRUE(w.check());
}

TEST_F(LazyWindowTest, PagesAreGivenBackAfterOneToTwoDelays) {
  map(0, 'a');
  map(1, 'b');
  map(2, 'c');
  unmap(0);  // t = 1000: young
  g_now_ms += 60;
  unmap(1);  // t = 1060: young
  EXPECT_EQ(st().discarded_pages, 0u);
  g_now_ms += 50;  // 1110: a delay since the generation began: 0 and 1 become old, nothing given back
  unmap(2);
  EXPECT_EQ(st().discarded_pages, 0u);
  EXPECT_EQ(st().queued_pages, 3u);
  g_now_ms += 99;  // 1209: not yet a delay since 1110
  map(5, 'e');
  EXPECT_EQ(st().discarded_pages, 0u);
  g_now_ms += 1;  // 1210: the old generation (0, 1) goes; 2 becomes old
  map(6, 'f');
  auto s = st();
  EXPECT_EQ(s.discarded_pages, 2u);
  EXPECT_EQ(s.aged_pages, 2u);
  EXPECT_EQ(s.discard_calls, 1u);  // 0 and 1 are adjacent
  EXPECT_FALSE(resident(0));
  EXPECT_FALSE(resident(1));
  EXPECT_TRUE(w.queued(page(2)));
  EXPECT_TRUE(resident(2));
  // Two delays with no page event: every queued page is old enough.
  unmap(5);
  g_now_ms += 250;
  map(7, 'g');
  EXPECT_EQ(st().queued_pages, 0u);
  EXPECT_EQ(st().aged_pages, 4u);
  EXPECT_TRUE(w.check());
}

TEST_F(LazyWindowTest, QueueStartsItsOwnClockWhenItWasEmpty) {
  map(0, 'a');
  g_now_ms += 10'000;  // a long quiet time with nothing queued
  unmap(0);
  map(1, 'b');  // same instant: the page has not aged at all
  EXPECT_EQ(st().discarded_pages, 0u);
  g_now_ms += 150;
  map(2, 'c');  // one delay: it becomes old, still kept
  EXPECT_TRUE(w.queued(page(0)));
  g_now_ms += 100;
  map(3, 'd');
  EXPECT_FALSE(w.queued(page(0)));
  EXPECT_TRUE(w.check());
}

TEST_F(LazyWindowTest, BoundKeepsMappedPlusQueuedUnderPeakPlusSlack) {
  constexpr size_t kSlack = LazyWindow::kSlackPages;
  size_t base = st().frames_in_use;  // the page heap's own metadata
  // Peak of 100 mapped pages, all unmapped: 100 queued, under the bound.
  for (size_t i = 0; i < 100; ++i) map(i, 'p');
  for (size_t i = 0; i < 100; ++i) unmap(i);
  EXPECT_EQ(st().queued_pages, 100u);
  // Map fresh pages elsewhere (a fragmented heap): mapped + queued grows.
  size_t fresh = 0;
  for (; fresh < 100 + kSlack; ++fresh) {
    map(1000 + fresh, 'q');
    auto s = st();
    EXPECT_LE(s.frames_in_use + s.queued_pages, s.peak_frames + w.slack_pages());
  }
  auto s = st();
  // The peak grew with the fresh pages: the 100 queued ones always fit in the slack.
  EXPECT_EQ(s.peak_frames, base + 100 + kSlack);
  EXPECT_EQ(s.discarded_pages, 0u);
  EXPECT_EQ(s.queued_pages, 100u);
  EXPECT_TRUE(w.check());
  // Now drop to a low mapped count and queue a lot, then map fresh pages.
  for (size_t i = 0; i < fresh; ++i) unmap(1000 + i);
  s = st();
  EXPECT_LE(s.frames_in_use + s.queued_pages, s.peak_frames + w.slack_pages());
  size_t discarded_before = s.discarded_pages;
  for (size_t i = 0; i < 3 * kSlack; ++i) {
    map(5000 + i, 'r');
    s = st();
    ASSERT_LE(s.frames_in_use + s.queued_pages, s.peak_frames + w.slack_pages()) << i;
  }
  EXPECT_GT(s.discarded_pages, discarded_before);
  EXPECT_EQ(s.bound_pages + s.aged_pages, s.discarded_pages);
  EXPECT_TRUE(w.check());
}

TEST_F(LazyWindowTest, BoundGivesBackOldBeforeYoungAndHighBeforeLow) {
  constexpr size_t kSlack = LazyWindow::kSlackPages;
  // 2 * kSlack pages mapped (the peak), then all queued: the low half old, the high half young.
  size_t n = 2 * kSlack;
  for (size_t i = 0; i < n; ++i) map(i, 'o');
  for (size_t i = 0; i < kSlack; ++i) unmap(i);
  g_now_ms += 100;  // the low half becomes old at the next event
  for (size_t i = kSlack; i < n; ++i) unmap(i);
  EXPECT_EQ(st().discarded_pages, 0u);
  // Fresh pages far away: the first one that passes peak + slack gives back
  // old pages, highest first, down to peak + slack / 2.
  const size_t slack = w.slack_pages();  // (the peak does not move below: fewer than n are mapped)
  EXPECT_EQ(slack, kSlack + st().peak_frames / 4);
  size_t k = 0;
  while (st().discarded_pages == 0 && k < 4 * kSlack) map(10'000 + k++, 'f');
  auto s = st();
  EXPECT_EQ(k, slack + 1);  // the peak stays while fewer are mapped: n queued + k mapped > n + slack
  EXPECT_EQ(s.frames_in_use + s.queued_pages, s.peak_frames + slack / 2);
  size_t given = s.discarded_pages;
  ASSERT_LE(given, kSlack);
  for (size_t i = 0; i < kSlack - given; ++i) EXPECT_TRUE(w.queued(page(i))) << i;  // old, low: kept
  for (size_t i = kSlack - given; i < kSlack; ++i) EXPECT_FALSE(w.queued(page(i))) << i;  // old, high: gone
  for (size_t i = kSlack; i < n; ++i) EXPECT_TRUE(w.queued(page(i))) << i;  // young: all kept
  EXPECT_TRUE(w.check());
}

// Random map/unmap/flush/time steps against a model of the queue; the stats
// add up and the bound holds after every step.
TEST_F(LazyWindowTest, RandomStepsAgreeWithAModel) {
  std::mt19937_64 rng(8);
  constexpr size_t kPages = 3000;
  std::vector<bool> mapped(kPages), queued(kPages);
  std::vector<char> fill(kPages);
  for (int step = 0; step < 20'000; ++step) {
    size_t i = rng() % kPages;
    int what = static_cast<int>(rng() % 100);
    if (what < 1) {
      w.flush();
      std::fill(queued.begin(), queued.end(), false);
    } else if (what < 3) {
      g_now_ms += rng() % 120;
    } else if (!mapped[i]) {
      bool was_queued = queued[i];
      ASSERT_EQ(w.queued(page(i)), was_queued) << step;
      map_keep(i);
      // Still queued: the old contents (never given back). Otherwise: zeros (given back, or never mapped).
      ASSERT_EQ(ptr(i)[1], was_queued ? fill[i] : 0) << step;
      fill[i] = static_cast<char>('A' + rng() % 26);
      memset(ptr(i), fill[i], kPageSize);
      mapped[i] = true;
      queued[i] = false;
    } else {
      ASSERT_EQ(ptr(i)[kPageSize - 1], fill[i]) << step;  // a mapped page is never given back
      unmap(i);
      mapped[i] = false;
      queued[i] = true;
    }
    // The window may have given pages back (age, bound): the model follows it,
    // but a page can only leave the queue, never appear in it.
    for (size_t k = 0; k < kPages; ++k) {
      if (queued[k] && !w.queued(page(k))) queued[k] = false;
      if (!queued[k]) {
        ASSERT_FALSE(w.queued(page(k))) << step << " page " << k;
      }
    }
    auto s = st();
    ASSERT_EQ(s.unmapped_pages, s.queued_pages + s.discarded_pages + s.dequeued_pages);
    ASSERT_LE(s.frames_in_use + s.queued_pages, s.peak_frames + w.slack_pages());
    if (step % 1000 == 0) {
      ASSERT_TRUE(w.check()) << step;
    }
  }
  EXPECT_TRUE(w.check());
  auto s = st();
  EXPECT_GT(s.dequeued_pages, 0u);
  EXPECT_GT(s.aged_pages, 0u);
  w.flush();
  for (size_t k = 0; k < kPages; ++k) {
    if (!mapped[k]) {
      ASSERT_FALSE(resident(k)) << k;  // flush
    }

  }
}

// The real page heap on top: runs allocated and freed in rounds are reused
// from the queue without a single madvise, and flush gives the rest back.
TEST_F(LazyWindowTest, PageHeapRoundsReuseQueuedPages) {
  vm::PageHeap& heap = w.page_heap();
  std::vector<void*> runs;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 200; ++i) {
      void* p = heap.alloc_run(1 + i % 4, vm::RunOwner::Test, nullptr, 0);
      ASSERT_NE(p, nullptr);
      memset(p, round + 1, kPageSize);
      runs.push_back(p);
    }
    for (void* p : runs) ASSERT_TRUE(heap.free_run(p));
    runs.clear();
    ASSERT_TRUE(heap.check());
    ASSERT_TRUE(w.check());
  }
  auto s = st();
  EXPECT_EQ(s.discard_calls, 0u);
  EXPECT_GT(s.dequeued_pages, 2 * 400u);  // rounds 2 and 3 reused round 1's pages
  EXPECT_GT(s.queued_pages, 0u);
  w.flush();
  s = st();
  EXPECT_EQ(s.queued_pages, 0u);
  EXPECT_EQ(s.unmapped_pages, s.discarded_pages + s.dequeued_pages);
  EXPECT_TRUE(w.check());
}

}  // namespace

#endif  // __linux__
