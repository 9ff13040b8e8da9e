// host_tests/kmalloc_test.cpp — the kmalloc family on a fresh HostMachine per
// test: size classes and alignment, large blocks, krealloc, overflow, every
// bad kfree (bug class asserted, free lists intact), "free everything returns
// the page heap and frames exactly", fill-until-failure, and a randomized run
// against a reference model (sizes, alignment, contents, no overlap).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/report.h"
#include "host/host_machine.h"
#include "slab/cache_internal.h"
#include "slab/slab.h"

using namespace kheap;

namespace {

class KmallocTest : public ::testing::Test {
 protected:
  void SetUp() override { bring_up({}); }
  void bring_up(const host::HostMachineConfig& config) {
    ASSERT_TRUE(m.create(config));
    ASSERT_TRUE(slab_init(&m.page_heap()));
    set_report_echo(false);
    reset_reports();
    // Let the page heap make its one spare metadata page (steady state).
    m.page_heap().free_run(m.page_heap().alloc_run(1, vm::RunOwner::Test, nullptr));
    base_frames = m.free_frame_count();
    base_stats = m.page_heap().stats();
  }
  void TearDown() override {
    EXPECT_TRUE(slab_check());
    set_report_echo(true);
  }
  void expect_back_to_base() {
    slab_shrink_all();
    vm::PageHeapStats s = m.page_heap().stats();
    EXPECT_EQ(s.runs_in_use, base_stats.runs_in_use);
    EXPECT_EQ(s.pages_in_use, base_stats.pages_in_use);
    EXPECT_EQ(s.metadata_pages, base_stats.metadata_pages);
    EXPECT_EQ(m.free_frame_count(), base_frames);
    EXPECT_TRUE(m.page_heap().check());
  }
  host::HostMachine m;
  size_t base_frames = 0;
  vm::PageHeapStats base_stats{};
};

std::string last_text() { return last_report().text; }
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST_F(KmallocTest, SizeClassesAlignmentAndKsize) {
  size_t prev = 0;
  for (size_t n = 0; n <= kKmallocMaxClass; ++n) {
    size_t good = kmalloc_good_size(n);
    EXPECT_GE(good, n);
    EXPECT_GE(good, prev);
    prev = good;
  }
  for (size_t n : {size_t{0}, size_t{1}, size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, size_t{64},
                   size_t{65}, size_t{100}, size_t{129}, size_t{500}, size_t{1000}, size_t{1024}, size_t{1025},
                   size_t{2000}, size_t{4096}, size_t{5000}, size_t{8191}, size_t{8192}}) {
    void* p = kmalloc(n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(addr(p) % kKmallocMinAlign, 0u) << n;
    EXPECT_EQ(ksize(p), kmalloc_good_size(n)) << n;
    EXPECT_GE(ksize(p), n);
    // Internal waste stays under 25% above 64 bytes (quarter-power-of-two classes).
    if (n > 64) { EXPECT_LT((ksize(p) - n) * 4, ksize(p)) << n; }
    std::memset(p, 0xEE, ksize(p));
    kfree(p);
  }
  for (size_t n = 16; n <= 4096; n *= 2) {
    void* p = kmalloc(n);
    EXPECT_EQ(addr(p) % n, 0u) << "power-of-two size " << n << " not naturally aligned";
    kfree(p);
  }
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(KmallocTest, KzallocZeroes) {
  std::vector<void*> dirty;
  for (int i = 0; i < 100; ++i) {
    void* p = kmalloc(200);
    std::memset(p, 0xFF, 200);
    dirty.push_back(p);
  }
  for (void* p : dirty) kfree(p);
  for (size_t n : {1, 100, 200, 3000, 20000}) {
    auto* p = static_cast<unsigned char*>(kzalloc(n));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0) << n;
    kfree(p);
  }
  expect_back_to_base();
}

TEST_F(KmallocTest, LargeBlocksAreRunsWithTheirSizeRecorded) {
  void* p = kmalloc(10000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(addr(p) % kPageSize, 0u);
  EXPECT_EQ(ksize(p), 3 * kPageSize);
  vm::RunInfo ri;
  ASSERT_TRUE(m.page_heap().run_of(p, &ri));
  EXPECT_EQ(ri.owner, vm::RunOwner::Large);
  EXPECT_EQ(reinterpret_cast<size_t>(ri.owner_ptr), 10000u);
  std::memset(p, 1, 10000);
  kfree(p);
  void* big = kmalloc(size_t{8} << 20);
  ASSERT_NE(big, nullptr);
  std::memset(big, 2, size_t{8} << 20);
  kfree(big);
  expect_back_to_base();
}

TEST_F(KmallocTest, AlignedAllocationsForEveryPowerOfTwo) {
  std::vector<void*> ps;
  for (size_t align = 1; align <= (size_t{1} << 20); align *= 2) {
    for (size_t n : {1, 24, 100, 4000, 9000}) {
      void* p = kmalloc_aligned(n, align);
      ASSERT_NE(p, nullptr) << n << " " << align;
      EXPECT_EQ(addr(p) % align, 0u) << n << " " << align;
      EXPECT_GE(ksize(p), n);
      std::memset(p, 0x33, n);
      ps.push_back(p);
    }
  }
  EXPECT_EQ(kmalloc_aligned(16, 48), nullptr);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_EQ(kmalloc_aligned(16, 0), nullptr);
  for (void* p : ps) kfree(p);
  EXPECT_EQ(report_count(), 2u);
  expect_back_to_base();
}

TEST_F(KmallocTest, KreallocGrowsInPlaceWithinTheClassAndPreservesContent) {
  auto* p = static_cast<unsigned char*>(kmalloc(50));  // class 64
  for (int i = 0; i < 50; ++i) p[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(krealloc(p, 64), p);
  EXPECT_EQ(krealloc(p, 10), p);  // shrinking stays
  auto* q = static_cast<unsigned char*>(krealloc(p, 65));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(q[i], i);
  // Slab -> large -> larger (in place when the pages after it are free) -> slab.
  auto* r = static_cast<unsigned char*>(krealloc(q, 20000));
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(r[i], i);
  std::memset(r + 50, 0x77, 20000 - 50);
  auto* s = static_cast<unsigned char*>(krealloc(r, 40000));
  EXPECT_EQ(s, r) << "the pages after a topmost run are free: grows in place";
  EXPECT_EQ(ksize(s), 10 * kPageSize);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(s[i], i);
  for (int i = 50; i < 20000; ++i) ASSERT_EQ(s[i], 0x77);
  auto* t = static_cast<unsigned char*>(krealloc(s, 12000));
  EXPECT_EQ(t, s);
  EXPECT_EQ(ksize(t), 3 * kPageSize);
  auto* u = static_cast<unsigned char*>(krealloc(t, 100));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(ksize(u), 112u);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(u[i], i);
  void* v = krealloc(nullptr, 30);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(krealloc(v, 0), nullptr);
  EXPECT_EQ(krealloc(u, 0), nullptr);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(KmallocTest, SizeOverflowFailsCleanly) {
  const size_t huge[] = {~size_t{0}, ~size_t{0} - 100, ~size_t{0} / 2, size_t{1} << 40};
  for (size_t n : huge) {
    EXPECT_EQ(kmalloc(n), nullptr) << n;
    EXPECT_EQ(kzalloc(n), nullptr) << n;
    EXPECT_EQ(kmalloc_aligned(n, 64), nullptr) << n;
    EXPECT_EQ(kmalloc_aligned(n, 1 << 16), nullptr) << n;
    EXPECT_EQ(kmalloc_good_size(n) == 0 || kmalloc_good_size(n) >= n, true);
  }
  void* p = kmalloc(100);
  std::memset(p, 9, 100);
  EXPECT_EQ(krealloc(p, ~size_t{0}), nullptr);
  EXPECT_EQ(ksize(p), 112u);  // p untouched
  EXPECT_EQ(static_cast<unsigned char*>(p)[99], 9);
  kfree(p);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(KmallocTest, OutOfFramesFailsAndRecovers) {
  m.fail_frames_after(0);
  EXPECT_EQ(kmalloc(64), nullptr);
  EXPECT_EQ(kmalloc(100000), nullptr);
  m.fail_frames_after(-1);
  void* p = kmalloc(64);
  EXPECT_NE(p, nullptr);
  kfree(p);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

// --- bad frees ------------------------------------------------------------------

class BadKfree : public KmallocTest {
 protected:
  void SetUp() override {
    KmallocTest::SetUp();
    for (int i = 0; i < 300; ++i) live.push_back(kmalloc(64));
    big = kmalloc(30000);
    live.push_back(big);
  }
  void TearDown() override {
    for (void* p : live) kfree(p);
    EXPECT_EQ(report_count(), reports_expected);
    expect_back_to_base();
    KmallocTest::TearDown();
  }
  // The bad call was reported with `expected`, and nothing else changed:
  // fresh allocations never hand out a live object, the lists check.
  void expect_reported(BugClass expected) {
    ++reports_expected;
    EXPECT_EQ(report_count(), reports_expected);
    EXPECT_EQ(last_report().bug_class, expected) << last_text();
    EXPECT_TRUE(slab_check());
    std::set<void*> live_set(live.begin(), live.end());
    std::vector<void*> fresh;
    for (int i = 0; i < 500; ++i) {
      void* p = kmalloc(64);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(live_set.insert(p).second) << "a live object was handed out again";
      fresh.push_back(p);
    }
    for (void* p : fresh) kfree(p);
    EXPECT_EQ(report_count(), reports_expected);
  }
  std::vector<void*> live;
  void* big = nullptr;
  uint32_t reports_expected = 0;
};

TEST_F(BadKfree, DoubleFreeIsReportedNamingCacheAndIndex) {
  void* p = live[150];
  live.erase(live.begin() + 150);
  kfree(p);
  kfree(p);
  expect_reported(BugClass::DoubleFree);
  EXPECT_NE(last_text().find("double free"), std::string::npos) << last_text();
  EXPECT_NE(last_text().find("kmalloc-64"), std::string::npos);
  EXPECT_NE(last_text().find("object "), std::string::npos);
}

TEST_F(BadKfree, DoubleFreeOfTheMostRecentObject) {
  void* p = kmalloc(64);
  kfree(p);
  kfree(p);
  expect_reported(BugClass::DoubleFree);
}

TEST_F(BadKfree, InteriorPointer) {
  kfree(static_cast<char*>(live[3]) + 16);
  expect_reported(BugClass::InvalidFree);
  EXPECT_NE(last_text().find("invalid free"), std::string::npos);
  EXPECT_NE(last_text().find("kmalloc-64"), std::string::npos);
}

TEST_F(BadKfree, PointerOutsideTheHeap) {
  int local = 0;
  kfree(&local);
  expect_reported(BugClass::InvalidFree);
  static int global;
  kfree(&global);
  expect_reported(BugClass::InvalidFree);
  kfree(reinterpret_cast<void*>(m.window_base() + m.window_bytes() - 64));  // in the window, past the top
  expect_reported(BugClass::InvalidFree);
  kfree(m.page_heap().page_info_array());
  expect_reported(BugClass::InvalidFree);
}

TEST_F(BadKfree, InteriorAndDoubleFreeOfALargeBlock) {
  kfree(static_cast<char*>(big) + kPageSize);
  expect_reported(BugClass::InvalidFree);
  void* other = kmalloc(50000);
  void* keep = kmalloc(100);  // so `other`'s pages stay below the top once freed
  void* after = kmalloc(50000);
  kfree(other);
  kfree(other);
  expect_reported(BugClass::DoubleFree);
  live.push_back(keep);
  live.push_back(after);
}

TEST_F(BadKfree, KsizeAndKreallocOfBadPointers) {
  EXPECT_EQ(ksize(static_cast<char*>(live[0]) + 1), 0u);
  expect_reported(BugClass::BadArgument);
  void* p = live.back();
  live.pop_back();
  kfree(p);
  EXPECT_EQ(krealloc(static_cast<char*>(live[1]) + 8, 100), nullptr);
  expect_reported(BugClass::InvalidFree);
  EXPECT_EQ(ksize(nullptr), 0u);
}

TEST_F(BadKfree, ObjectOfAnotherPagesOwner) {
  void* run = m.page_heap().alloc_run(2, vm::RunOwner::Heap, this);
  kfree(run);
  expect_reported(BugClass::WrongHeap);
  m.page_heap().free_run(run);
}

// --- whole-allocator properties ------------------------------------------------------

TEST_F(KmallocTest, FreeEverythingReturnsPageHeapAndFramesExactly) {
  std::mt19937 rng(7);
  std::vector<void*> ps;
  for (int i = 0; i < 20000; ++i) {
    size_t n = rng() % 8 == 0 ? rng() % 40000 : rng() % 600;
    void* p = (i % 11 == 0) ? kmalloc_aligned(n, size_t{1} << (rng() % 14)) : kmalloc(n);
    ASSERT_NE(p, nullptr);
    ps.push_back(p);
  }
  std::shuffle(ps.begin(), ps.end(), rng);
  for (void* p : ps) kfree(p);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(KmallocTest, FillMemoryUntilFailureThenFreeAll) {
  m.destroy();
  host::HostMachineConfig small;
  small.ram_bytes = size_t{8} << 20;
  bring_up(small);
  for (size_t n : {size_t{64}, size_t{3000}, size_t{20000}}) {
    std::vector<void*> ps;
    while (void* p = kmalloc(n)) {
      std::memset(p, 0xAB, n);
      ps.push_back(p);
    }
    EXPECT_GT(ps.size() * n, size_t{4} << 20) << n;  // most of the 8 MiB was usable
    EXPECT_EQ(report_count(), 0u);
    EXPECT_TRUE(slab_check());
    for (void* p : ps) kfree(p);
    expect_back_to_base();
  }
}

TEST_F(KmallocTest, LifoPairsDoNotTouchThePageHeap) {
  void* keep = kmalloc(64);
  size_t pages = m.page_heap().stats().pages_in_use;
  for (int i = 0; i < 100000; ++i) {
    void* p = kmalloc(64);
    kfree(p);
  }
  for (int round = 0; round < 100; ++round) {  // a whole slab's worth, LIFO
    std::vector<void*> ps;
    for (int i = 0; i < 200; ++i) ps.push_back(kmalloc(64));
    while (!ps.empty()) {
      kfree(ps.back());
      ps.pop_back();
    }
  }
  EXPECT_LE(m.page_heap().stats().pages_in_use, pages + 8);
  kfree(keep);
  expect_back_to_base();
}

TEST_F(KmallocTest, RandomizedAgainstAReferenceModel) {
  std::mt19937_64 rng(2024);
  struct Block {
    size_t size;
    size_t align;
    uint8_t fill;
  };
  std::map<uintptr_t, Block> live;          // start -> block
  auto fits_between_neighbours = [&](uintptr_t a, size_t usable) {
    auto next = live.lower_bound(a);
    if (next != live.end() && next->first < a + usable) return false;
    if (next != live.begin()) {
      auto prev = std::prev(next);
      if (prev->first + ksize(reinterpret_cast<void*>(prev->first)) > a) return false;
    }
    return true;
  };
  auto check_content = [&](uintptr_t a, const Block& b) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(a);
    for (size_t i = 0; i < b.size; ++i)
      if (bytes[i] != b.fill) return false;
    return true;
  };
  auto random_size = [&]() -> size_t {
    switch (rng() % 10) {
      case 0: return rng() % 20000;
      case 1: return rng() % 8192;
      default: return rng() % 512;
    }
  };
  for (int step = 0; step < 40000; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (live.empty() || op < 5) {
      size_t n = random_size(), align = kKmallocMinAlign;
      void* p;
      if (op == 0) {
        align = size_t{1} << (rng() % 16);
        p = kmalloc_aligned(n, align);
      } else {
        p = kmalloc(n);
      }
      ASSERT_NE(p, nullptr);
      uintptr_t a = addr(p);
      ASSERT_EQ(a % (align < kKmallocMinAlign ? kKmallocMinAlign : align), 0u);
      ASSERT_GE(ksize(p), n);
      ASSERT_TRUE(fits_between_neighbours(a, ksize(p))) << "overlap at " << p;
      uint8_t fill = static_cast<uint8_t>(rng());
      std::memset(p, fill, n);
      live[a] = {n, align, fill};
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      ASSERT_TRUE(check_content(it->first, it->second)) << "content changed";
      void* p = reinterpret_cast<void*>(it->first);
      if (op < 8) {
        kfree(p);
        live.erase(it);
      } else {
        Block b = it->second;
        size_t n = random_size();
        live.erase(it);
        void* q = krealloc(p, n);
        if (n == 0) {
          ASSERT_EQ(q, nullptr);
          continue;
        }
        ASSERT_NE(q, nullptr);
        ASSERT_GE(ksize(q), n);
        const auto* bytes = static_cast<const uint8_t*>(q);
        for (size_t i = 0; i < (n < b.size ? n : b.size); ++i) ASSERT_EQ(bytes[i], b.fill) << "krealloc lost content";
        ASSERT_TRUE(fits_between_neighbours(addr(q), ksize(q))) << "overlap after krealloc";
        std::memset(q, b.fill, n);
        live[addr(q)] = {n, kKmallocMinAlign, b.fill};
      }
    }
    if (step % 4000 == 0) { ASSERT_TRUE(slab_check()); }
  }
  EXPECT_EQ(report_count(), 0u);
  for (auto& [a, b] : live) {
    ASSERT_TRUE(check_content(a, b));
    kfree(reinterpret_cast<void*>(a));
  }
  expect_back_to_base();
}

TEST(KmallocBeforeInit, FailsQuietly) {
  // A dummy page heap: kmalloc returns nullptr, kfree(nullptr) is fine.
  host::HostMachine m;
  ASSERT_TRUE(m.create());
  ASSERT_FALSE(slab_init(nullptr));
  EXPECT_EQ(kmalloc(64), nullptr);
  EXPECT_EQ(kmalloc(100000), nullptr);
  kfree(nullptr);
  EXPECT_EQ(cache_count(), 0u);
  ASSERT_TRUE(slab_init(&m.page_heap()));
  void* p = kmalloc(64);
  EXPECT_NE(p, nullptr);
  kfree(p);
}

}  // namespace

namespace {

// A large block grown step by step (+25% each time, as a vector or a string
// builder does) moves O(log n) times: a move doubles the size asked for as
// headroom, and growth within the run stays in place. Content survives every
// step; shrinking far gives the headroom back.
TEST_F(KmallocTest, LargeBlockGrownStepByStepMovesRarely) {
  size_t size = 16 * 1024;
  auto* p = static_cast<unsigned char*>(kmalloc(size));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>(i * 7);
  void* blocker = kmalloc(20000);  // something right after it, so growing in place needs headroom
  int steps = 0, moves = 0;
  while (size < (size_t{8} << 20)) {
    size_t next = size + size / 4 + 16;
    auto* q = static_cast<unsigned char*>(krealloc(p, next));
    ASSERT_NE(q, nullptr);
    ++steps;
    if (q != p) ++moves;
    ASSERT_GE(ksize(q), next);
    for (size_t i = 0; i < size; i += 997) ASSERT_EQ(q[i], static_cast<unsigned char>(i * 7)) << "step " << steps;
    for (size_t i = size; i < next; ++i) q[i] = static_cast<unsigned char>(i * 7);
    p = q;
    size = next;
  }
  EXPECT_GE(steps, 25);
  EXPECT_LE(moves, steps / 3) << moves << " moves in " << steps << " steps";
  // Shrinking to a quarter gives most of the run back (in place).
  size_t before = m.page_heap().stats().pages_in_use;
  auto* r = static_cast<unsigned char*>(krealloc(p, size / 4));
  ASSERT_EQ(r, p);
  EXPECT_LT(m.page_heap().stats().pages_in_use, before);
  for (size_t i = 0; i < size / 4; i += 997) ASSERT_EQ(r[i], static_cast<unsigned char>(i * 7));
  kfree(r);
  kfree(blocker);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

// A window large enough that whole metadata pages hold nothing but the
// entries of metadata pages: those pages are never mapped (the entries are
// implicit), and every lookup — kfree's inline path included — treats an
// address there as outside the page heap instead of reading them.
TEST_F(KmallocTest, LargeWindowLeavesTheMetadataOfMetadataUnmapped) {
  m.destroy();
  host::HostMachineConfig config;
  config.ram_bytes = size_t{32} << 20;
  config.window_bytes = size_t{1} << 30;  // 262,144 pages: their entries describing metadata pages fill >= 12 pages
  bring_up(config);
  const vm::PageHeap& ph = m.page_heap();
  size_t skipped = ph.metadata_pages_reserved() * sizeof(vm::PageInfo) / kPageSize;
  ASSERT_GE(skipped, 12u);
  for (size_t i = 0; i < skipped; ++i) EXPECT_EQ(m.translate(m.window_base() + i * kPageSize), 0u) << "page " << i;
  EXPECT_NE(m.translate(m.window_base() + skipped * kPageSize), 0u);  // holds the first data entries
  EXPECT_EQ(ph.metadata_pages_mapped(), 1u);                           // only that page
  EXPECT_TRUE(ph.check());

  char* meta = reinterpret_cast<char*>(m.window_base()) + 64;  // inside an unmapped metadata page
  EXPECT_EQ(describe_address(meta).kind, BlockInfo::PageHeapMetadata);
  EXPECT_EQ(ph.lookup(meta), nullptr);
  kfree(meta);  // (would fault if anything read the page's PageInfo)
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::InvalidFree);
  EXPECT_NE(last_text().find("the page heap's own metadata"), std::string::npos) << last_text();

  std::vector<void*> live;
  for (size_t i = 0; i < 5000; ++i) live.push_back(kmalloc(8 + i % 600));
  for (void* p : live) ASSERT_NE(p, nullptr);
  EXPECT_TRUE(ph.check());
  for (void* p : live) kfree(p);
  EXPECT_EQ(report_count(), 1u);
  expect_back_to_base();
}

}  // namespace
