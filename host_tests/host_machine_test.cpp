// host_tests/host_machine_test.cpp — the Linux host machine (memfd "RAM"
// managed by the buddy allocator, mmap as the mapper) with the real lib/vm on
// top: aliasing through the memfd, unmapped pages really faulting, the break
// running the buddy allocator dry and giving every frame back, and the page
// heap against a reference model with its memory contents checked.
#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "core/bitops.h"
#include "core/report.h"
#include "host/host_machine.h"

using namespace kheap;
using kheap::host::HostMachine;
using kheap::host::HostMachineConfig;
using kheap::vm::PageInfo;
using kheap::vm::RunInfo;
using kheap::vm::RunOwner;

namespace {

void* const kSbrkFail = reinterpret_cast<void*>(-1);

HostMachineConfig small_machine() {
  HostMachineConfig c;
  c.ram_bytes = size_t{8} << 20;     // 8 MiB of RAM: 1792 usable frames
  c.window_bytes = size_t{16} << 20;
  return c;
}

class HostMachineTest : public ::testing::Test {
 protected:
  HostMachine m;
  size_t start_free = 0;
  void SetUp() override {
    set_report_echo(false);
    reset_reports();
    ASSERT_TRUE(m.create(small_machine()));
    start_free = m.free_frame_count();
  }
  void TearDown() override { set_report_echo(true); }
  vm::KernelBreak& brk() { return m.kernel_break(); }
  vm::PageHeap& heap() { return m.page_heap(); }
};

TEST_F(HostMachineTest, CreateBringsUpBuddyBreakAndPageHeap) {
  EXPECT_TRUE(m.created());
  EXPECT_TRUE(m.pmm().check());
  EXPECT_TRUE(heap().check());
  EXPECT_EQ(brk().window_base(), m.window_base());
  EXPECT_EQ(brk().limit(), m.window_base() + m.window_bytes());
  EXPECT_EQ(heap().data_start(), brk().base());
  // Only the first metadata page is mapped; the frames for it came from the buddy.
  EXPECT_EQ(heap().metadata_pages_mapped(), 1u);
  EXPECT_EQ(m.free_frame_count() + 1, m.pmm().stats().total_frames);
  EXPECT_NE(m.translate(m.window_base()), 0u);
  EXPECT_EQ(m.translate(m.window_base() + kPageSize), 0u);
  EXPECT_EQ(m.translate(heap().data_start()), 0u);
  EXPECT_EQ(m.translate(0), 0u);
  EXPECT_EQ(m.translate(m.window_base() + m.window_bytes()), 0u);
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(HostMachineTest, CreateRejectsBadConfigsAndCanBeRepeated) {
  HostMachine other;
  EXPECT_FALSE(other.create({size_t{1} << 20, size_t{16} << 20}));      // no RAM above 1 MiB
  EXPECT_FALSE(other.create({(size_t{8} << 20) + 1, size_t{16} << 20})); // unaligned RAM
  EXPECT_FALSE(other.create({size_t{8} << 20, kPageSize}));              // tiny window
  EXPECT_FALSE(other.created());
  other.destroy();  // idempotent
  EXPECT_TRUE(other.create(small_machine()));
  EXPECT_TRUE(other.create(small_machine()));  // again: the first one is released
  EXPECT_TRUE(other.page_heap().check());
  other.destroy();
  EXPECT_FALSE(other.created());
}

TEST_F(HostMachineTest, TwoVirtualPagesOfOneFrameSeeEachOthersWrites) {
  PhysAddr f = m.alloc_frame();
  ASSERT_NE(f, 0u);
  VirtAddr v1 = m.window_base() + m.window_bytes() - 2 * kPageSize;
  VirtAddr v2 = m.window_base() + m.window_bytes() - kPageSize;
  ASSERT_TRUE(m.map_page(v1, f));
  ASSERT_TRUE(m.map_page(v2, f));
  EXPECT_EQ(m.translate(v1), f);
  EXPECT_EQ(m.translate(v2), f);
  auto* a = reinterpret_cast<volatile uint32_t*>(v1);
  auto* b = reinterpret_cast<volatile uint32_t*>(v2);
  a[10] = 0xC0FFEE;
  EXPECT_EQ(b[10], 0xC0FFEEu);
  b[1023] = 0xBADF00D;
  EXPECT_EQ(a[1023], 0xBADF00Du);
  auto* direct = static_cast<volatile uint32_t*>(m.frame_in_direct_map(f));
  EXPECT_EQ(direct[10], 0xC0FFEEu);
  direct[5] = 77;
  EXPECT_EQ(a[5], 77u);
  EXPECT_EQ(b[5], 77u);
  EXPECT_EQ(m.unmap_page(v1), f);
  EXPECT_EQ(m.unmap_page(v1), 0u);  // already unmapped
  EXPECT_EQ(b[10], 0xC0FFEEu);      // the other mapping still sees the frame
  EXPECT_EQ(m.unmap_page(v2), f);
  EXPECT_TRUE(m.free_frame(f));
  EXPECT_EQ(m.free_frame_count(), start_free);
}

TEST_F(HostMachineTest, DirectMapAndRunShowTheSameFrame) {
  auto* run = static_cast<uint8_t*>(heap().alloc_run(3, RunOwner::Test, nullptr));
  ASSERT_NE(run, nullptr);
  for (int i = 0; i < 3; ++i) {
    PhysAddr f = m.translate(reinterpret_cast<VirtAddr>(run) + i * kPageSize);
    ASSERT_NE(f, 0u);
    const pmm::Frame* fi = m.pmm().frame_info(f);
    ASSERT_NE(fi, nullptr);
    EXPECT_EQ(fi->state, pmm::FrameState::Allocated);
    EXPECT_EQ(fi->owner, pmm::kOwnerBreak);
    memset(m.frame_in_direct_map(f), 0x40 + i, kPageSize);
    EXPECT_EQ(run[i * kPageSize], 0x40 + i);
    EXPECT_EQ(run[i * kPageSize + kPageSize - 1], 0x40 + i);
  }
  ASSERT_TRUE(heap().free_run(run));
  heap().release_unused_metadata();
  EXPECT_EQ(m.free_frame_count(), start_free);
}

using HostMachineDeathTest = HostMachineTest;

TEST_F(HostMachineDeathTest, TouchingAFreedRunFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto* run = static_cast<volatile char*>(heap().alloc_run(2, RunOwner::Test, nullptr));
  auto* keep = heap().alloc_run(1, RunOwner::Test, nullptr);  // so the freed run is not trimmed
  ASSERT_TRUE(run && keep);
  run[kPageSize + 7] = 1;  // fine while it is a run
  ASSERT_TRUE(heap().free_run(const_cast<char*>(run)));
  EXPECT_EQ(m.translate(reinterpret_cast<VirtAddr>(run) + kPageSize), 0u);
  EXPECT_EXIT(run[kPageSize + 7] = 2, ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT((void)run[0], ::testing::KilledBySignal(SIGSEGV), "");
}

TEST_F(HostMachineDeathTest, PastTheBreakAndUnmappedMetadataFault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_NE(brk().sbrk(100), kSbrkFail);
  auto* past = reinterpret_cast<volatile char*>(brk().mapped_end());
  EXPECT_EXIT((void)past[0], ::testing::KilledBySignal(SIGSEGV), "");
  auto* meta = reinterpret_cast<volatile char*>(m.window_base() + kPageSize);  // second metadata page, not needed yet
  EXPECT_EXIT(meta[0] = 1, ::testing::KilledBySignal(SIGSEGV), "");
  // The last byte below the break's page end is fine.
  reinterpret_cast<volatile char*>(brk().mapped_end())[-1] = 3;
}

TEST_F(HostMachineTest, BreakGrowsUntilFramesRunOutAndShrinksBackExactly) {
  VirtAddr start = brk().current();
  size_t pages = 0;
  while (brk().sbrk(static_cast<intptr_t>(kPageSize)) != kSbrkFail) {
    reinterpret_cast<volatile uint32_t*>(brk().current() - kPageSize)[0] = static_cast<uint32_t>(pages);
    ++pages;
  }
  EXPECT_EQ(m.free_frame_count(), 0u);
  EXPECT_EQ(pages, start_free);
  EXPECT_EQ(brk().current(), start + pages * kPageSize);
  EXPECT_EQ(brk().brk(brk().current() + 1), brk().current());  // even one more byte fails
  for (size_t i = 0; i < pages; i += 97)
    EXPECT_EQ(reinterpret_cast<volatile uint32_t*>(start + i * kPageSize)[0], i);
  EXPECT_TRUE(m.pmm().check());
  EXPECT_EQ(brk().brk(start), start);
  EXPECT_EQ(m.free_frame_count(), start_free);
  EXPECT_EQ(m.translate(start), 0u);
  EXPECT_TRUE(m.pmm().check());
  EXPECT_TRUE(heap().check());
}

TEST_F(HostMachineTest, FailedGrowsLeakNoFrame) {
  ASSERT_NE(brk().sbrk(5 * kPageSize), kSbrkFail);
  VirtAddr cur = brk().current();
  size_t free_now = m.free_frame_count();
  EXPECT_EQ(brk().sbrk(static_cast<intptr_t>((free_now + 1) * kPageSize)), kSbrkFail);
  EXPECT_EQ(m.free_frame_count(), free_now);
  m.fail_frames_after(3);
  EXPECT_EQ(brk().sbrk(10 * kPageSize), kSbrkFail);
  EXPECT_EQ(m.free_frame_count(), free_now);
  m.fail_frames_after(3);
  EXPECT_NE(brk().sbrk(3 * kPageSize), kSbrkFail);  // exactly 3 succeed, then the hook bites
  EXPECT_EQ(brk().sbrk(kPageSize), kSbrkFail);
  m.fail_frames_after(-1);
  EXPECT_NE(brk().sbrk(kPageSize), kSbrkFail);
  EXPECT_EQ(brk().brk(cur), cur);
  EXPECT_EQ(m.free_frame_count(), free_now);
  for (VirtAddr v = cur; v < cur + 20 * kPageSize; v += kPageSize) EXPECT_EQ(m.translate(v), 0u);
  EXPECT_EQ(brk().sbrk(INTPTR_MIN), kSbrkFail);
  EXPECT_EQ(brk().brk(m.window_base()), cur);  // the metadata prefix is not the break's
  EXPECT_EQ(brk().brk(brk().limit() + kPageSize), cur);
  EXPECT_TRUE(m.pmm().check());
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(HostMachineTest, PageHeapErrorPathsReportAndKeepState) {
  void* a = heap().alloc_run(2, RunOwner::Slab, nullptr);
  void* b = heap().alloc_run(1, RunOwner::Test, nullptr);
  ASSERT_TRUE(a && b);
  size_t free_now = m.free_frame_count();
  uint32_t n = report_count();
  EXPECT_FALSE(heap().free_run(static_cast<char*>(a) + kPageSize));
  EXPECT_EQ(report_count(), n + 1);
  EXPECT_EQ(last_report().bug_class, BugClass::InvalidFree);
  EXPECT_NE(strstr(last_report().text, "inside the run"), nullptr) << last_report().text;
  ASSERT_TRUE(heap().free_run(a));
  EXPECT_FALSE(heap().free_run(a));
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  EXPECT_EQ(m.free_frame_count(), free_now + 2);
  EXPECT_TRUE(heap().check());
  EXPECT_TRUE(m.pmm().check());
}

// The same reference model as vm_test (runs by first page; free ranges are the
// gaps below the top), here with the memory contents checked too.
TEST_F(HostMachineTest, PageHeapRandomizedWithContentsAgainstAModel) {
  std::mt19937_64 rng(99);
  std::map<size_t, std::pair<size_t, uint8_t>> runs;  // first page -> (pages, fill byte)
  auto top = [&] { return runs.empty() ? size_t{0} : runs.rbegin()->first + runs.rbegin()->second.first; };
  auto page = [&](size_t i) { return reinterpret_cast<uint8_t*>(heap().data_start() + i * kPageSize); };
  for (int step = 0; step < 3000; ++step) {
    if (rng() % 2 || runs.empty()) {
      size_t n = 1 + (rng() % 8 == 0 ? rng() % 64 : rng() % 3);
      size_t at = 0;
      for (auto& [s, r] : runs) {
        if (s - at >= n) break;
        at = s + r.first;
      }
      bool fail = rng() % 16 == 0;
      if (fail) m.fail_frames_after(static_cast<long>(rng() % n));
      size_t free_before = m.free_frame_count();
      void* p = heap().alloc_run(n, RunOwner::Test, nullptr);
      m.fail_frames_after(-1);
      if (fail) {
        ASSERT_EQ(p, nullptr) << step;
        ASSERT_EQ(m.free_frame_count(), free_before);
      } else {
        ASSERT_EQ(p, page(at)) << step;
        uint8_t fill = static_cast<uint8_t>(rng());
        memset(p, fill, n * kPageSize);
        runs[at] = {n, fill};
      }
    } else {
      auto it = runs.begin();
      std::advance(it, rng() % runs.size());
      auto [s, r] = *it;
      for (size_t k = 0; k < r.first; ++k) {
        ASSERT_EQ(page(s + k)[0], r.second) << step;
        ASSERT_EQ(page(s + k)[kPageSize - 1], r.second) << step;
      }
      ASSERT_TRUE(heap().free_run(page(s)));
      runs.erase(it);
    }
    ASSERT_TRUE(heap().check()) << step << last_report().text;
    ASSERT_EQ(heap().top(), reinterpret_cast<VirtAddr>(page(top())));
    if (step % 200 == 0) {
      ASSERT_TRUE(m.pmm().check());
    }
  }
  for (auto& [s, r] : runs) {
    ASSERT_TRUE(heap().free_run(page(s)));
  }
  heap().release_unused_metadata();
  EXPECT_EQ(m.free_frame_count(), start_free);
  EXPECT_EQ(heap().top(), heap().data_start());
  EXPECT_TRUE(m.pmm().check());
  EXPECT_EQ(report_count(), 0u);
}

}  // namespace
