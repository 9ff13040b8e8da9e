// kernel/selftest_heap.cpp — in-kernel tests of the Win32-style heaps as built
// for i386: block sizes and alignment, the documented corner cases, misuse
// reports, HeapWalk / HeapValidate, a fixed heap filling to its maximum, a
// scaled-down HeapTest2 stopping at its exact count, and HeapDestroy giving
// every frame back to g_pmm.
#include "core/report.h"
#include "heap/win32_heap.h"
#include "kernel_memory.h"
#include "ktest.h"
#include "platform/platform.h"

namespace kheap::kernel {

using namespace kheap::win32;

namespace {

constexpr SIZE_T kFail = static_cast<SIZE_T>(-1);
constexpr size_t kAlign = 2 * sizeof(void*);

// Silences report echo for a misuse check and restores it afterwards.
class QuietReports {
 public:
  QuietReports() { set_report_echo(false); }
  ~QuietReports() { set_report_echo(true); }
};

bool reported(uint32_t before, BugClass c) { return report_count() == before + 1 && last_report().bug_class == c; }

// Counts BUSY entries of a walk and checks each against the given blocks.
size_t walk_busy(HANDLE h, void* const* blocks, const size_t* sizes, size_t n, bool* all_known) {
  PROCESS_HEAP_ENTRY e{};
  size_t busy = 0;
  *all_known = true;
  while (HeapWalk(h, &e)) {
    if (!(e.wFlags & PROCESS_HEAP_ENTRY_BUSY)) continue;
    ++busy;
    bool known = false;
    for (size_t i = 0; i < n; ++i)
      if (blocks[i] == e.lpData && sizes[i] == e.cbData) known = true;
    if (!known) *all_known = false;
  }
  return busy;
}

}  // namespace

KTEST(heap_alloc_size_free_alignment) {
  HANDLE h = HeapCreate(0, 0, 0);
  KREQUIRE(h != nullptr);
  const size_t sizes[] = {0, 1, 8, 9, 100, 1000, 4096, 16376, 16377, 20000, 500000};
  void* blocks[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    blocks[i] = HeapAlloc(h, 0, sizes[i]);
    KREQUIRE(blocks[i] != nullptr);
    KCHECK_EQ(reinterpret_cast<uintptr_t>(blocks[i]) % kAlign, 0u);
    KCHECK_EQ(HeapSize(h, 0, blocks[i]), sizes[i]);
    memset(blocks[i], 0x3C, sizes[i]);
  }
  KCHECK(blocks[0] != blocks[1]);
  KCHECK(HeapValidate(h, 0, nullptr));
  HeapStats s{};
  KCHECK(heap_stats(h, &s));
  KCHECK_EQ(s.blocks_in_use, sizeof sizes / sizeof sizes[0]);
  for (void* p : blocks) KCHECK(HeapFree(h, 0, p));
  KCHECK(HeapFree(h, 0, nullptr));
  KCHECK(HeapDestroy(h));
}

KTEST(heap_zero_memory_and_realloc_rules) {
  HANDLE h = GetProcessHeap();
  KREQUIRE(h != nullptr);
  auto* p = static_cast<uint8_t*>(HeapAlloc(h, 0, 3000));
  KREQUIRE(p != nullptr);
  memset(p, 0xEE, 3000);
  KCHECK(HeapFree(h, 0, p));
  auto* z = static_cast<uint8_t*>(HeapAlloc(h, HEAP_ZERO_MEMORY, 3000));
  KREQUIRE(z != nullptr);
  bool zero = true;
  for (size_t i = 0; i < 3000; ++i) zero = zero && z[i] == 0;
  KCHECK(zero);
  // Grown bytes are zeroed, kept bytes kept.
  memset(z, 0x11, 3000);
  auto* g = static_cast<uint8_t*>(HeapReAlloc(h, HEAP_ZERO_MEMORY, z, 40000));
  KREQUIRE(g != nullptr);
  bool kept = true, zeroed = true;
  for (size_t i = 0; i < 3000; ++i) kept = kept && g[i] == 0x11;
  for (size_t i = 3000; i < 40000; ++i) zeroed = zeroed && g[i] == 0;
  KCHECK(kept);
  KCHECK(zeroed);
  // ReAlloc to 0 keeps a valid 0-byte block.
  void* e = HeapReAlloc(h, 0, g, 0);
  KREQUIRE(e != nullptr);
  KCHECK_EQ(HeapSize(h, 0, e), 0u);
  // IN_PLACE_ONLY that cannot be honoured: fails, block unchanged.
  void* q = HeapAlloc(h, 0, 10);
  KREQUIRE(q != nullptr);
  SetLastError(0);
  KCHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, q, 5000) == nullptr);
  KCHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  KCHECK_EQ(HeapSize(h, 0, q), 10u);
  // Sizes near SIZE_MAX fail cleanly.
  KCHECK(HeapAlloc(h, 0, SIZE_MAX) == nullptr);
  KCHECK(HeapAlloc(h, 0, SIZE_MAX - 4) == nullptr);
  KCHECK(HeapReAlloc(h, 0, q, SIZE_MAX - 4096) == nullptr);
  KCHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  KCHECK(HeapFree(h, 0, e));
  KCHECK(HeapFree(h, 0, q));
}

KTEST(heap_misuse_is_reported_and_refused) {
  QuietReports quiet;
  HANDLE a = HeapCreate(0, 0, 0), b = HeapCreate(0, 0, 0);
  KREQUIRE(a && b);
  auto* p = static_cast<char*>(HeapAlloc(a, 0, 64));
  void* big = HeapAlloc(a, 0, 100000);
  void* guard = HeapAlloc(a, 0, 100000);
  void* keep = HeapAlloc(a, 0, 64);
  KREQUIRE(p && big && guard && keep);

  uint32_t before = report_count();
  KCHECK(HeapAlloc(reinterpret_cast<HANDLE>(0x1234), 0, 1) == nullptr);
  KCHECK(reported(before, BugClass::InvalidHandle));
  KCHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);

  before = report_count();
  KCHECK(!HeapFree(b, 0, p));
  KCHECK(reported(before, BugClass::WrongHeap));
  before = report_count();
  KCHECK(!HeapFree(b, 0, big));
  KCHECK(reported(before, BugClass::WrongHeap));

  before = report_count();
  KCHECK(!HeapFree(a, 0, p + kAlign));
  KCHECK(reported(before, BugClass::InvalidFree));

  before = report_count();
  KCHECK(HeapReAlloc(a, 0, nullptr, 5) == nullptr);
  KCHECK(reported(before, BugClass::BadArgument));

  KCHECK(HeapFree(a, 0, p));
  before = report_count();
  KCHECK(!HeapFree(a, 0, p));
  KCHECK(reported(before, BugClass::DoubleFree));
  before = report_count();
  KCHECK_EQ(HeapSize(a, 0, p), kFail);
  KCHECK(reported(before, BugClass::DoubleFree));
  KCHECK(HeapFree(a, 0, big));
  before = report_count();
  KCHECK(!HeapFree(a, 0, big));
  KCHECK(reported(before, BugClass::DoubleFree));

  // A corrupted header: HeapValidate says so, the block is refused.
  auto* c = static_cast<char*>(HeapAlloc(a, 0, 100));
  KREQUIRE(c != nullptr);
  char saved[kAlign];
  memcpy(saved, c - kAlign, kAlign);
  memset(c - kAlign, 0x41, kAlign);
  before = report_count();
  KCHECK(!HeapValidate(a, 0, c));
  KCHECK(reported(before, BugClass::RedzoneOverwritten));
  before = report_count();
  KCHECK(!HeapValidate(a, 0, nullptr));
  KCHECK(reported(before, BugClass::RedzoneOverwritten));
  memcpy(c - kAlign, saved, kAlign);
  KCHECK(HeapValidate(a, 0, nullptr));
  KCHECK(!HeapValidate(a, 0, c + 1));  // not a block: FALSE, no crash

  HeapStats s{};
  KCHECK(heap_stats(a, &s));
  KCHECK_EQ(s.blocks_in_use, 3u);
  KCHECK(HeapDestroy(a));
  KCHECK(HeapDestroy(b));
  before = report_count();
  KCHECK(!HeapDestroy(a));
  KCHECK(reported(before, BugClass::InvalidHandle));
}

KTEST(heap_walk_visits_exactly_the_live_blocks) {
  HANDLE h = HeapCreate(0, 64 * 1024, 0);
  KREQUIRE(h != nullptr);
  constexpr size_t kN = 60;
  void* blocks[kN];
  size_t sizes[kN];
  for (size_t i = 0; i < kN; ++i) {
    sizes[i] = (i % 7 == 0) ? 20000 + i * 100 : (i * 53) % 1500;
    blocks[i] = HeapAlloc(h, 0, sizes[i]);
    KREQUIRE(blocks[i] != nullptr);
  }
  for (size_t i = 0; i < kN; i += 4) {
    KCHECK(HeapFree(h, 0, blocks[i]));
    blocks[i] = nullptr;
    sizes[i] = 0;
  }
  bool all_known = false;
  size_t busy = walk_busy(h, blocks, sizes, kN, &all_known);
  KCHECK_EQ(busy, kN - kN / 4);
  KCHECK(all_known);
  KCHECK_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
  KCHECK(HeapValidate(h, 0, nullptr));
  KCHECK(HeapDestroy(h));
}

KTEST(heap_fixed_heap_fills_to_its_maximum) {
  HANDLE h = HeapCreate(0, 0, 1 << 20);
  KREQUIRE(h != nullptr);
  size_t n = 0;
  while (HeapAlloc(h, 0, 65536)) ++n;
  KCHECK_EQ(n, 16u);  // 16 pages each, 256 pages of maximum
  KCHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
  HeapStats s{};
  KCHECK(heap_stats(h, &s));
  KCHECK_EQ(s.committed_bytes, 1u << 20);
  KCHECK(HeapDestroy(h));
}

KTEST(heap_test2_shape_stops_at_an_exact_count) {
  // HeapTest2 scaled down 100x: a 50,000-byte block is 13 pages; the
  // 4,000,000-byte maximum rounds up to 977 pages; 977 / 13 = 75.2.
  HANDLE h = HeapCreate(0, 200000, 4000000);
  KREQUIRE(h != nullptr);
  size_t n = 0;
  while (n < 2000 && HeapAlloc(h, HEAP_ZERO_MEMORY, 50000)) ++n;
  KCHECK_EQ(n, 75u);
  HeapStats s{};
  KCHECK(heap_stats(h, &s));
  KCHECK_EQ(s.committed_bytes, 75u * 13 * 4096);
  KCHECK(HeapDestroy(h));
}

KTEST(heap_destroy_returns_every_frame) {
  auto fill = [](HANDLE h) {
    for (size_t i = 0; i < 300; ++i)
      if (!HeapAlloc(h, 0, (i * 37) % 3000)) return false;
    for (size_t i = 0; i < 10; ++i)
      if (!HeapAlloc(h, 0, 20000 + i * 4096)) return false;
    return true;
  };
  // Warm-up: the slab layer's own structures for new caches may keep a page.
  HANDLE w = HeapCreate(0, 100000, 0);
  KREQUIRE(w != nullptr);
  KCHECK(fill(w));
  KCHECK(HeapDestroy(w));

  // The page heap may keep one spare page of its own metadata after a trim:
  // give it back when the test created it, so the count is exact.
  size_t before = g_pmm.free_frame_count();
  size_t metadata_before = g_page_heap.metadata_pages_mapped();
  auto settle = [&] {
    if (g_page_heap.metadata_pages_mapped() > metadata_before) g_page_heap.release_unused_metadata();
  };
  HANDLE h = HeapCreate(0, 100000, 0);
  KREQUIRE(h != nullptr);
  KCHECK(fill(h));
  KCHECK(g_pmm.free_frame_count() < before);
  KCHECK(HeapDestroy(h));  // with everything still allocated
  settle();
  KCHECK_EQ(g_pmm.free_frame_count(), before);

  before = g_pmm.free_frame_count();
  metadata_before = g_page_heap.metadata_pages_mapped();
  h = HeapCreate(0, 2000000, 0);
  KREQUIRE(h != nullptr);
  for (int i = 0; i < 8; ++i) KCHECK(HeapAlloc(h, 0, 500000) != nullptr);
  KCHECK(HeapDestroy(h));
  settle();
  KCHECK_EQ(g_pmm.free_frame_count(), before);
}

KTEST(heap_process_heap_and_heap_list) {
  HANDLE ph = GetProcessHeap();
  KREQUIRE(ph != nullptr);
  DWORD n0 = GetProcessHeaps(0, nullptr);
  HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
  KREQUIRE(h != nullptr);
  HANDLE list[16] = {};
  DWORD n = GetProcessHeaps(16, list);
  KCHECK_EQ(n, n0 + 1);
  bool has_ph = false, has_h = false;
  for (DWORD i = 0; i < n && i < 16; ++i) {
    has_ph = has_ph || list[i] == ph;
    has_h = has_h || list[i] == h;
  }
  KCHECK(has_ph && has_h);
  KCHECK(HeapLock(ph));
  void* p = HeapAlloc(ph, 0, 10);  // the lock nests
  KCHECK(p != nullptr);
  KCHECK(HeapFree(ph, 0, p));
  KCHECK(HeapUnlock(ph));
  {
    QuietReports quiet;
    uint32_t before = report_count();
    KCHECK(!HeapDestroy(ph));
    KCHECK(reported(before, BugClass::BadArgument));
  }
  KCHECK(HeapDestroy(h));
  KCHECK_EQ(GetProcessHeaps(0, nullptr), n0);
}

}  // namespace kheap::kernel
