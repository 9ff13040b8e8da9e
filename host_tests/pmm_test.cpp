// host_tests/pmm_test.cpp — the memory-map normalizer and the buddy page-frame
// allocator (lib/pmm) on the host.
//
// "Physical memory" is only ever touched for the Frame metadata: a heap buffer
// stands for physical addresses [0, metadata_limit), and phys_to_virt maps into
// it. The frames themselves are never dereferenced.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/report.h"
#include "pmm/buddy.h"
#include "pmm/memory_map.h"
#include "pmm/pmm_report.h"

using namespace kheap;
using namespace kheap::pmm;

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr uint64_t kPage = kPageSize;
constexpr uint32_t kUsable = 1, kReservedType = 2, kAcpi = 3;

/* --- Helpers -------------------------------------------------------------- */

// Backs physical addresses [0, size) with a heap buffer (only the metadata is touched).
struct FakePhys {
  explicit FakePhys(uint64_t bytes) : size(bytes), buf(static_cast<uint8_t*>(::operator new(bytes, std::align_val_t{4096}))) {}
  ~FakePhys() { ::operator delete(buf, std::align_val_t{4096}); }  // (no aligned_alloc on Windows)
  FakePhys(const FakePhys&) = delete;
  FakePhys& operator=(const FakePhys&) = delete;
  static void* to_virt(PhysAddr phys, void* ctx) {
    auto* self = static_cast<FakePhys*>(ctx);
    return phys < self->size ? self->buf + phys : nullptr;
  }
  uint64_t size;
  uint8_t* buf;
};

struct TestPmm {
  explicit TestPmm(const std::vector<MemoryRegion>& regions, const std::vector<ReservedRange>& reserved = {},
                   uint64_t metadata_limit = 16 * MiB, uint64_t phys_limit = 4 * GiB)
      : phys(metadata_limit) {
    normalize_memory_map(regions.data(), regions.size(), reserved.data(), reserved.size(), phys_limit, &map);
    ok = pmm.init(map, metadata_limit, &FakePhys::to_virt, &phys);
  }
  FakePhys phys;
  NormalizedMap map;
  BuddyAllocator pmm;
  bool ok = false;
};

std::vector<size_t> shape(const BuddyAllocator& a) {
  std::vector<size_t> s(kMaxOrder + 1);
  for (unsigned k = 0; k <= kMaxOrder; ++k) s[k] = a.free_blocks(k);
  return s;
}

// Free blocks per order after complete coalescing of the free set (greedy maximal aligned blocks).
std::vector<size_t> canonical_shape(const std::vector<bool>& is_free) {
  std::vector<size_t> s(kMaxOrder + 1);
  size_t n = is_free.size();
  for (size_t i = 0; i < n;) {
    if (!is_free[i]) {
      ++i;
      continue;
    }
    unsigned k = 0;
    while (k < kMaxOrder && (i & ((size_t{2} << k) - 1)) == 0 && i + (size_t{2} << k) <= n) {
      bool all = true;
      for (size_t j = i; j < i + (size_t{2} << k) && all; ++j) all = is_free[j];
      if (!all) break;
      ++k;
    }
    ++s[k];
    i += size_t{1} << k;
  }
  return s;
}

std::vector<bool> free_bitmap(const BuddyAllocator& a) {
  std::vector<bool> f(a.frame_count());
  for (uint32_t i = 0; i < a.frame_count(); ++i) f[i] = a.frame_info(a.index_to_addr(i))->state == FrameState::Free;
  return f;
}

std::vector<PhysAddr> alloc_all_frames(BuddyAllocator& a, uint16_t owner = kOwnerTest) {
  std::vector<PhysAddr> v;
  for (PhysAddr p; (p = a.alloc_frame(owner)) != 0;) v.push_back(p);
  return v;
}

// Everything observable about the allocator, to show a refused call changed nothing.
struct Snapshot {
  std::vector<uint8_t> metadata;
  BuddyStats stats;
  std::vector<uint32_t> heads;
  bool operator==(const Snapshot& o) const {
    return metadata == o.metadata && std::memcmp(&stats, &o.stats, sizeof stats) == 0 && heads == o.heads;
  }
};
Snapshot snapshot(const TestPmm& t) {
  Snapshot s;
  const uint8_t* m = t.phys.buf + t.pmm.metadata_base();
  s.metadata.assign(m, m + t.pmm.metadata_bytes());
  s.stats = t.pmm.stats();
  for (unsigned k = 0; k <= kMaxOrder; ++k) s.heads.push_back(t.pmm.free_list_head(k));
  return s;
}

struct CaptureOutput {
  CaptureOutput() {
    set_print_sink([](void* ctx, const char* text, size_t len) { static_cast<std::string*>(ctx)->append(text, len); },
                   &text);
  }
  ~CaptureOutput() { set_print_sink(nullptr, nullptr); }
  std::string text;
};

class Pmm : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_reports();
    set_report_echo(false);
    set_report_action(ReportAction::Refuse);
  }
  void TearDown() override { set_report_echo(true); }
};

using MemoryMap = Pmm;
using PmmErrors = Pmm;
using PmmDeathTest = Pmm;

/* --- Memory map normalization ------------------------------------------------ */

NormalizedMap normalize(const std::vector<MemoryRegion>& r, const std::vector<ReservedRange>& res = {},
                        uint64_t limit = 4 * GiB) {
  NormalizedMap m;
  normalize_memory_map(r.data(), r.size(), res.data(), res.size(), limit, &m);
  return m;
}

std::vector<std::pair<uint64_t, uint64_t>> ranges_of(const NormalizedMap& m) {
  std::vector<std::pair<uint64_t, uint64_t>> v;
  for (size_t i = 0; i < m.count; ++i) v.emplace_back(m.ranges[i].base, m.ranges[i].end);
  return v;
}
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST_F(MemoryMap, TypeNames) {
  EXPECT_STREQ(region_type_name(1), "usable");
  EXPECT_STREQ(region_type_name(2), "reserved");
  EXPECT_STREQ(region_type_name(3), "ACPI reclaimable");
  EXPECT_STREQ(region_type_name(4), "ACPI NVS");
  EXPECT_STREQ(region_type_name(5), "bad RAM");
  EXPECT_NE(std::string(region_type_name(99)).find("unknown"), std::string::npos);
}

TEST_F(MemoryMap, QemuLikeMap) {
  auto m = normalize({{0, 0x9fc00, kUsable},
                      {0x9fc00, 0x400, kReservedType},
                      {0xf0000, 0x10000, kReservedType},
                      {0x100000, 127 * MiB - 0x20000, kUsable},
                      {128 * MiB - 0x20000, 0x20000, kReservedType},
                      {0xfffc0000, 0x40000, kReservedType}});
  EXPECT_EQ(ranges_of(m), (Ranges{{0, 0x9f000}, {0x100000, 128 * MiB - 0x20000}}));
  EXPECT_EQ(m.trimmed_bytes, 0xc00u);
  EXPECT_EQ(m.usable_bytes, 0x9f000 + 127 * MiB - 0x20000);
  EXPECT_EQ(m.ignored_bytes, 0u);
  EXPECT_FALSE(m.overflowed);
}

TEST_F(MemoryMap, UnsortedInputGivesSortedOutput) {
  auto m = normalize({{64 * MiB, 16 * MiB, kUsable}, {1 * MiB, 7 * MiB, kUsable}, {32 * MiB, 1 * MiB, kUsable}});
  EXPECT_EQ(ranges_of(m), (Ranges{{1 * MiB, 8 * MiB}, {32 * MiB, 33 * MiB}, {64 * MiB, 80 * MiB}}));
}

TEST_F(MemoryMap, OverlappingUsableMergesAndNonUsableWins) {
  auto m = normalize({{0x100000, 8 * MiB, kUsable},
                      {4 * MiB, 8 * MiB, kUsable},              // overlaps the first: merged
                      {6 * MiB, 1 * MiB, kAcpi},                // ACPI inside usable: ACPI wins
                      {10 * MiB, 0x800, 77},                     // unknown type: reserved, page widened by trimming
                      {11 * MiB, 2 * MiB, kReservedType}});      // sticks out past the usable end
  EXPECT_EQ(ranges_of(m), (Ranges{{0x100000, 6 * MiB}, {7 * MiB, 10 * MiB}, {10 * MiB + kPage, 11 * MiB}}));
  EXPECT_EQ(m.trimmed_bytes, kPage - 0x800);
}

TEST_F(MemoryMap, ReservedFirstInInputStillWins) {
  auto a = normalize({{2 * MiB, 1 * MiB, kReservedType}, {0, 8 * MiB, kUsable}});
  auto b = normalize({{0, 8 * MiB, kUsable}, {2 * MiB, 1 * MiB, kReservedType}});
  EXPECT_EQ(ranges_of(a), (Ranges{{0, 2 * MiB}, {3 * MiB, 8 * MiB}}));
  EXPECT_EQ(ranges_of(a), ranges_of(b));
}

TEST_F(MemoryMap, ZeroLengthEntriesAreIgnored) {
  auto m = normalize({{0, 0, kUsable}, {1 * MiB, 4 * MiB, kUsable}, {2 * MiB, 0, kReservedType}, {9 * MiB, 0, kUsable}},
                     {{3 * MiB, 0, "empty"}});
  EXPECT_EQ(ranges_of(m), (Ranges{{1 * MiB, 5 * MiB}}));
  EXPECT_EQ(m.reserved_bytes, 0u);
  auto empty = normalize({{5 * MiB, 0, kUsable}});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(normalize({}).count, 0u);
}

TEST_F(MemoryMap, UnalignedRegionsAreTrimmedInward) {
  auto m = normalize({{0x100123, 0x10000, kUsable}, {0x300000, 0x1800, kUsable}, {0x400010, 0x20, kUsable}});
  EXPECT_EQ(ranges_of(m), (Ranges{{0x101000, 0x110000}, {0x300000, 0x301000}}));
  EXPECT_EQ(m.trimmed_bytes, (0x101000 - 0x100123) + 0x123 + 0x800 + 0x20);
}

TEST_F(MemoryMap, MemoryAboveTheLimitIsIgnoredAndCounted) {
  auto m = normalize({{1 * MiB, 127 * MiB, kUsable}, {3 * GiB, 2 * GiB, kUsable}, {5 * GiB, 4 * GiB, kUsable},
                      {6 * GiB, 1 * GiB, kReservedType}});
  EXPECT_EQ(ranges_of(m), (Ranges{{1 * MiB, 128 * MiB}, {3 * GiB, 4 * GiB}}));
  EXPECT_EQ(m.ignored_bytes, 1 * GiB + 3 * GiB);
}

TEST_F(MemoryMap, HugeLengthSaturatesInsteadOfWrapping) {
  auto m = normalize({{1 * MiB, ~uint64_t{0}, kUsable}, {~uint64_t{0} - 5, 100, kUsable}});
  EXPECT_EQ(ranges_of(m), (Ranges{{1 * MiB, 4 * GiB}}));
  EXPECT_GT(m.ignored_bytes, 0u);
  auto all = normalize({{0, ~uint64_t{0}, kUsable}}, {}, ~uint64_t{0});
  EXPECT_EQ(all.count, 1u);
  EXPECT_EQ(all.ranges[0].base, 0u);
}

TEST_F(MemoryMap, ReservedRangesAreCutOutWidenedToPages) {
  auto m = normalize({{0, 16 * MiB, kUsable}},
                     {{0, 1 * MiB, "first MiB"}, {0x100800, 0x1000, "kernel image"}, {8 * MiB - 1, 2, "cmdline"},
                      {15 * MiB, 10 * MiB, "module past the end"}});
  EXPECT_EQ(ranges_of(m), (Ranges{{0x102000, 8 * MiB - kPage}, {8 * MiB + kPage, 15 * MiB}}));
  EXPECT_EQ(m.reserved_bytes, 1 * MiB + 2 * kPage + 2 * kPage + 1 * MiB);
  EXPECT_EQ(m.usable_bytes + m.reserved_bytes, 16 * MiB);
}

TEST_F(MemoryMap, TooManyPiecesOverflowAndAreCounted) {
  std::vector<MemoryRegion> r;
  for (uint64_t i = 0; i < kMaxUsableRanges + 10; ++i) r.push_back({(i + 1) * 2 * MiB, 1 * MiB, kUsable});
  auto m = normalize(r);
  EXPECT_TRUE(m.overflowed);
  EXPECT_EQ(m.count, kMaxUsableRanges);
  EXPECT_EQ(m.dropped_bytes, 10 * MiB);
  EXPECT_EQ(m.usable_bytes, kMaxUsableRanges * MiB);
}

// Random maps against a brute-force reference over 512-byte cells.
TEST_F(MemoryMap, RandomMapsMatchCellReference) {
  std::mt19937_64 rng(12345);
  constexpr uint64_t kCell = 512, kCells = 1024;  // 512 KiB of address space
  for (int iter = 0; iter < 1500; ++iter) {
    std::vector<MemoryRegion> regions;
    std::vector<ReservedRange> reserved;
    int nr = 1 + static_cast<int>(rng() % 8), nres = static_cast<int>(rng() % 4);
    auto rnd_addr = [&] { return (rng() % kCells) * kCell + (rng() % 4 == 0 ? rng() % kCell : 0); };
    for (int i = 0; i < nr; ++i) {
      uint64_t b = rnd_addr(), len = rng() % 3 == 0 ? 0 : rng() % (kCells * kCell / 2);
      uint32_t type = rng() % 3 == 0 ? static_cast<uint32_t>(2 + rng() % 5) : kUsable;
      regions.push_back({b, len, type});
    }
    for (int i = 0; i < nres; ++i) reserved.push_back({rnd_addr(), rng() % (64 * KiB), "r"});
    uint64_t limit = rng() % 2 ? kCells * kCell : (rng() % kCells) * kCell;
    auto m = normalize(regions, reserved, limit);

    // Reference: split the address space at every region boundary, the limit and every page
    // boundary; each piece is uniformly RAM or not.
    auto is_ram = [&](uint64_t a) {
      bool usable = false;
      for (auto& r : regions) {
        if (r.length == 0 || a < r.base || a >= r.base + r.length) continue;
        if (r.type != kUsable) return false;
        usable = true;
      }
      return usable;
    };
    // Candidate boundaries to split bytes into uniform pieces.
    std::set<uint64_t> cuts{0, limit, kCells * kCell * 2};
    for (auto& r : regions) cuts.insert(r.base), cuts.insert(r.base + r.length);
    for (uint64_t p = 0; p <= kCells * kCell * 2; p += kPage) cuts.insert(p);
    uint64_t ram_below = 0, ignored = 0;
    std::vector<bool> page_full(kCells * kCell * 2 / kPage, true);
    for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
      uint64_t a = *it, b = *std::next(it);
      bool ram = is_ram(a);
      if (ram && a >= limit) ignored += b - a;
      if (ram && a < limit) ram_below += b - a;
      if (!ram || a >= limit) page_full[a / kPage] = false;
    }
    std::vector<bool> expect_usable(page_full.size());
    for (size_t p = 0; p < page_full.size(); ++p) {
      bool ok = page_full[p];
      for (auto& r : reserved)
        if (r.length && r.base < (p + 1) * kPage && r.base + r.length > p * kPage) ok = false;
      expect_usable[p] = ok;
    }
    std::vector<bool> got(page_full.size());
    for (size_t i = 0; i < m.count; ++i) {
      ASSERT_EQ(m.ranges[i].base % kPage, 0u);
      ASSERT_EQ(m.ranges[i].end % kPage, 0u);
      ASSERT_LT(m.ranges[i].base, m.ranges[i].end);
      if (i) {
        ASSERT_LT(m.ranges[i - 1].end, m.ranges[i].base) << "ranges sorted, disjoint, merged";
      }
      for (uint64_t a = m.ranges[i].base; a < m.ranges[i].end; a += kPage) got[a / kPage] = true;
    }
    ASSERT_EQ(got, expect_usable) << "iteration " << iter;
    ASSERT_EQ(m.ignored_bytes, ignored) << "iteration " << iter;
    ASSERT_EQ(m.usable_bytes + m.reserved_bytes + m.trimmed_bytes + m.dropped_bytes, ram_below) << "iteration " << iter;
  }
}

/* --- Init ------------------------------------------------------------------ */

TEST_F(Pmm, InitSimpleMap) {
  TestPmm t({{1 * MiB, 64 * MiB, kUsable}});
  ASSERT_TRUE(t.ok);
  EXPECT_TRUE(t.pmm.check());
  // Frames [0, 68 MiB) are indexed (4 MiB granularity): 17408 entries of 16 bytes = 68 pages, at the lowest fit.
  EXPECT_EQ(t.pmm.first_frame_addr(), 0u);
  EXPECT_EQ(t.pmm.end_frame_addr(), 68 * MiB);
  EXPECT_EQ(t.pmm.metadata_base(), 1 * MiB);
  EXPECT_EQ(t.pmm.metadata_bytes(), 17408u * 16);
  BuddyStats s = t.pmm.stats();
  EXPECT_EQ(s.metadata_frames, 68u);
  EXPECT_EQ(s.total_frames, 64 * MiB / kPage - 68);
  EXPECT_EQ(s.free_frames, s.total_frames);
  EXPECT_EQ(s.allocated_frames, 0u);
  EXPECT_EQ(s.withheld_frames, 0u);
  EXPECT_EQ(shape(t.pmm), canonical_shape(free_bitmap(t.pmm)));
  // Lowest address first, right after the metadata.
  EXPECT_EQ(t.pmm.alloc_frame(), 1 * MiB + 68 * kPage);
  const Frame* meta = t.pmm.frame_info(1 * MiB);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->state, FrameState::Reserved);
  EXPECT_EQ(meta->owner, kOwnerPmmMetadata);
  EXPECT_EQ(t.pmm.frame_info(68 * MiB), nullptr);
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(Pmm, FrameZeroIsNeverHandedOut) {
  TestPmm t({{0, 640 * KiB, kUsable}, {1 * MiB, 7 * MiB, kUsable}});
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.pmm.stats().withheld_frames, 1u);
  EXPECT_EQ(t.pmm.metadata_base(), kPage) << "metadata never at frame 0";
  auto all = alloc_all_frames(t.pmm);
  EXPECT_EQ(all.size(), t.pmm.stats().total_frames);
  EXPECT_EQ(std::count(all.begin(), all.end(), PhysAddr{0}), 0);
  EXPECT_EQ(t.pmm.frame_info(0)->state, FrameState::Reserved);
  EXPECT_TRUE(t.pmm.check());
}

TEST_F(Pmm, AwkwardMapEndToEnd) {
  // Unsorted, overlapping, zero-length, unaligned, above 4 GiB, with reserved ranges.
  std::vector<MemoryRegion> regions = {{5 * GiB, 1 * GiB, kUsable},          {0x100000 + 0x123, 20 * MiB, kUsable},
                                       {8 * MiB, 1 * MiB, kAcpi},            {0, 0x9fc00, kUsable},
                                       {30 * MiB, 0, kUsable},               {16 * MiB, 16 * MiB + 0x800, kUsable},
                                       {31 * MiB, 2 * MiB, kReservedType}};
  std::vector<ReservedRange> reserved = {{0, 1 * MiB, "first MiB"}, {0x200000, 0x3456, "kernel image"}};
  TestPmm t(regions, reserved);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.map.ignored_bytes, 1 * GiB);
  EXPECT_TRUE(t.pmm.check());
  auto all = alloc_all_frames(t.pmm);
  EXPECT_EQ(all.size(), t.pmm.stats().total_frames);
  std::set<PhysAddr> seen(all.begin(), all.end());
  EXPECT_EQ(seen.size(), all.size());
  for (PhysAddr a : all) {
    ASSERT_EQ(a % kPage, 0u);
    bool in_range = false;
    for (size_t i = 0; i < t.map.count; ++i) in_range |= a >= t.map.ranges[i].base && a < t.map.ranges[i].end;
    ASSERT_TRUE(in_range) << std::hex << a;
    ASSERT_FALSE(a >= 8 * MiB && a < 9 * MiB) << "ACPI region handed out";
    ASSERT_FALSE(a >= 0x200000 && a < 0x204000) << "kernel image handed out";
    ASSERT_FALSE(a >= 31 * MiB && a < 33 * MiB) << "reserved region handed out";
    ASSERT_FALSE(a >= t.pmm.metadata_base() && a < t.pmm.metadata_base() + t.pmm.metadata_bytes());
  }
  EXPECT_TRUE(t.pmm.check());
  for (PhysAddr a : all) ASSERT_TRUE(t.pmm.free_frame(a));
  EXPECT_TRUE(t.pmm.check());
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(Pmm, InitFailsWithoutRoomForMetadata) {
  // 3 GiB needs 12 MiB of metadata; only 1 MiB is usable below the 4 MiB limit.
  TestPmm t({{1 * MiB, 1 * MiB, kUsable}, {8 * MiB, 3 * GiB, kUsable}}, {}, 4 * MiB);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_NE(std::string(last_report().text).find("metadata"), std::string::npos);
  EXPECT_EQ(t.pmm.alloc_frame(), 0u) << "a failed init leaves an empty allocator";
  EXPECT_TRUE(t.pmm.check());
}

TEST_F(Pmm, InitRejectsEmptyAndUnnormalizedMaps) {
  FakePhys phys(4 * MiB);
  BuddyAllocator a;
  NormalizedMap empty;
  EXPECT_FALSE(a.init(empty, 4 * MiB, &FakePhys::to_virt, &phys));
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  NormalizedMap bad;
  bad.count = 2;
  bad.ranges[0] = {2 * MiB, 3 * MiB};
  bad.ranges[1] = {1 * MiB, 2 * MiB};  // unsorted
  EXPECT_FALSE(a.init(bad, 4 * MiB, &FakePhys::to_virt, &phys));
  bad.ranges[1] = {3 * MiB + 0x10, 4 * MiB};  // unaligned
  EXPECT_FALSE(a.init(bad, 4 * MiB, &FakePhys::to_virt, &phys));
  EXPECT_EQ(report_count(), 3u);
  EXPECT_EQ(a.alloc_frame(), 0u);
}

TEST_F(Pmm, Init3GiBMapAndCheck) {
  TestPmm t({{0, 0x9fc00, kUsable}, {1 * MiB, 3 * GiB - 1 * MiB, kUsable}, {4 * GiB, 1 * GiB, kUsable}},
            {{0, 1 * MiB, "first MiB"}}, 64 * MiB);
  ASSERT_TRUE(t.ok);
  EXPECT_TRUE(t.pmm.check());
  // 12 MiB of metadata at 1 MiB: the 4 MiB blocks start at 16 MiB.
  EXPECT_EQ(t.pmm.metadata_base(), 1 * MiB);
  EXPECT_EQ(t.pmm.metadata_bytes(), 3 * GiB / kPage * 16);
  EXPECT_EQ(t.pmm.free_blocks(kMaxOrder), (3 * GiB - 16 * MiB) / (4 * MiB));
  EXPECT_EQ(t.map.ignored_bytes, 1 * GiB);
  EXPECT_EQ(t.pmm.stats().total_frames + t.pmm.stats().metadata_frames, (3 * GiB - 1 * MiB) / kPage);
}

/* --- Alloc / free basics --------------------------------------------------------- */

TEST_F(Pmm, UninitializedAllocatorIsEmptyAndSafe) {
  static BuddyAllocator never_initialized;  // constant-initialized, like the kernel's g_pmm
  EXPECT_EQ(never_initialized.alloc_frame(), 0u);
  EXPECT_EQ(never_initialized.alloc_pages(4), 0u);
  EXPECT_FALSE(never_initialized.free_frame(0x100000));
  EXPECT_EQ(last_report().bug_class, BugClass::OutOfRange);
  EXPECT_FALSE(never_initialized.free_pages(0x100000, 2));
  EXPECT_EQ(never_initialized.frame_info(0x100000), nullptr);
  EXPECT_TRUE(never_initialized.check());
  EXPECT_EQ(never_initialized.free_frame_count(), 0u);
}

TEST_F(Pmm, OutOfMemoryReturnsZeroWithoutReport) {
  TestPmm t({{1 * MiB, 3 * MiB, kUsable}});
  ASSERT_TRUE(t.ok);
  auto all = alloc_all_frames(t.pmm);
  EXPECT_EQ(t.pmm.free_frame_count(), 0u);
  EXPECT_EQ(t.pmm.alloc_pages(0), 0u);
  EXPECT_EQ(t.pmm.alloc_pages(3), 0u);
  EXPECT_EQ(report_count(), 0u);
  EXPECT_TRUE(t.pmm.check());
}

TEST_F(Pmm, OrderAboveMaximumIsRefused) {
  TestPmm t({{1 * MiB, 63 * MiB, kUsable}});
  ASSERT_TRUE(t.ok);
  Snapshot before = snapshot(t);
  EXPECT_EQ(t.pmm.alloc_pages(kMaxOrder + 1), 0u);
  EXPECT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_TRUE(snapshot(t) == before);
  PhysAddr big = t.pmm.alloc_pages(kMaxOrder);
  EXPECT_NE(big, 0u);
  EXPECT_EQ(big % (4 * MiB), 0u);
}

TEST_F(Pmm, OwnerTagsCoverTheBlock) {
  TestPmm t({{1 * MiB, 15 * MiB, kUsable}});
  ASSERT_TRUE(t.ok);
  PhysAddr a = t.pmm.alloc_pages(2, kOwnerBreak);
  for (unsigned i = 0; i < 4; ++i) {
    const Frame* f = t.pmm.frame_info(a + i * kPage);
    EXPECT_EQ(f->state, FrameState::Allocated);
    EXPECT_EQ(f->owner, kOwnerBreak);
    EXPECT_EQ(f->is_head, i == 0);
  }
  EXPECT_EQ(t.pmm.frame_info(a)->order, 2u);
  t.pmm.set_owner(a, kOwnerPageTable);
  EXPECT_EQ(t.pmm.frame_info(a + 3 * kPage)->owner, kOwnerPageTable);
  EXPECT_TRUE(t.pmm.free_pages(a, 2));
  EXPECT_EQ(t.pmm.frame_info(a + 3 * kPage)->owner, kOwnerNone);
  EXPECT_EQ(t.pmm.frame_info(a)->state, FrameState::Free);
  EXPECT_TRUE(t.pmm.check());
}

/* --- Exhaustive split / coalesce ----------------------------------------------------- */

// A map whose only free memory, once everything else is allocated, is one aligned 16-frame block.
struct SixteenFrames {
  SixteenFrames() : t({{1 * MiB, 64 * KiB, kUsable}, {2 * MiB, 64 * KiB, kUsable}}) {
    auto all = alloc_all_frames(t.pmm);
    for (PhysAddr a : all) {
      if (a >= 2 * MiB) {
        test_frames.push_back(a);
      } else {
        EXPECT_TRUE(a >= 1 * MiB && a < 1 * MiB + 64 * KiB);
      }
    }
    std::sort(test_frames.begin(), test_frames.end());
  }
  TestPmm t;
  std::vector<PhysAddr> test_frames;
};

TEST_F(Pmm, ExhaustiveSubsetsCoalesceToCanonicalShape) {
  SixteenFrames s;
  ASSERT_EQ(s.test_frames.size(), 16u);
  std::mt19937 rng(7);
  std::vector<size_t> zero(kMaxOrder + 1), one16(kMaxOrder + 1);
  one16[4] = 1;
  ASSERT_EQ(shape(s.t.pmm), zero);
  for (uint32_t keep = 0; keep < (1u << 16); ++keep) {
    std::vector<int> order(16);
    for (int i = 0; i < 16; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> is_free(16);
    for (int i : order)
      if (!(keep >> i & 1)) {
        ASSERT_TRUE(s.t.pmm.free_frame(s.test_frames[i]));
        is_free[i] = true;
      }
    ASSERT_EQ(shape(s.t.pmm), canonical_shape(is_free)) << "keep mask " << keep;
    ASSERT_TRUE(s.t.pmm.check()) << "keep mask " << keep;
    for (int i : order) {
      if (keep >> i & 1) {
        ASSERT_TRUE(s.t.pmm.free_frame(s.test_frames[i]));
      }
    }
    ASSERT_EQ(shape(s.t.pmm), one16);
    std::vector<PhysAddr> again;
    for (int i = 0; i < 16; ++i) again.push_back(s.t.pmm.alloc_frame());
    std::sort(again.begin(), again.end());
    ASSERT_EQ(again, s.test_frames);
  }
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(Pmm, ExhaustiveFreeOrdersOfEightFrames) {
  SixteenFrames s;
  ASSERT_EQ(s.test_frames.size(), 16u);
  std::vector<int> perm = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<size_t> one8(kMaxOrder + 1);
  one8[3] = 1;
  int n = 0;
  do {
    for (int i : perm) ASSERT_TRUE(s.t.pmm.free_frame(s.test_frames[i]));
    ASSERT_EQ(shape(s.t.pmm), one8);
    for (int i = 0; i < 8; ++i) ASSERT_NE(s.t.pmm.alloc_frame(), 0u);
    ++n;
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_EQ(n, 40320);
  EXPECT_TRUE(s.t.pmm.check());
}

TEST_F(Pmm, EveryOrderSplitsAndCoalescesBack) {
  // One aligned 4 MiB block [4 MiB, 8 MiB) plus room for the metadata below it.
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    TestPmm t({{1 * MiB, 64 * KiB, kUsable}, {4 * MiB, 4 * MiB, kUsable}});
    ASSERT_TRUE(t.ok);
    auto start = shape(t.pmm);
    std::vector<PhysAddr> blocks;
    for (PhysAddr a; (a = t.pmm.alloc_pages(k)) != 0;) {
      ASSERT_EQ(a % (kPage << k), 0u);
      blocks.push_back(a);
      ASSERT_TRUE(t.pmm.check());
    }
    size_t in_big = std::count_if(blocks.begin(), blocks.end(), [](PhysAddr a) { return a >= 4 * MiB; });
    EXPECT_EQ(in_big, size_t{1} << (kMaxOrder - k)) << "order " << k;
    std::mt19937 rng(k);
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (PhysAddr a : blocks) ASSERT_TRUE(t.pmm.free_pages(a, k));
    EXPECT_EQ(shape(t.pmm), start) << "order " << k;
    EXPECT_TRUE(t.pmm.check());
  }
}

/* --- Randomized against a reference model ------------------------------------------- */

TEST_F(Pmm, RandomMixedOrdersAgainstModel) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    // Odd-shaped ranges so blocks of every order meet range edges.
    TestPmm t({{1 * MiB + 0x3000, 3 * MiB + 0x5000, kUsable}, {6 * MiB + 0x7000, 1 * MiB, kUsable},
               {9 * MiB, 4 * MiB, kUsable}});
    ASSERT_TRUE(t.ok);
    auto start = shape(t.pmm);
    size_t total = t.pmm.stats().total_frames;
    std::vector<bool> usable_free = free_bitmap(t.pmm);  // frames that may ever be handed out
    std::map<PhysAddr, unsigned> live;
    std::vector<bool> taken(t.pmm.frame_count());
    size_t used = 0;
    std::mt19937_64 rng(seed);
    for (int step = 0; step < 3000; ++step) {
      bool do_alloc = live.empty() || rng() % 100 < 55;
      if (do_alloc) {
        unsigned k = rng() % 4 == 0 ? static_cast<unsigned>(rng() % (kMaxOrder + 1)) : static_cast<unsigned>(rng() % 3);
        bool any = false;
        for (unsigned j = k; j <= kMaxOrder; ++j) any |= t.pmm.free_blocks(j) > 0;
        uint16_t owner = static_cast<uint16_t>(100 + rng() % 50);
        PhysAddr a = t.pmm.alloc_pages(k, owner);
        ASSERT_EQ(a != 0, any) << "step " << step;
        if (a) {
          ASSERT_EQ(a % (kPage << k), 0u);
          uint32_t i0 = static_cast<uint32_t>((a - t.pmm.first_frame_addr()) / kPage);
          for (uint32_t i = i0; i < i0 + (1u << k); ++i) {
            ASSERT_TRUE(usable_free[i]) << "handed out a frame that is not usable";
            ASSERT_FALSE(taken[i]) << "overlapping allocation";
            taken[i] = true;
            ASSERT_EQ(t.pmm.frame_info(t.pmm.index_to_addr(i))->owner, owner);
          }
          live[a] = k;
          used += size_t{1} << k;
        }
      } else {
        auto it = live.begin();
        std::advance(it, rng() % live.size());
        ASSERT_TRUE(t.pmm.free_pages(it->first, it->second));
        uint32_t i0 = static_cast<uint32_t>((it->first - t.pmm.first_frame_addr()) / kPage);
        for (uint32_t i = i0; i < i0 + (1u << it->second); ++i) taken[i] = false;
        used -= size_t{1} << it->second;
        live.erase(it);
      }
      ASSERT_TRUE(t.pmm.check()) << "step " << step;
      ASSERT_EQ(t.pmm.free_frame_count(), total - used);
      ASSERT_EQ(t.pmm.stats().allocated_frames, used);
      if (step % 10 == 0) {
        std::vector<bool> expect_free(usable_free.size());
        for (size_t i = 0; i < expect_free.size(); ++i) expect_free[i] = usable_free[i] && !taken[i];
        ASSERT_EQ(shape(t.pmm), canonical_shape(expect_free)) << "step " << step;
      }
    }
    for (auto& [a, k] : live) ASSERT_TRUE(t.pmm.free_pages(a, k));
    EXPECT_EQ(shape(t.pmm), start);
    EXPECT_TRUE(t.pmm.check());
    EXPECT_EQ(report_count(), 0u);
  }
}

/* --- Misuse: reported, refused, nothing changed ------------------------------------- */

struct MisuseFixture {
  MisuseFixture() : t({{0, 640 * KiB, kUsable}, {1 * MiB, 7 * MiB, kUsable}, {12 * MiB, 4 * MiB, kUsable}}) {
    order0 = t.pmm.alloc_pages(0, kOwnerTest);
    order2 = t.pmm.alloc_pages(2, kOwnerTest);
    order3 = t.pmm.alloc_pages(3, kOwnerTest);
    freed = t.pmm.alloc_pages(0, kOwnerTest);
    t.pmm.free_frame(freed);
  }
  TestPmm t;
  PhysAddr order0, order2, order3, freed;
};

// Call `bad`, expect exactly one report of class `c` mentioning `needle`, and no change at all.
template <typename F>
void expect_refused(MisuseFixture& m, BugClass c, const char* needle, F bad) {
  Snapshot before = snapshot(m.t);
  uint32_t reports = report_count();
  EXPECT_FALSE(bad());
  EXPECT_EQ(report_count(), reports + 1);
  EXPECT_EQ(last_report().bug_class, c) << last_report().text;
  EXPECT_NE(std::string(last_report().text).find(needle), std::string::npos) << last_report().text;
  EXPECT_TRUE(snapshot(m.t) == before) << "state changed by a refused call";
  EXPECT_TRUE(m.t.pmm.check());
}

TEST_F(PmmErrors, DoubleFreeOfAFreeHead) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  char addr[32];
  format(addr, sizeof addr, "frame 0x%llx", static_cast<unsigned long long>(m.freed));
  expect_refused(m, BugClass::DoubleFree, addr, [&] { return m.t.pmm.free_frame(m.freed); });
  EXPECT_NE(std::string(last_report().text).find("already free"), std::string::npos);
}

TEST_F(PmmErrors, DoubleFreeInsideAFreeBlock) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  PhysAddr a = m.t.pmm.alloc_pages(4);
  ASSERT_TRUE(m.t.pmm.free_pages(a, 4));
  expect_refused(m, BugClass::DoubleFree, "inside the free block", [&] { return m.t.pmm.free_frame(a + 5 * kPage); });
  expect_refused(m, BugClass::DoubleFree, "already free", [&] { return m.t.pmm.free_pages(a, 4); });
}

TEST_F(PmmErrors, DoubleFreeOfABlockFreedTwice) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  ASSERT_TRUE(m.t.pmm.free_pages(m.order2, 2));
  expect_refused(m, BugClass::DoubleFree, "already free", [&] { return m.t.pmm.free_pages(m.order2, 2); });
}

TEST_F(PmmErrors, WrongOrder) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  expect_refused(m, BugClass::WrongOrder, "allocated with order 2", [&] { return m.t.pmm.free_pages(m.order2, 0); });
  expect_refused(m, BugClass::WrongOrder, "allocated with order 2", [&] { return m.t.pmm.free_pages(m.order2, 3); });
  expect_refused(m, BugClass::WrongOrder, "allocated with order 0", [&] { return m.t.pmm.free_pages(m.order0, 1); });
  expect_refused(m, BugClass::WrongOrder, "above the maximum", [&] { return m.t.pmm.free_pages(m.order0, 40); });
  EXPECT_TRUE(m.t.pmm.free_pages(m.order2, 2));
}

TEST_F(PmmErrors, Unaligned) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  expect_refused(m, BugClass::Unaligned, "not page aligned", [&] { return m.t.pmm.free_frame(m.order0 + 8); });
  expect_refused(m, BugClass::Unaligned, "not page aligned", [&] { return m.t.pmm.free_pages(m.order3 + 1, 3); });
  // Inside the order-3 block, not aligned to the order asked for.
  expect_refused(m, BugClass::Unaligned, "not aligned to order 2",
                 [&] { return m.t.pmm.free_pages(m.order3 + 2 * kPage, 2); });
}

TEST_F(PmmErrors, InteriorFrameOfAnAllocatedBlock) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  expect_refused(m, BugClass::InvalidFree, "not its head", [&] { return m.t.pmm.free_frame(m.order3 + 3 * kPage); });
  expect_refused(m, BugClass::InvalidFree, "not its head",
                 [&] { return m.t.pmm.free_pages(m.order3 + 4 * kPage, 2); });
}

TEST_F(PmmErrors, OutOfRange) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  expect_refused(m, BugClass::OutOfRange, "outside the managed frames",
                 [&] { return m.t.pmm.free_frame(m.t.pmm.end_frame_addr()); });
  expect_refused(m, BugClass::OutOfRange, "outside", [&] { return m.t.pmm.free_frame(3 * GiB); });
  expect_refused(m, BugClass::OutOfRange, "outside", [&] { return m.t.pmm.free_frame(~PhysAddr{0} & ~PhysAddr{0xFFF}); });
}

TEST_F(PmmErrors, OutOfRangeBelowTheFirstFrame) {
  TestPmm t({{8 * MiB, 4 * MiB, kUsable}}, {}, 16 * MiB);
  ASSERT_TRUE(t.ok);
  ASSERT_EQ(t.pmm.first_frame_addr(), 8 * MiB);
  EXPECT_FALSE(t.pmm.free_frame(4 * MiB));
  EXPECT_EQ(last_report().bug_class, BugClass::OutOfRange);
  EXPECT_FALSE(t.pmm.free_frame(0));
  EXPECT_EQ(last_report().bug_class, BugClass::OutOfRange);
  EXPECT_TRUE(t.pmm.check());
}

TEST_F(PmmErrors, ReservedFrames) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  // A hole between usable ranges, the metadata, frame 0, and the padding past the last range.
  expect_refused(m, BugClass::ReservedFrame, "is reserved", [&] { return m.t.pmm.free_frame(900 * KiB); });
  expect_refused(m, BugClass::ReservedFrame, "pmm metadata", [&] { return m.t.pmm.free_frame(m.t.pmm.metadata_base()); });
  expect_refused(m, BugClass::ReservedFrame, "frame 0x0 is reserved", [&] { return m.t.pmm.free_frame(0); });
  expect_refused(m, BugClass::ReservedFrame, "is reserved", [&] { return m.t.pmm.free_pages(9 * MiB, 1); });
}

TEST_F(PmmErrors, FreeListCorruptionIsFoundByCheck) {
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  ASSERT_TRUE(m.t.pmm.check());
  // Corrupt the metadata behind the allocator's back: a free head's link.
  unsigned k = 0;
  while (m.t.pmm.free_list_head(k) == kNoFrame || m.t.pmm.free_blocks(k) < 2) ++k;
  ASSERT_LE(k, kMaxOrder);
  uint32_t head = m.t.pmm.free_list_head(k);
  auto* frames = reinterpret_cast<Frame*>(m.t.phys.buf + m.t.pmm.metadata_base());
  Frame saved = frames[head];
  frames[head].prev = 12345;
  EXPECT_FALSE(m.t.pmm.check());
  EXPECT_EQ(last_report().bug_class, BugClass::FreeListCorruption);
  frames[head] = saved;
  frames[head].next = head;  // a cycle
  EXPECT_FALSE(m.t.pmm.check());
  frames[head] = saved;
  frames[head].state = FrameState::Allocated;  // head on a list but marked allocated
  EXPECT_FALSE(m.t.pmm.check());
  frames[head] = saved;
  EXPECT_TRUE(m.t.pmm.check());
  uint32_t reserved_index = static_cast<uint32_t>((900 * KiB) / kPage);
  frames[reserved_index].state = FrameState::Free;  // a stray free frame in no block
  EXPECT_FALSE(m.t.pmm.check());
  frames[reserved_index].state = FrameState::Reserved;
  EXPECT_TRUE(m.t.pmm.check());
}

TEST_F(PmmDeathTest, PanicActionStopsOnDoubleFree) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MisuseFixture m;
  ASSERT_TRUE(m.t.ok);
  EXPECT_DEATH(
      {
        set_report_echo(true);
        set_report_action(ReportAction::Panic);
        m.t.pmm.free_frame(m.freed);
      },
      "kheap: double free");
  EXPECT_DEATH(
      {
        set_report_echo(true);
        set_report_action(ReportAction::Panic);
        m.t.pmm.free_pages(m.order2, 1);
      },
      "wrong order");
}

/* --- Reports -------------------------------------------------------------------- */

TEST_F(Pmm, MeminfoFormatAndConsistency) {
  TestPmm t({{0, 0x9fc00, kUsable}, {1 * MiB, 127 * MiB, kUsable}, {0xfffc0000, 0x40000, kReservedType}},
            {{0, 1 * MiB, "first MiB"}, {1 * MiB, 300 * KiB, "kernel image"}});
  ASSERT_TRUE(t.ok);
  PhysAddr a = t.pmm.alloc_pages(3);
  ASSERT_NE(a, 0u);
  std::string out;
  {
    CaptureOutput cap;
    print_meminfo(t.pmm, t.map, 300 * KiB);
    out = cap.text;
  }
  auto value = [&](const char* label) -> long long {
    std::string key = std::string("\n") + label;
    size_t p = ("\n" + out).find(key);
    if (p == std::string::npos) return -1;
    return std::atoll(out.c_str() + p + std::strlen(label));
  };
  BuddyStats s = t.pmm.stats();
  EXPECT_EQ(value("MemTotal:"), static_cast<long long>(s.total_frames * 4));
  EXPECT_EQ(value("MemFree:"), static_cast<long long>(s.free_frames * 4));
  EXPECT_EQ(value("MemUsed:"), 32);
  EXPECT_EQ(value("KernelImage:"), 300);
  EXPECT_EQ(value("PmmMetadata:"), static_cast<long long>(s.metadata_frames * 4));
  EXPECT_EQ(value("MemTotal:") + value("Reserved:"), static_cast<long long>((127 * MiB + 0x9f000) / KiB));
  EXPECT_EQ(value("MemFree:") + value("MemUsed:"), value("MemTotal:"));
  // Linux layout: label in 12 columns, value in 8, " kB".
  char expect[64];
  format(expect, sizeof expect, "MemTotal:   %8llu kB\n", static_cast<unsigned long long>(s.total_frames * 4));
  EXPECT_EQ(out.rfind(expect, 0), 0u) << out;
  size_t bi = out.find("\nBuddyinfo: free blocks per order:");
  ASSERT_NE(bi, std::string::npos) << out;
  std::string line = out.substr(bi + 1, out.find('\n', bi + 1) - bi - 1);
  std::vector<long long> counts;
  for (const char* p = line.c_str() + std::strlen("Buddyinfo: free blocks per order:"); *p;) {
    char* end;
    long long v = std::strtoll(p, &end, 10);
    if (end == p) break;
    counts.push_back(v);
    p = end;
  }
  ASSERT_EQ(counts.size(), kMaxOrder + 1);
  for (unsigned k = 0; k <= kMaxOrder; ++k) EXPECT_EQ(counts[k], static_cast<long long>(t.pmm.free_blocks(k)));
}

TEST_F(Pmm, MemoryMapReport) {
  std::vector<MemoryRegion> regions = {{0, 0x9fc00, kUsable}, {0x100000, 127 * MiB, kUsable},
                                       {0xfffc0000, 0x40000, kReservedType}, {4 * GiB, 1 * GiB, kUsable},
                                       {0xe0000, 0x20000, 42}};
  std::vector<ReservedRange> reserved = {{0, 1 * MiB, "first MiB"}, {1 * MiB, 300 * KiB, "kernel image"}};
  NormalizedMap m = normalize(regions, reserved);
  CaptureOutput cap;
  print_memory_map(regions.data(), regions.size(), reserved.data(), reserved.size(), m);
  const std::string& out = cap.text;
  EXPECT_NE(out.find("[0x000100000, 0x008000000)      127 MiB  usable"), std::string::npos) << out;
  EXPECT_NE(out.find("reserved (type 2)"), std::string::npos);
  EXPECT_NE(out.find("unknown (reserved) (type 42)"), std::string::npos);
  EXPECT_NE(out.find("kernel image"), std::string::npos);
  EXPECT_NE(out.find("first MiB"), std::string::npos);
  EXPECT_NE(out.find("Usable after normalizing (1 ranges"), std::string::npos) << out;
  EXPECT_NE(out.find("Ignored above the physical limit: 1073741824 bytes (1024 MiB)"), std::string::npos) << out;
}

}  // namespace
