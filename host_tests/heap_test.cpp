// host_tests/heap_test.cpp — the Win32-style heaps (lib/heap) on a fresh host
// machine per test (memfd RAM + buddy + page heap + slab): every function,
// flag and failure convention, the documented corner cases, misuse reports,
// HeapWalk / HeapValidate / HeapCompact, fixed heaps filling to their maximum,
// HeapDestroy giving every frame back, and randomized multi-heap sequences
// checked against a reference model.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/format.h"
#include "core/report.h"
#include "heap/win32_heap.h"
#include "host/host_machine.h"
#include "slab/slab.h"

using namespace kheap;
using namespace kheap::win32;
using kheap::host::HostMachine;
using kheap::host::HostMachineConfig;

namespace {

constexpr SIZE_T kFail = static_cast<SIZE_T>(-1);
constexpr size_t kAlign = 2 * sizeof(void*);

struct HandlerLog {
  int calls = 0;
  DWORD status = 0;
  HANDLE heap = nullptr;
  SIZE_T requested = 0;
};
HandlerLog g_handler_log;
void recording_handler(DWORD status, HANDLE heap, SIZE_T requested) {
  ++g_handler_log.calls;
  g_handler_log.status = status;
  g_handler_log.heap = heap;
  g_handler_log.requested = requested;
}

class HeapTest : public ::testing::Test {
 protected:
  HostMachine m;
  void SetUp() override {
    set_report_echo(false);
    reset_reports();
    HostMachineConfig c;
    c.ram_bytes = size_t{64} << 20;
    c.window_bytes = size_t{256} << 20;
    ASSERT_TRUE(kheap::host::bring_up_stack(&m, c));
    g_handler_log = {};
    SetLastError(ERROR_SUCCESS);
  }
  void TearDown() override {
    set_heap_failure_handler(nullptr);
    set_report_echo(true);
  }
  size_t free_frames() { return m.pmm().free_frame_count(); }
  void expect_report(BugClass c, uint32_t before) {
    EXPECT_EQ(report_count(), before + 1);
    EXPECT_EQ(last_report().bug_class, c) << last_report().text;
  }
  static HeapStats stats(HANDLE h) {
    HeapStats s{};
    EXPECT_TRUE(heap_stats(h, &s));
    return s;
  }
  // Live BUSY blocks found by a full walk: data -> size.
  static std::map<void*, size_t> walk_busy(HANDLE h, size_t* regions = nullptr) {
    std::map<void*, size_t> busy;
    PROCESS_HEAP_ENTRY e{};
    size_t r = 0;
    char* region_start = nullptr;
    char* region_end = nullptr;
    while (HeapWalk(h, &e)) {
      if (e.wFlags & PROCESS_HEAP_REGION) {
        ++r;
        region_start = static_cast<char*>(e.lpData);
        region_end = region_start + e.cbData;
        EXPECT_EQ(e.regionCommittedSize, e.cbData);
        continue;
      }
      auto* p = static_cast<char*>(e.lpData);
      EXPECT_TRUE(p >= region_start && p < region_end) << "entry outside its region";
      if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) {
        EXPECT_TRUE(busy.emplace(e.lpData, e.cbData).second) << "block visited twice";
      }
    }
    EXPECT_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
    if (regions) *regions = r;
    return busy;
  }
};

/* --- Process heap, handles, creation ----------------------------------- */

TEST_F(HeapTest, ProcessHeapIsGrowableAndCannotBeDestroyed) {
  HANDLE ph = GetProcessHeap();
  ASSERT_NE(ph, nullptr);
  HeapStats s = stats(ph);
  EXPECT_TRUE(s.is_process_heap);
  EXPECT_EQ(s.flags & HEAP_GROWABLE, HEAP_GROWABLE);
  EXPECT_EQ(s.maximum_bytes, 0u);
  HANDLE list[4] = {};
  EXPECT_EQ(GetProcessHeaps(4, list), 1u);
  EXPECT_EQ(list[0], ph);
  uint32_t before = report_count();
  EXPECT_EQ(HeapDestroy(ph), FALSE);
  expect_report(BugClass::BadArgument, before);
  EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
  void* p = HeapAlloc(ph, 0, 10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(HeapFree(ph, 0, p), TRUE);
}

TEST_F(HeapTest, GetProcessHeapsListsEveryHeap) {
  HANDLE a = HeapCreate(0, 0, 0), b = HeapCreate(0, 4096, 0), c = HeapCreate(0, 0, 65536);
  ASSERT_TRUE(a && b && c);
  HANDLE list[8] = {};
  ASSERT_EQ(GetProcessHeaps(8, list), 4u);
  std::set<HANDLE> got(list, list + 4);
  EXPECT_EQ(got, (std::set<HANDLE>{GetProcessHeap(), a, b, c}));
  HANDLE small[2] = {nullptr, nullptr};
  EXPECT_EQ(GetProcessHeaps(2, small), 4u);  // too small: nothing stored
  EXPECT_EQ(small[0], nullptr);
  EXPECT_EQ(HeapDestroy(b), TRUE);
  EXPECT_EQ(GetProcessHeaps(0, nullptr), 3u);
  EXPECT_EQ(HeapDestroy(a), TRUE);
  EXPECT_EQ(HeapDestroy(c), TRUE);
}

TEST_F(HeapTest, HeapCreateRoundsSizesAndRejectsBadOnes) {
  HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 5000, 10000);
  ASSERT_NE(h, nullptr);
  HeapStats s = stats(h);
  EXPECT_EQ(s.reserve_bytes, 8192u);    // initial rounded up to pages, committed at creation
  EXPECT_EQ(s.committed_bytes, 8192u);
  EXPECT_EQ(s.maximum_bytes, 12288u);   // maximum rounded up to pages
  EXPECT_EQ(s.flags & HEAP_GROWABLE, 0u);
  EXPECT_EQ(s.flags & HEAP_NO_SERIALIZE, HEAP_NO_SERIALIZE);
  EXPECT_EQ(HeapDestroy(h), TRUE);

  uint32_t before = report_count();
  EXPECT_EQ(HeapCreate(0, 1 << 20, 4096), nullptr);  // initial > maximum
  EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
  EXPECT_EQ(HeapCreate(0, SIZE_MAX, 0), nullptr);    // rounding overflows
  EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
  EXPECT_EQ(HeapCreate(0, SIZE_MAX / 2, 0), nullptr);  // more than the window
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(HeapCreate(0, size_t{200} << 20, 0), nullptr);  // fits the window, not the 64 MiB of RAM
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(report_count(), before);  // failures, not misuse
  EXPECT_EQ(GetProcessHeaps(0, nullptr), 1u);
}

TEST_F(HeapTest, InvalidHandlesAreReportedAndRefused) {
  HANDLE dead = HeapCreate(0, 0, 0);
  ASSERT_NE(dead, nullptr);
  ASSERT_EQ(HeapDestroy(dead), TRUE);
  int local = 0;
  HANDLE handles[] = {nullptr, dead, &local, reinterpret_cast<HANDLE>(0x1234)};
  for (HANDLE bad : handles) {
    uint32_t before = report_count();
    EXPECT_EQ(HeapAlloc(bad, 0, 10), nullptr);
    expect_report(BugClass::InvalidHandle, before);
    EXPECT_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    int dummy;
    EXPECT_EQ(HeapFree(bad, 0, &dummy), FALSE);
    EXPECT_EQ(HeapSize(bad, 0, &dummy), kFail);
    EXPECT_EQ(HeapReAlloc(bad, 0, &dummy, 10), nullptr);
    EXPECT_EQ(HeapValidate(bad, 0, nullptr), FALSE);
    PROCESS_HEAP_ENTRY e{};
    EXPECT_EQ(HeapWalk(bad, &e), FALSE);
    EXPECT_EQ(HeapCompact(bad, 0), 0u);
    EXPECT_EQ(HeapLock(bad), FALSE);
    EXPECT_EQ(HeapUnlock(bad), FALSE);
    EXPECT_EQ(HeapDestroy(bad), FALSE);
    EXPECT_EQ(report_count(), before + 10);
    EXPECT_EQ(last_report().bug_class, BugClass::InvalidHandle);
    EXPECT_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    HeapStats s;
    EXPECT_FALSE(heap_stats(bad, &s));
  }
  EXPECT_EQ(local, 0);  // nothing was written through the fake handle
}

/* --- Blocks ------------------------------------------------------------- */

TEST_F(HeapTest, HeapSizeIsExactlyWhatWasAskedAndBlocksAreAligned) {
  HANDLE h = HeapCreate(0, 0, 0);
  ASSERT_NE(h, nullptr);
  const size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 100, 1000, 4080, 4096, 16368 - kAlign, 16368, 16369, 20000, 65536, 500000};
  std::vector<void*> blocks;
  size_t bytes = 0;
  for (size_t n : sizes) {
    void* p = HeapAlloc(h, 0, n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kAlign, 0u) << n;
    EXPECT_EQ(HeapSize(h, 0, p), n);
    memset(p, 0x5A, n);
    for (void* q : blocks) EXPECT_NE(p, q);
    blocks.push_back(p);
    bytes += n;
  }
  HeapStats s = stats(h);
  EXPECT_EQ(s.blocks_in_use, blocks.size());
  EXPECT_EQ(s.bytes_in_use, bytes);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(HeapSize(h, 0, blocks[i]), sizes[i]);
    EXPECT_EQ(HeapFree(h, 0, blocks[i]), TRUE);
  }
  EXPECT_EQ(stats(h).blocks_in_use, 0u);
  EXPECT_EQ(HeapDestroy(h), TRUE);
}

TEST_F(HeapTest, LargeBlockTakesExactlyItsPages) {
  HANDLE h = HeapCreate(0, 0, 0);
  ASSERT_NE(h, nullptr);
  void* p = HeapAlloc(h, 0, 512 * 1024);
  ASSERT_NE(p, nullptr);
  HeapStats s = stats(h);
  EXPECT_EQ(s.large_run_bytes, 512u * 1024);  // 128 pages, metadata outside the run
  EXPECT_EQ(s.committed_bytes, 512u * 1024);
  EXPECT_EQ(s.large_blocks, 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);
  EXPECT_EQ(HeapDestroy(h), TRUE);
}

TEST_F(HeapTest, ZeroByteBlocksAreValidAndDistinct) {
  HANDLE h = GetProcessHeap();
  void* a = HeapAlloc(h, 0, 0);
  void* b = HeapAlloc(h, 0, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(HeapSize(h, 0, a), 0u);
  EXPECT_EQ(HeapValidate(h, 0, a), TRUE);
  EXPECT_EQ(HeapFree(h, 0, a), TRUE);
  EXPECT_EQ(HeapFree(h, 0, b), TRUE);
}

TEST_F(HeapTest, ZeroMemoryFlagZeroesSmallAndLargeBlocks) {
  HANDLE h = HeapCreate(0, 0, 0);
  for (size_t n : {size_t{24}, size_t{3000}, size_t{100000}}) {
    void* dirty = HeapAlloc(h, 0, n);
    ASSERT_NE(dirty, nullptr);
    memset(dirty, 0xEE, n);
    ASSERT_EQ(HeapFree(h, 0, dirty), TRUE);
    auto* p = static_cast<unsigned char*>(HeapAlloc(h, HEAP_ZERO_MEMORY, n));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0) << n << " at " << i;
    EXPECT_EQ(HeapFree(h, 0, p), TRUE);
  }
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapFreeOfNullSucceeds) {
  uint32_t before = report_count();
  EXPECT_EQ(HeapFree(GetProcessHeap(), 0, nullptr), TRUE);
  EXPECT_EQ(report_count(), before);
}

TEST_F(HeapTest, HugeSizesFailCleanly) {
  HANDLE h = HeapCreate(0, 0, 0);
  void* keep = HeapAlloc(h, 0, 64);
  ASSERT_NE(keep, nullptr);
  memset(keep, 0x11, 64);
  uint32_t before = report_count();
  for (SIZE_T n : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - kAlign, SIZE_MAX - kPageSize, SIZE_MAX / 2,
                   SIZE_T{1} << 40, (SIZE_T{256} << 20) + 1}) {
    SetLastError(0);
    EXPECT_EQ(HeapAlloc(h, 0, n), nullptr) << n;
    EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    EXPECT_EQ(HeapReAlloc(h, 0, keep, n), nullptr) << n;
    EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  }
  EXPECT_EQ(report_count(), before);
  EXPECT_EQ(HeapSize(h, 0, keep), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(static_cast<unsigned char*>(keep)[i], 0x11);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  EXPECT_EQ(stats(h).blocks_in_use, 1u);
  HeapDestroy(h);
}

/* --- HeapReAlloc ---------------------------------------------------------- */

TEST_F(HeapTest, ReAllocOfNullFails) {
  uint32_t before = report_count();
  EXPECT_EQ(HeapReAlloc(GetProcessHeap(), 0, nullptr, 10), nullptr);
  expect_report(BugClass::BadArgument, before);
  EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
}

TEST_F(HeapTest, ReAllocToZeroReturnsAValidZeroByteBlock) {
  HANDLE h = HeapCreate(0, 0, 0);
  for (size_t n : {size_t{100}, size_t{70000}}) {
    void* p = HeapAlloc(h, 0, n);
    ASSERT_NE(p, nullptr);
    void* q = HeapReAlloc(h, 0, p, 0);
    ASSERT_NE(q, nullptr);  // unlike C realloc, nothing is freed
    EXPECT_EQ(HeapSize(h, 0, q), 0u);
    EXPECT_EQ(HeapValidate(h, 0, q), TRUE);
    EXPECT_EQ(stats(h).blocks_in_use, 1u);
    EXPECT_EQ(HeapFree(h, 0, q), TRUE);
  }
  HeapDestroy(h);
}

TEST_F(HeapTest, ReAllocInPlaceWithinTheSizeClassAndMovingBeyondIt) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto* p = static_cast<unsigned char*>(HeapAlloc(h, 0, 20));  // slot of 48: room for 48 - header
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 20; ++i) p[i] = static_cast<unsigned char>(i);
  void* same = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 48 - kAlign);
  EXPECT_EQ(same, p);
  EXPECT_EQ(HeapSize(h, 0, p), 48 - kAlign);

  // Beyond the slot, IN_PLACE_ONLY fails and leaves the block as it was.
  uint32_t before = report_count();
  SetLastError(0);
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 1000), nullptr);
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(report_count(), before);
  EXPECT_EQ(HeapSize(h, 0, p), 48 - kAlign);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p[i], i);

  // Without it the block moves and keeps its contents; the old one is gone.
  auto* q = static_cast<unsigned char*>(HeapReAlloc(h, 0, p, 1000));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(q[i], i);
  EXPECT_EQ(HeapSize(h, 0, q), 1000u);
  EXPECT_EQ(HeapValidate(h, 0, p), FALSE);
  EXPECT_EQ(stats(h).blocks_in_use, 1u);

  // Shrinking is always in place.
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, q, 3), q);
  EXPECT_EQ(HeapSize(h, 0, q), 3u);
  HeapDestroy(h);
}

TEST_F(HeapTest, ReAllocLargeBlocksInPlaceWhenThePagesAfterAreFree) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto* a = static_cast<unsigned char*>(HeapAlloc(h, 0, 20 * 4096));
  ASSERT_NE(a, nullptr);
  memset(a, 0x77, 20 * 4096);
  // a is the topmost run: it can grow where it stands.
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 30 * 4096), a);
  EXPECT_EQ(HeapSize(h, 0, a), 30u * 4096);
  void* b = HeapAlloc(h, 0, 20 * 4096);
  ASSERT_NE(b, nullptr);
  // Now the pages after a are b's.
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 40 * 4096), nullptr);
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(HeapSize(h, 0, a), 30u * 4096);
  // Shrink in place gives pages back.
  size_t committed = stats(h).committed_bytes;
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 5 * 4096 + 1), a);
  EXPECT_EQ(stats(h).committed_bytes, committed - 24 * 4096);
  for (int i = 0; i < 5 * 4096; ++i) ASSERT_EQ(a[i], 0x77);
  // Moving keeps the contents.
  auto* c = static_cast<unsigned char*>(HeapReAlloc(h, 0, a, 50 * 4096));
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 5 * 4096; ++i) ASSERT_EQ(c[i], 0x77);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  HeapDestroy(h);
}

TEST_F(HeapTest, ReAllocInsideTheReserve) {
  HANDLE h = HeapCreate(0, 64 * 4096, 0);
  ASSERT_NE(h, nullptr);
  void* a = HeapAlloc(h, 0, 8 * 4096);
  ASSERT_NE(a, nullptr);
  HeapStats s = stats(h);
  EXPECT_EQ(s.large_run_bytes, 0u);  // carved from the reserve
  EXPECT_EQ(s.committed_bytes, 64u * 4096);
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 16 * 4096), a);
  void* b = HeapAlloc(h, 0, 8 * 4096);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(static_cast<char*>(b), static_cast<char*>(a) + 16 * 4096);
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 17 * 4096), nullptr);
  EXPECT_EQ(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 4 * 4096), a);
  EXPECT_EQ(stats(h).committed_bytes, 64u * 4096);  // the reserve stays committed
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  EXPECT_EQ(HeapFree(h, 0, a), TRUE);
  EXPECT_EQ(HeapFree(h, 0, b), TRUE);
  HeapDestroy(h);
}

TEST_F(HeapTest, ReAllocZeroesOnlyTheGrownBytes) {
  HANDLE h = HeapCreate(0, 0, 0);
  // In place: dirty the whole slot first, shrink, then grow back with HEAP_ZERO_MEMORY.
  auto* p = static_cast<unsigned char*>(HeapAlloc(h, 0, 48 - kAlign));
  memset(p, 0xCD, 48 - kAlign);
  ASSERT_EQ(HeapReAlloc(h, 0, p, 5), p);
  ASSERT_EQ(HeapReAlloc(h, HEAP_ZERO_MEMORY, p, 48 - kAlign), p);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(p[i], 0xCD);
  for (size_t i = 5; i < 48 - kAlign; ++i) EXPECT_EQ(p[i], 0) << i;
  // Moving, small to large.
  auto* q = static_cast<unsigned char*>(HeapReAlloc(h, HEAP_ZERO_MEMORY, p, 30000));
  ASSERT_NE(q, nullptr);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(q[i], 0xCD);
  for (size_t i = 5; i < 30000; ++i) ASSERT_EQ(q[i], 0) << i;
  // Large grown in place.
  memset(q, 0xAB, 30000);
  ASSERT_EQ(HeapReAlloc(h, 0, q, 100), q);  // shrink keeps 1 page
  auto* r = static_cast<unsigned char*>(HeapReAlloc(h, HEAP_ZERO_MEMORY, q, 50000));
  ASSERT_NE(r, nullptr);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(r[i], 0xAB);
  for (size_t i = 100; i < 50000; ++i) ASSERT_EQ(r[i], 0) << i;
  // Without the flag, the old bytes survive a shrink/grow in place (no zeroing asked).
  HeapDestroy(h);
}

/* --- Misuse ------------------------------------------------------------- */

TEST_F(HeapTest, DoubleFreeAndUseOfAFreedBlockAreReported) {
  HANDLE h = HeapCreate(0, 0, 0);
  void* small = HeapAlloc(h, 0, 40);
  void* large = HeapAlloc(h, 0, 100000);
  void* guard = HeapAlloc(h, 0, 100000);  // keeps `large` from being the topmost run
  void* other = HeapAlloc(h, 0, 40);       // keeps `small`'s slab alive
  ASSERT_TRUE(small && large && guard && other);
  for (void* p : {small, large}) {
    ASSERT_EQ(HeapFree(h, 0, p), TRUE);
    uint32_t before = report_count();
    EXPECT_EQ(HeapFree(h, 0, p), FALSE);
    expect_report(BugClass::DoubleFree, before);
    EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    EXPECT_EQ(HeapSize(h, 0, p), kFail);
    expect_report(BugClass::DoubleFree, before + 1);
    EXPECT_EQ(HeapReAlloc(h, 0, p, 10), nullptr);
    expect_report(BugClass::DoubleFree, before + 2);
    EXPECT_EQ(HeapValidate(h, 0, p), FALSE);  // a question: no report
    EXPECT_EQ(report_count(), before + 3);
  }
  HeapStats s = stats(h);
  EXPECT_EQ(s.blocks_in_use, 2u);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  EXPECT_EQ(HeapSize(h, 0, other), 40u);
  HeapDestroy(h);
}

TEST_F(HeapTest, PointersThatAreNotBlocksAreReportedAsInvalidFrees) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto* p = static_cast<char*>(HeapAlloc(h, 0, 100));
  auto* big = static_cast<char*>(HeapAlloc(h, 0, 100000));
  ASSERT_TRUE(p && big);
  int on_stack = 0;
  void* bad[] = {p + kAlign, p + 1, big + 4096, big + kAlign, &on_stack, reinterpret_cast<void*>(0x1000)};
  for (void* q : bad) {
    uint32_t before = report_count();
    EXPECT_EQ(HeapFree(h, 0, q), FALSE) << q;
    expect_report(BugClass::InvalidFree, before);
    EXPECT_EQ(HeapSize(h, 0, q), kFail);
    EXPECT_EQ(HeapValidate(h, 0, q), FALSE);
  }
  EXPECT_EQ(stats(h).blocks_in_use, 2u);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  uint32_t before = report_count();
  EXPECT_EQ(HeapSize(h, 0, nullptr), kFail);
  expect_report(BugClass::BadArgument, before);
  HeapDestroy(h);
}

TEST_F(HeapTest, BlocksFreedThroughTheWrongHeapAreRefused) {
  HANDLE a = HeapCreate(0, 0, 0), b = HeapCreate(0, 1 << 20, 0);
  void* small = HeapAlloc(a, 0, 64);
  void* large = HeapAlloc(a, 0, 200000);
  void* in_reserve = HeapAlloc(b, 0, 200000);
  ASSERT_TRUE(small && large && in_reserve);
  memset(small, 0x42, 64);
  struct Case { HANDLE wrong; void* p; HANDLE right; } cases[] = {{b, small, a}, {b, large, a}, {a, in_reserve, b},
                                                                    {GetProcessHeap(), small, a}};
  for (const Case& c : cases) {
    uint32_t before = report_count();
    EXPECT_EQ(HeapFree(c.wrong, 0, c.p), FALSE);
    expect_report(BugClass::WrongHeap, before);
    EXPECT_EQ(HeapSize(c.wrong, 0, c.p), kFail);
    EXPECT_EQ(HeapReAlloc(c.wrong, 0, c.p, 10), nullptr);
    EXPECT_EQ(last_report().bug_class, BugClass::WrongHeap);
    EXPECT_EQ(HeapValidate(c.wrong, 0, c.p), FALSE);
    EXPECT_NE(HeapSize(c.right, 0, c.p), kFail);
  }
  for (int i = 0; i < 64; ++i) EXPECT_EQ(static_cast<unsigned char*>(small)[i], 0x42);
  EXPECT_EQ(HeapValidate(a, 0, nullptr), TRUE);
  EXPECT_EQ(HeapValidate(b, 0, nullptr), TRUE);
  EXPECT_EQ(HeapFree(a, 0, small), TRUE);
  EXPECT_EQ(HeapFree(a, 0, large), TRUE);
  EXPECT_EQ(HeapFree(b, 0, in_reserve), TRUE);
  HeapDestroy(a);
  HeapDestroy(b);
}

TEST_F(HeapTest, HeapValidateCatchesACorruptedBlockHeader) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto* p = static_cast<char*>(HeapAlloc(h, 0, 100));
  void* q = HeapAlloc(h, 0, 100);
  ASSERT_TRUE(p && q);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  unsigned char saved[kAlign];
  memcpy(saved, p - kAlign, kAlign);
  memset(p - kAlign, 0x41, kAlign);  // an underrun from the block before
  uint32_t before = report_count();
  EXPECT_EQ(HeapValidate(h, 0, p), FALSE);
  expect_report(BugClass::RedzoneOverwritten, before);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), FALSE);
  expect_report(BugClass::RedzoneOverwritten, before + 1);
  EXPECT_EQ(HeapFree(h, 0, p), FALSE);  // refused: the heap does not trust that block
  expect_report(BugClass::RedzoneOverwritten, before + 2);
  EXPECT_EQ(HeapSize(h, 0, p), kFail);
  EXPECT_EQ(HeapValidate(h, 0, q), TRUE);  // the others are fine
  memcpy(p - kAlign, saved, kAlign);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  EXPECT_EQ(HeapFree(h, 0, p), TRUE);
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapValidateOfNonBlocksReturnsFalseWithoutCrashing) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto* p = static_cast<char*>(HeapAlloc(h, 0, 100));
  uint32_t before = report_count();
  int local;
  for (const void* q : {static_cast<const void*>(p + 16), static_cast<const void*>(p + 3),
                        static_cast<const void*>(&local), reinterpret_cast<const void*>(8),
                        reinterpret_cast<const void*>(UINTPTR_MAX & ~uintptr_t{15})}) {
    EXPECT_EQ(HeapValidate(h, 0, q), FALSE);
  }
  EXPECT_EQ(report_count(), before);
  EXPECT_EQ(HeapValidate(h, 0, p), TRUE);
  HeapDestroy(h);
}

/* --- HeapWalk, HeapCompact ------------------------------------------------ */

TEST_F(HeapTest, HeapWalkVisitsExactlyTheLiveBlocks) {
  HANDLE h = HeapCreate(0, 256 * 1024, 0);
  ASSERT_NE(h, nullptr);
  std::map<void*, size_t> live;
  std::mt19937 rng(7);
  std::vector<void*> order;
  for (int i = 0; i < 300; ++i) {
    size_t n = (i % 10 == 0) ? 20000 + rng() % 60000 : rng() % 2000;
    void* p = HeapAlloc(h, 0, n);
    ASSERT_NE(p, nullptr);
    live[p] = n;
    order.push_back(p);
  }
  for (size_t i = 0; i < order.size(); i += 3) {
    ASSERT_EQ(HeapFree(h, 0, order[i]), TRUE);
    live.erase(order[i]);
  }
  size_t regions = 0;
  EXPECT_EQ(walk_busy(h, &regions), live);
  EXPECT_GT(regions, 1u);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);

  HANDLE empty = HeapCreate(0, 0, 0);
  PROCESS_HEAP_ENTRY e{};
  EXPECT_EQ(HeapWalk(empty, &e), FALSE);
  EXPECT_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
  uint32_t before = report_count();
  EXPECT_EQ(HeapWalk(empty, nullptr), FALSE);
  expect_report(BugClass::BadArgument, before);
  // An entry of another heap's walk is not a position in this one.
  e = {};
  ASSERT_EQ(HeapWalk(h, &e), TRUE);
  EXPECT_EQ(HeapWalk(empty, &e), FALSE);
  EXPECT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
  HeapDestroy(empty);
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapWalkShowsFreeReserveRangesAndRegions) {
  HANDLE h = HeapCreate(0, 16 * 4096, 0);
  void* a = HeapAlloc(h, 0, 5 * 4096);
  ASSERT_NE(a, nullptr);
  PROCESS_HEAP_ENTRY e{};
  std::vector<PROCESS_HEAP_ENTRY> all;
  while (HeapWalk(h, &e)) all.push_back(e);
  ASSERT_EQ(all.size(), 3u);  // region, busy block, free rest
  EXPECT_EQ(all[0].wFlags, PROCESS_HEAP_REGION);
  EXPECT_EQ(all[0].cbData, 16u * 4096);
  EXPECT_EQ(all[0].regionFirstBlock, a);
  EXPECT_EQ(all[1].wFlags, PROCESS_HEAP_ENTRY_BUSY);
  EXPECT_EQ(all[1].lpData, a);
  EXPECT_EQ(all[1].cbData, 5u * 4096);
  EXPECT_EQ(all[2].wFlags, 0);
  EXPECT_EQ(all[2].cbData, 11u * 4096);
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapCompactGivesSlabPagesBackAndReturnsTheLargestFreeBlock) {
  HANDLE h = HeapCreate(0, 8 * 4096, 0);
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) v.push_back(HeapAlloc(h, 0, 100));
  HeapStats full = stats(h);
  EXPECT_GT(full.slab_bytes, 2000u * 100);
  for (void* p : v) ASSERT_EQ(HeapFree(h, 0, p), TRUE);
  SIZE_T largest = HeapCompact(h, 0);
  HeapStats after = stats(h);
  EXPECT_EQ(after.slab_bytes, 0u);
  EXPECT_EQ(after.committed_bytes, 8u * 4096);  // the initial commit stays
  EXPECT_EQ(largest, 8u * 4096);               // the free reserve
  void* a = HeapAlloc(h, 0, 8 * 4096);
  void* keep = HeapAlloc(h, 0, 100);
  SIZE_T l2 = HeapCompact(h, 0);
  EXPECT_GT(l2, 100u);  // free slots in the one slab left
  EXPECT_LT(l2, 4096u);
  EXPECT_EQ(HeapFree(h, 0, a), TRUE);
  EXPECT_EQ(HeapFree(h, 0, keep), TRUE);
  HANDLE empty = HeapCreate(0, 0, 0);
  SetLastError(1234);
  EXPECT_EQ(HeapCompact(empty, 0), 0u);
  EXPECT_EQ(GetLastError(), ERROR_SUCCESS);  // 0 with NO_ERROR: no free block at all
  HeapDestroy(empty);
  HeapDestroy(h);
}

/* --- Fixed-size heaps ------------------------------------------------------- */

TEST_F(HeapTest, FixedHeapFillsToItsMaximumWithLargeBlocks) {
  HANDLE h = HeapCreate(0, 0, 1 << 20);
  ASSERT_NE(h, nullptr);
  std::vector<void*> v;
  while (void* p = HeapAlloc(h, 0, 65536)) v.push_back(p);
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  EXPECT_EQ(v.size(), 16u);  // 16 pages each, 256 pages of maximum
  EXPECT_EQ(stats(h).committed_bytes, 1u << 20);
  EXPECT_EQ(HeapAlloc(h, 0, 10), nullptr);  // not even a slab fits
  ASSERT_EQ(HeapFree(h, 0, v.back()), TRUE);
  v.pop_back();
  void* s = HeapAlloc(h, 0, 10);
  EXPECT_NE(s, nullptr);
  EXPECT_LE(stats(h).committed_bytes, 1u << 20);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  HeapDestroy(h);
}

TEST_F(HeapTest, FixedHeapFillsToItsMaximumWithSmallBlocks) {
  HANDLE h = HeapCreate(0, 0, 64 * 1024);
  std::vector<void*> v;
  while (void* p = HeapAlloc(h, 0, 100)) {
    v.push_back(p);
    ASSERT_LE(stats(h).committed_bytes, 64u * 1024);
  }
  EXPECT_GT(v.size(), 64u * 1024 / 128 / 2);
  EXPECT_LE(v.size(), 64u * 1024 / 112);
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  for (void* p : v) ASSERT_EQ(HeapFree(h, 0, p), TRUE);
  EXPECT_NE(HeapAlloc(h, 0, 100), nullptr);
  HeapDestroy(h);
}

TEST_F(HeapTest, FixedHeapGivesItsFreeReserveToSmallBlocksAtTheMaximum) {
  HANDLE h = HeapCreate(0, 64 * 1024, 64 * 1024);  // all of it committed up front
  void* p = HeapAlloc(h, 0, 100);  // needs a slab: the unused reserve tail makes room
  ASSERT_NE(p, nullptr);
  HeapStats s = stats(h);
  EXPECT_LE(s.committed_bytes, 64u * 1024);
  EXPECT_LT(s.reserve_bytes, 64u * 1024);
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapTest2ShapeStopsAtAnExactCount) {
  // HeapTest2 scaled down 10x: HeapCreate(0, 2000000, 40000000), 500000-byte blocks.
  // A block is 123 pages; the maximum rounds up to 9766 pages; 9766 / 123 = 79.4.
  HANDLE h = HeapCreate(0, 2000000, 40000000);
  ASSERT_NE(h, nullptr);
  size_t n = 0;
  while (n < 2000 && HeapAlloc(h, HEAP_ZERO_MEMORY, 500000)) ++n;
  EXPECT_EQ(n, 79u);
  EXPECT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  HeapStats s = stats(h);
  EXPECT_EQ(s.committed_bytes, 79u * 123 * 4096);
  EXPECT_EQ(s.bytes_in_use, 79u * 500000);
  EXPECT_EQ(HeapDestroy(h), TRUE);
}

/* --- HeapDestroy returns everything ------------------------------------------ */

TEST_F(HeapTest, HeapDestroyReturnsEveryFrameWhateverIsAllocated) {
  auto fill = [](HANDLE h) {
    for (int i = 0; i < 500; ++i) ASSERT_NE(HeapAlloc(h, 0, (i * 37) % 3000), nullptr);
    for (int i = 0; i < 20; ++i) ASSERT_NE(HeapAlloc(h, 0, 20000 + i * 4096), nullptr);
  };
  // Warm-up: the slab layer's own structures for new caches may keep a page.
  HANDLE w = HeapCreate(0, 100000, 0);
  fill(w);
  ASSERT_EQ(HeapDestroy(w), TRUE);

  // The page heap may keep one spare page of its own metadata after a trim
  // (its hysteresis): give it back when the test created it.
  size_t metadata_before = 0;
  auto settle = [&] {
    if (m.page_heap().metadata_pages_mapped() > metadata_before) m.page_heap().release_unused_metadata();
  };
  size_t before = free_frames();
  metadata_before = m.page_heap().metadata_pages_mapped();
  HANDLE h = HeapCreate(0, 100000, 0);
  ASSERT_NE(h, nullptr);
  fill(h);
  EXPECT_LT(free_frames(), before - 100);
  EXPECT_EQ(HeapDestroy(h), TRUE);
  settle();
  EXPECT_EQ(free_frames(), before);
  EXPECT_TRUE(m.page_heap().check());

  // A heap with only large blocks needs no warm-up at all: 100 blocks of
  // 500000 bytes (48 MiB of the machine's 64), destroyed with all of them live.
  before = free_frames();
  metadata_before = m.page_heap().metadata_pages_mapped();
  h = HeapCreate(0, 2000000, 0);
  size_t n = 0;
  while (n < 100 && HeapAlloc(h, HEAP_ZERO_MEMORY, 500000)) ++n;
  EXPECT_EQ(n, 100u);
  EXPECT_EQ(HeapDestroy(h), TRUE);
  settle();
  EXPECT_EQ(free_frames(), before);
}

/* --- Flags: exceptions, serialization ------------------------------------------ */

TEST_F(HeapTest, GenerateExceptionsRunsTheFailureHandler) {
  set_heap_failure_handler(recording_handler);
  HANDLE h = HeapCreate(0, 0, 0);
  EXPECT_EQ(HeapAlloc(h, HEAP_GENERATE_EXCEPTIONS, SIZE_MAX), nullptr);
  EXPECT_EQ(g_handler_log.calls, 1);
  EXPECT_EQ(g_handler_log.status, STATUS_NO_MEMORY);
  EXPECT_EQ(g_handler_log.heap, h);
  EXPECT_EQ(g_handler_log.requested, SIZE_MAX);
  EXPECT_EQ(HeapAlloc(h, 0, SIZE_MAX), nullptr);  // without the flag: no handler
  EXPECT_EQ(g_handler_log.calls, 1);
  void* p = HeapAlloc(h, 0, 10);
  EXPECT_EQ(HeapReAlloc(h, HEAP_GENERATE_EXCEPTIONS | HEAP_REALLOC_IN_PLACE_ONLY, p, 5000), nullptr);
  EXPECT_EQ(g_handler_log.calls, 2);
  EXPECT_EQ(g_handler_log.status, STATUS_NO_MEMORY);
  EXPECT_EQ(HeapSize(h, 0, p), 10u);
  // A heap created with the flag raises on every failing call.
  HANDLE x = HeapCreate(HEAP_GENERATE_EXCEPTIONS, 0, 8192);
  EXPECT_EQ(HeapAlloc(x, 0, 100000), nullptr);
  EXPECT_EQ(g_handler_log.calls, 3);
  EXPECT_EQ(g_handler_log.heap, x);
  // Bad handle or block: the access-violation status.
  EXPECT_EQ(HeapAlloc(reinterpret_cast<HANDLE>(0x40), HEAP_GENERATE_EXCEPTIONS, 1), nullptr);
  EXPECT_EQ(g_handler_log.status, STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(HeapReAlloc(x, 0, static_cast<char*>(p) + 16, 1), nullptr);
  EXPECT_EQ(g_handler_log.status, STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(g_handler_log.calls, 5);
  HeapDestroy(x);
  HeapDestroy(h);
}

TEST_F(HeapTest, DefaultFailureHandlerStops) {
  HANDLE h = HeapCreate(0, 0, 0);
  EXPECT_DEATH(HeapAlloc(h, HEAP_GENERATE_EXCEPTIONS, SIZE_MAX), "STATUS_NO_MEMORY");
  HeapDestroy(h);
}

TEST_F(HeapTest, HeapLockNestsOnOneThreadAndExcludesOthers) {
  HANDLE h = HeapCreate(0, 0, 0);
  ASSERT_EQ(HeapLock(h), TRUE);
  ASSERT_EQ(HeapLock(h), TRUE);  // recursive
  void* p = HeapAlloc(h, 0, 10);  // the heap's own locking nests too
  ASSERT_NE(p, nullptr);
  PROCESS_HEAP_ENTRY e{};
  EXPECT_EQ(HeapWalk(h, &e), TRUE);
  std::atomic<bool> done{false};
  std::thread t([&] {
    void* q = HeapAlloc(h, 0, 10);
    HeapFree(h, 0, q);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());  // blocked on the lock
  EXPECT_EQ(HeapUnlock(h), TRUE);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done.load());  // still held once
  EXPECT_EQ(HeapUnlock(h), TRUE);
  t.join();
  EXPECT_TRUE(done.load());
  uint32_t before = report_count();
  EXPECT_EQ(HeapUnlock(h), FALSE);
  expect_report(BugClass::BadArgument, before);
  EXPECT_EQ(GetLastError(), ERROR_NOT_OWNER);
  HeapFree(h, 0, p);
  HeapDestroy(h);
}

TEST_F(HeapTest, NoSerializeHeapsWork) {
  HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
  void* p = HeapAlloc(h, 0, 100);
  void* q = HeapAlloc(h, HEAP_NO_SERIALIZE, 100);
  ASSERT_TRUE(p && q);
  EXPECT_EQ(HeapFree(h, HEAP_NO_SERIALIZE, p), TRUE);
  EXPECT_EQ(HeapFree(h, 0, q), TRUE);
  HeapDestroy(h);
}

TEST_F(HeapTest, ConcurrentThreadsOnOneHeap) {
  HANDLE h = HeapCreate(0, 0, 0);
  auto worker = [h](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::pair<unsigned char*, size_t>> mine;
    for (int i = 0; i < 3000; ++i) {
      if (mine.empty() || rng() % 3) {
        size_t n = rng() % 600;
        auto* p = static_cast<unsigned char*>(HeapAlloc(h, 0, n));
        ASSERT_NE(p, nullptr);
        memset(p, static_cast<int>(seed), n);
        mine.emplace_back(p, n);
      } else {
        size_t k = rng() % mine.size();
        for (size_t j = 0; j < mine[k].second; ++j) ASSERT_EQ(mine[k].first[j], static_cast<unsigned char>(seed));
        ASSERT_EQ(HeapFree(h, 0, mine[k].first), TRUE);
        mine[k] = mine.back();
        mine.pop_back();
      }
    }
    for (auto& b : mine) ASSERT_EQ(HeapFree(h, 0, b.first), TRUE);
  };
  // Both threads call into the one heap at once: its own lock serializes each
  // call, the slab lock the layers below.
  std::thread a([&] { worker(1); });
  std::thread b([&] { worker(2); });
  a.join();
  b.join();
  EXPECT_EQ(stats(h).blocks_in_use, 0u);
  EXPECT_EQ(HeapValidate(h, 0, nullptr), TRUE);
  HeapDestroy(h);
}

/* --- Randomized multi-heap sequences against a model --------------------------- */

TEST_F(HeapTest, RandomizedMultiHeapSequencesMatchAModel) {
  struct Block {
    HANDLE heap;
    size_t size;
    unsigned char fill;
  };
  // Round 0 is the warm-up: the slab layer keeps its own structures (cache
  // descriptors, a few empty slabs) after it. From then on, with the slab
  // layer's caches shrunk, every round must give back exactly what it took.
  size_t frames_before = 0;
  std::mt19937 rng(12345);
  for (int round = 0; round < 3; ++round) {
    if (round == 1) {
      slab_shrink_all();
      frames_before = free_frames();
    }
    HANDLE heaps[4] = {HeapCreate(0, 0, 0), HeapCreate(0, 300 * 1024, 0), HeapCreate(0, 64 * 1024, 2 << 20),
                       GetProcessHeap()};
    for (HANDLE h : heaps) ASSERT_NE(h, nullptr);
    std::map<void*, Block> model;
    auto pick = [&]() {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      return it;
    };
    auto check_block = [&](void* p, const Block& b) {
      ASSERT_EQ(HeapSize(b.heap, 0, p), b.size);
      auto* c = static_cast<unsigned char*>(p);
      for (size_t i = 0; i < b.size; i += 1 + b.size / 64) ASSERT_EQ(c[i], b.fill) << p;
      if (b.size) {
        ASSERT_EQ(c[b.size - 1], b.fill);
      }
    };
    auto random_size = [&]() -> size_t {
      switch (rng() % 8) {
        case 0: return rng() % 17;
        case 1: return 16000 + rng() % 800;  // around the small/large threshold
        case 2: return 20000 + rng() % 150000;
        default: return rng() % 3000;
      }
    };
    for (int step = 0; step < 2500; ++step) {
      unsigned op = rng() % 10;
      if (op < 4 || model.empty()) {
        HANDLE h = heaps[rng() % 4];
        size_t n = random_size();
        DWORD flags = rng() % 2 ? HEAP_ZERO_MEMORY : 0;
        void* p = HeapAlloc(h, flags, n);
        if (!p) {
          ASSERT_EQ(h, heaps[2]) << "only the fixed heap may refuse";
          ASSERT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
          continue;
        }
        ASSERT_EQ(model.count(p), 0u) << "overlapping block";
        if (flags) {
          for (size_t i = 0; i < n; ++i) ASSERT_EQ(static_cast<unsigned char*>(p)[i], 0);
        }
        unsigned char fill = static_cast<unsigned char>(rng());
        memset(p, fill, n);
        model[p] = {h, n, fill};
      } else if (op < 7) {
        auto it = pick();
        check_block(it->first, it->second);
        ASSERT_EQ(HeapFree(it->second.heap, 0, it->first), TRUE);
        model.erase(it);
      } else if (op < 9) {
        auto it = pick();
        Block b = it->second;
        size_t n = random_size();
        DWORD flags = (rng() % 2 ? HEAP_ZERO_MEMORY : 0) | (rng() % 3 == 0 ? HEAP_REALLOC_IN_PLACE_ONLY : 0);
        void* q = HeapReAlloc(b.heap, flags, it->first, n);
        if (!q) {
          ASSERT_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
          check_block(it->first, b);  // unchanged
          continue;
        }
        if (flags & HEAP_REALLOC_IN_PLACE_ONLY) {
          ASSERT_EQ(q, it->first);
        }
        auto* c = static_cast<unsigned char*>(q);
        size_t keep = b.size < n ? b.size : n;
        for (size_t i = 0; i < keep; i += 1 + keep / 64) ASSERT_EQ(c[i], b.fill);
        if ((flags & HEAP_ZERO_MEMORY) && n > b.size) {
          for (size_t i = b.size; i < n; ++i) ASSERT_EQ(c[i], 0);
        }
        model.erase(it);
        ASSERT_EQ(model.count(q), 0u);
        unsigned char fill = static_cast<unsigned char>(rng());
        memset(q, fill, n);
        model[q] = {b.heap, n, fill};
      } else {
        // Misuse through the wrong heap: refused, nothing changes.
        auto it = pick();
        HANDLE wrong = heaps[(std::find(heaps, heaps + 4, it->second.heap) - heaps + 1 + rng() % 3) % 4];
        uint32_t before = report_count();
        ASSERT_EQ(HeapFree(wrong, 0, it->first), FALSE);
        ASSERT_EQ(report_count(), before + 1);
        ASSERT_EQ(last_report().bug_class, BugClass::WrongHeap);
        check_block(it->first, it->second);
      }
      if (step % 250 == 0) {
        for (HANDLE h : heaps) {
          ASSERT_EQ(HeapValidate(h, 0, nullptr), TRUE);
          std::map<void*, size_t> expect;
          for (auto& [p, b] : model)
            if (b.heap == h) expect[p] = b.size;
          ASSERT_EQ(walk_busy(h), expect);
          HeapStats s = stats(h);
          ASSERT_EQ(s.blocks_in_use, expect.size());
          if (s.maximum_bytes) {
            ASSERT_LE(s.committed_bytes, s.maximum_bytes);
          }
        }
      }
    }
    for (auto& [p, b] : model) check_block(p, b);
    // Destroy the private heaps with blocks still in them; empty the process heap.
    for (auto& [p, b] : model)
      if (b.heap == GetProcessHeap()) {
        ASSERT_EQ(HeapFree(b.heap, 0, p), TRUE);
      }
    for (int i = 0; i < 3; ++i) ASSERT_EQ(HeapDestroy(heaps[i]), TRUE);
    HeapCompact(GetProcessHeap(), 0);
    EXPECT_EQ(stats(GetProcessHeap()).blocks_in_use, 0u);
  }
  EXPECT_TRUE(m.page_heap().check());
  slab_shrink_all();
  EXPECT_EQ(free_frames(), frames_before);
}

/* --- Statistics ---------------------------------------------------------------- */

TEST_F(HeapTest, StatsAddUpAndPrintHeapsListsEveryHeap) {
  HANDLE h = HeapCreate(0, 8192, 1 << 20);
  void* a = HeapAlloc(h, 0, 100);
  void* b = HeapAlloc(h, 0, 50000);
  ASSERT_TRUE(a && b);
  HeapStats s = stats(h);
  EXPECT_EQ(s.committed_bytes, s.reserve_bytes + s.large_run_bytes + s.slab_bytes);
  EXPECT_EQ(s.blocks_in_use, 2u);
  EXPECT_EQ(s.large_blocks, 1u);
  EXPECT_EQ(s.bytes_in_use, 50100u);
  EXPECT_EQ(s.free_bytes, s.committed_bytes - 50100);
  EXPECT_GT(s.bookkeeping_bytes, 0u);
  std::string out;
  set_print_sink([](void* ctx, const char* text, size_t len) { static_cast<std::string*>(ctx)->append(text, len); },
                 &out);
  print_heaps();
  set_print_sink(nullptr, nullptr);
  EXPECT_NE(out.find("committed"), std::string::npos);
  EXPECT_NE(out.find("process heap"), std::string::npos);
  EXPECT_NE(out.find("1048576"), std::string::npos);
  EXPECT_NE(out.find("growable"), std::string::npos);
  EXPECT_NE(out.find("2 heaps"), std::string::npos) << out;
  HeapDestroy(h);
}

}  // namespace
