// host_tests/windows/win32_conformance_test.cpp — kheap's Win32-style heap API
// (kheap::win32, over a HostMachine) against the real Windows heap (as Wine 8
// implements it: ::HeapCreate and friends from <windows.h>). Windows only:
// built by mk/windows.mk into build/win64/win32_conformance_test.exe, never by
// the Linux build (its glob is host_tests/*_test.cpp).
//
// Each scenario runs the same calls against both APIs and records what the
// Windows documentation defines — NULL or not, TRUE/FALSE, HeapSize,
// alignment, zeroing, contents kept on failure — as a trace; the traces must be
// equal. What the documentation leaves undefined is checked only against
// kheap's own conventions (heap/win32_heap.h), and Wine's answer is printed
// ("[ wine ]" lines), not compared.
//
// Where Wine 8.0 and the Windows documentation differ (or Wine goes beyond it):
//  * HeapAlloc/HeapReAlloc "do not call SetLastError" on failure (docs); Wine
//    sets ERROR_NOT_ENOUGH_MEMORY (8), as kheap does. Compared, since both agree.
//  * HeapCreate: the docs require dwInitialSize <= dwMaximumSize; Wine accepts
//    a larger initial size and silently raises the maximum to it; kheap fails
//    with ERROR_INVALID_PARAMETER. Not compared.
//  * HeapCreate(HEAP_GROWABLE, 0, max): HEAP_GROWABLE is not a documented
//    HeapCreate option (growable means dwMaximumSize == 0). Wine makes such a
//    heap growable; kheap ignores the flag and the heap is fixed. Not compared.
//  * HeapSize of a freed block is undefined. Wine 8 returns (SIZE_T)-1 with
//    ERROR_INVALID_PARAMETER for a freed small block and takes an access
//    violation for a freed large block (>= ~512 KiB: its memory went back to
//    the system); HeapSize(h, 0, NULL) is an access violation too. kheap
//    returns (SIZE_T)-1, ERROR_INVALID_PARAMETER and reports the misuse. Only
//    the small case is run on Wine, and printed.
//  * HeapReAlloc(h, 0, NULL, n): Wine returns NULL without touching the last
//    error; kheap returns NULL, ERROR_INVALID_PARAMETER and a report.
//  * HeapDestroy(GetProcessHeap()): both return FALSE; Wine's last error is
//    ERROR_INVALID_HANDLE (6), kheap's ERROR_INVALID_PARAMETER (87).
//  * A fixed heap's largest block on 64-bit Windows is "slightly less than
//    1,024 KB" (docs); Wine's is 1,044,440 bytes. Compared at 1,000,000 (fits)
//    and 1 MiB (fails).
// Where kheap departs from the documentation, see kKnownDifferences below.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/report.h"
#include "heap/win32_heap.h"
#include "host/host_machine.h"

namespace kh = kheap::win32;

// <windows.h> turns these names into macros; take kheap's values first.
constexpr uint32_t kKhZero = kh::HEAP_ZERO_MEMORY;
constexpr uint32_t kKhInPlace = kh::HEAP_REALLOC_IN_PLACE_ONLY;
constexpr uint32_t kKhGrowable = kh::HEAP_GROWABLE;
constexpr uint32_t kKhNoMemory = kh::ERROR_NOT_ENOUGH_MEMORY;
constexpr uint32_t kKhInvalidParameter = kh::ERROR_INVALID_PARAMETER;

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

static_assert(kKhZero == HEAP_ZERO_MEMORY && kKhInPlace == HEAP_REALLOC_IN_PLACE_ONLY && kKhGrowable == HEAP_GROWABLE);
static_assert(kKhNoMemory == ERROR_NOT_ENOUGH_MEMORY && kKhInvalidParameter == ERROR_INVALID_PARAMETER);

namespace {

// One heap API, either side. Types are the plain C++ ones both share.
struct Api {
  const char* name;
  void* (*process_heap)();
  void* (*create)(uint32_t options, size_t initial, size_t maximum);
  int (*destroy)(void* heap);
  void* (*alloc)(void* heap, uint32_t flags, size_t bytes);
  void* (*realloc)(void* heap, uint32_t flags, void* block, size_t bytes);
  int (*free)(void* heap, uint32_t flags, void* block);
  size_t (*size)(void* heap, uint32_t flags, const void* block);
  uint32_t (*last_error)();
  void (*set_last_error)(uint32_t error);
};

const Api kKheap = {
    "kheap",
    [] { return kh::GetProcessHeap(); },
    [](uint32_t o, size_t i, size_t m) { return kh::HeapCreate(o, i, m); },
    [](void* h) { return kh::HeapDestroy(h); },
    [](void* h, uint32_t f, size_t n) { return kh::HeapAlloc(h, f, n); },
    [](void* h, uint32_t f, void* p, size_t n) { return kh::HeapReAlloc(h, f, p, n); },
    [](void* h, uint32_t f, void* p) { return kh::HeapFree(h, f, p); },
    [](void* h, uint32_t f, const void* p) { return kh::HeapSize(h, f, p); },
    [] { return kh::GetLastError(); },
    [](uint32_t e) { kh::SetLastError(e); },
};

const Api kWindows = {
    "windows",
    [] { return static_cast<void*>(::GetProcessHeap()); },
    [](uint32_t o, size_t i, size_t m) { return static_cast<void*>(::HeapCreate(o, i, m)); },
    [](void* h) { return static_cast<int>(::HeapDestroy(h)); },
    [](void* h, uint32_t f, size_t n) { return ::HeapAlloc(h, f, n); },
    [](void* h, uint32_t f, void* p, size_t n) { return ::HeapReAlloc(h, f, p, n); },
    [](void* h, uint32_t f, void* p) { return static_cast<int>(::HeapFree(h, f, p)); },
    [](void* h, uint32_t f, const void* p) { return static_cast<size_t>(::HeapSize(h, f, p)); },
    [] { return static_cast<uint32_t>(::GetLastError()); },
    [](uint32_t e) { ::SetLastError(e); },
};

constexpr size_t kFail = static_cast<size_t>(-1);
constexpr uint32_t kUntouched = 0xA5A5;  // a last-error value no call sets

using Trace = std::vector<std::string>;

std::string show_block(const void* p) { return p ? "block" : "NULL"; }

bool all_bytes(const void* p, size_t from, size_t to, unsigned char value) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = from; i < to; ++i)
    if (b[i] != value) return false;
  return true;
}

// Dirty some memory of `heap` (allocate, fill, free) so that zeroing is not luck.
void dirty(const Api& a, void* heap, size_t bytes) {
  for (int i = 0; i < 4; ++i) {
    void* p = a.alloc(heap, 0, bytes);
    if (!p) return;
    memset(p, 0xCD, bytes);
    a.free(heap, 0, p);
  }
}

// Where kheap departs from documented Windows behaviour (reported to the heap
// layer's owner). Listed exactly, so that a change on either side shows up.
struct KnownDifference {
  const char* kheap;
  const char* windows;
  const char* why;
};
const KnownDifference kKnownDifferences[] = {
    {"fixed 65536: HeapAlloc(65536): block", "fixed 65536: HeapAlloc(65536): NULL, last error 8",
     "a block of exactly a fixed heap's maximum: kheap keeps its bookkeeping outside the maximum, Windows inside"},
    {"fixed 262144: HeapAlloc(262144): block", "fixed 262144: HeapAlloc(262144): NULL, last error 8",
     "a block of exactly a fixed heap's maximum: kheap keeps its bookkeeping outside the maximum, Windows inside"},
    {"fixed 8 MiB: HeapAlloc(1048576): block", "fixed 8 MiB: HeapAlloc(1048576): NULL",
     "Windows docs: a fixed heap's largest block is slightly less than 1,024 KB on 64-bit; kheap has no such limit"},
    {"fixed 8 MiB: HeapAlloc(3145728): block", "fixed 8 MiB: HeapAlloc(3145728): NULL",
     "Windows docs: a fixed heap's largest block is slightly less than 1,024 KB on 64-bit; kheap has no such limit"},
};

class Win32Conformance : public ::testing::Test {
 protected:
  kheap::host::HostMachine machine;
  void SetUp() override {
    kheap::set_report_echo(false);
    kheap::reset_reports();
    ASSERT_TRUE(kheap::host::bring_up_stack(&machine));
  }
  void TearDown() override { kheap::set_report_echo(true); }

  // Runs `scenario` against both sides and expects the same trace, except for
  // the known differences listed (exactly) in kKnownDifferences.
  template <typename Scenario>
  void same_on_both(Scenario scenario) {
    Trace ours = scenario(kKheap);
    Trace theirs = scenario(kWindows);
    size_t n = ours.size() > theirs.size() ? ours.size() : theirs.size();
    for (size_t i = 0; i < n; ++i) {
      std::string a = i < ours.size() ? ours[i] : "(nothing)";
      std::string b = i < theirs.size() ? theirs[i] : "(nothing)";
      const KnownDifference* known = nullptr;
      for (const KnownDifference& d : kKnownDifferences)
        if (a == d.kheap && b == d.windows) known = &d;
      if (known) {
        std::printf("[ known  ] %s\n           kheap:   %s\n           windows: %s\n", known->why, a.c_str(),
                    b.c_str());
        continue;
      }
      EXPECT_EQ(a, b) << "step " << i << ": kheap and the Windows heap disagree";
    }
  }
};

TEST_F(Win32Conformance, GrowableHeapSizesAlignmentAndZeroing) {
  same_on_both([](const Api& a) {
    Trace t;
    void* h = a.create(0, 0, 0);
    t.push_back("HeapCreate(0, 0, 0): " + show_block(h));
    if (!h) return t;
    for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{100}, size_t{1000},
                     size_t{4095}, size_t{4096}, size_t{4097}, size_t{16384}, size_t{65536}, size_t{1} << 20,
                     size_t{8} << 20}) {
      void* p = a.alloc(h, 0, n);
      std::string line = "HeapAlloc(" + std::to_string(n) + "): " + show_block(p);
      if (p) {
        line += ", HeapSize " + std::to_string(a.size(h, 0, p));
        line += (reinterpret_cast<uintptr_t>(p) % 16 == 0) ? ", 16-aligned" : ", NOT 16-aligned";
        memset(p, 0x77, n);  // the whole requested size is usable
        line += ", HeapFree " + std::to_string(a.free(h, 0, p) != 0);
      }
      t.push_back(line);
    }
    for (size_t n : {size_t{24}, size_t{3000}, size_t{200000}}) {
      dirty(a, h, n);
      void* p = a.alloc(h, HEAP_ZERO_MEMORY, n);
      t.push_back("HeapAlloc(HEAP_ZERO_MEMORY, " + std::to_string(n) + "): " + show_block(p) +
                  (p && all_bytes(p, 0, n, 0) ? ", zeroed" : ", not zeroed"));
      a.free(h, 0, p);
    }
    t.push_back("HeapFree(NULL): " + std::to_string(a.free(h, 0, nullptr)));
    // Blocks still live at HeapDestroy are freed with the heap.
    a.alloc(h, 0, 100);
    a.alloc(h, 0, 100000);
    t.push_back("HeapDestroy with live blocks: " + std::to_string(a.destroy(h) != 0));
    void* ph = a.process_heap();
    void* p = ph ? a.alloc(ph, HEAP_ZERO_MEMORY, 48) : nullptr;
    t.push_back("GetProcessHeap: " + show_block(ph) + ", HeapAlloc there: " + show_block(p) +
                (p && all_bytes(p, 0, 48, 0) ? ", zeroed" : ""));
    if (p) a.free(ph, 0, p);
    return t;
  });
  EXPECT_EQ(kheap::report_count(), 0u);
}

TEST_F(Win32Conformance, ImpossibleSizesFailWithNotEnoughMemory) {
  same_on_both([](const Api& a) {
    Trace t;
    void* h = a.create(0, 0, 0);
    // (Not 2^46 or so: Wine 8 takes ~25 s to fail that reservation.)
    for (size_t n : {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2}) {
      a.set_last_error(kUntouched);
      void* p = a.alloc(h, 0, n);
      // Not documented (HeapAlloc "does not call SetLastError"); Wine and kheap agree.
      t.push_back("HeapAlloc(" + std::to_string(n) + "): " + show_block(p) + ", last error " +
                  std::to_string(a.last_error()));
    }
    void* p = a.alloc(h, 0, 64);
    memset(p, 0x3C, 64);
    a.set_last_error(kUntouched);
    void* q = a.realloc(h, 0, p, SIZE_MAX);
    t.push_back("HeapReAlloc(64 -> SIZE_MAX): " + show_block(q) + ", last error " + std::to_string(a.last_error()) +
                ", block kept: HeapSize " + std::to_string(a.size(h, 0, p)) +
                (all_bytes(p, 0, 64, 0x3C) ? ", contents kept" : ", contents LOST"));
    a.destroy(h);
    return t;
  });
  EXPECT_EQ(kheap::report_count(), 0u);
}

TEST_F(Win32Conformance, ReAllocKeepsContentsAndZeroesOnlyTheGrowth) {
  same_on_both([](const Api& a) {
    Trace t;
    void* h = a.create(0, 0, 0);
    for (size_t from : {size_t{40}, size_t{1000}, size_t{70000}}) {
      for (size_t to : {size_t{10}, size_t{1000}, size_t{5000}, size_t{300000}}) {
        dirty(a, h, to);
        auto* p = static_cast<unsigned char*>(a.alloc(h, 0, from));
        for (size_t i = 0; i < from; ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
        auto* q = static_cast<unsigned char*>(a.realloc(h, HEAP_ZERO_MEMORY, p, to));
        std::string line = "HeapReAlloc(HEAP_ZERO_MEMORY, " + std::to_string(from) + " -> " + std::to_string(to) +
                           "): " + show_block(q);
        if (q) {
          size_t keep = from < to ? from : to;
          bool kept = true;
          for (size_t i = 0; i < keep; ++i) kept &= q[i] == static_cast<unsigned char>(i * 7 + 1);
          line += ", HeapSize " + std::to_string(a.size(h, 0, q)) + (kept ? ", contents kept" : ", contents LOST");
          if (to > from) line += all_bytes(q, from, to, 0) ? ", growth zeroed" : ", growth NOT zeroed";
          a.free(h, 0, q);
        }
        t.push_back(line);
      }
    }
    a.destroy(h);
    return t;
  });
  EXPECT_EQ(kheap::report_count(), 0u);
}

TEST_F(Win32Conformance, ReallocInPlaceOnlyNeverMoves) {
  same_on_both([](const Api& a) {
    Trace t;
    void* h = a.create(0, 0, 0);
    auto* p = static_cast<unsigned char*>(a.alloc(h, 0, 1000));
    memset(p, 0x42, 1000);
    // Growing a small block to 16 MiB cannot happen in place: NULL, block untouched.
    a.set_last_error(kUntouched);
    void* q = a.realloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, size_t{16} << 20);
    t.push_back("in place 1000 -> 16 MiB: " + show_block(q) + ", last error " + std::to_string(a.last_error()) +
                ", HeapSize " + std::to_string(a.size(h, 0, p)) +
                (all_bytes(p, 0, 1000, 0x42) ? ", contents kept" : ", contents LOST"));
    // Shrinking in place succeeds at the same address.
    q = a.realloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 500);
    t.push_back(std::string("in place 1000 -> 500: ") + (q == p ? "same address" : q ? "MOVED" : "NULL") +
                ", HeapSize " + std::to_string(a.size(h, 0, p)) +
                (all_bytes(p, 0, 500, 0x42) ? ", contents kept" : ", contents LOST"));
    // Growing back, or shrinking a large block: the allocator may refuse; the
    // contract is "same address (growth zeroed) or NULL with the block untouched".
    q = a.realloc(h, HEAP_REALLOC_IN_PLACE_ONLY | HEAP_ZERO_MEMORY, p, 1000);
    bool kept = q ? q == p && a.size(h, 0, p) == 1000 && all_bytes(p, 0, 500, 0x42) && all_bytes(p, 500, 1000, 0)
                  : a.size(h, 0, p) == 500 && all_bytes(p, 0, 500, 0x42);
    t.push_back(std::string("in place 500 -> 1000 with HEAP_ZERO_MEMORY: ") + (kept ? "contract kept" : "CONTRACT BROKEN"));
    std::printf("[ %-7s] HEAP_REALLOC_IN_PLACE_ONLY 500 -> 1000: %s\n", a.name, q ? "done in place" : "refused");
    auto* big = static_cast<unsigned char*>(a.alloc(h, 0, size_t{2} << 20));
    memset(big, 0x99, size_t{2} << 20);
    q = a.realloc(h, HEAP_REALLOC_IN_PLACE_ONLY, big, size_t{1} << 20);
    kept = q ? q == big && a.size(h, 0, big) == size_t{1} << 20 && all_bytes(big, 0, size_t{1} << 20, 0x99)
             : a.size(h, 0, big) == size_t{2} << 20 && all_bytes(big, 0, size_t{2} << 20, 0x99);
    t.push_back(std::string("in place 2 MiB -> 1 MiB: ") + (kept ? "contract kept" : "CONTRACT BROKEN"));
    std::printf("[ %-7s] HEAP_REALLOC_IN_PLACE_ONLY 2 MiB -> 1 MiB: %s\n", a.name, q ? "done in place" : "refused");
    a.destroy(h);
    return t;
  });
  EXPECT_EQ(kheap::report_count(), 0u);
}

TEST_F(Win32Conformance, FixedHeapAtAndPastItsMaximum) {
  same_on_both([](const Api& a) {
    Trace t;
    for (size_t max : {size_t{64} << 10, size_t{256} << 10}) {
      std::string m = "fixed " + std::to_string(max) + ": ";
      void* h = a.create(0, 0, max);
      t.push_back(m + "HeapCreate " + show_block(h));
      if (!h) continue;
      for (size_t n : {max + 1, max, max * 2, max / 4}) {
        a.set_last_error(kUntouched);
        void* p = a.alloc(h, 0, n);
        t.push_back(m + "HeapAlloc(" + std::to_string(n) + "): " + show_block(p) +
                    (p ? "" : ", last error " + std::to_string(a.last_error())));
        if (p) a.free(h, 0, p);
      }
      // Fill with 1 KiB blocks: the heap holds at most `max` bytes, and at least half of it.
      std::vector<void*> blocks;
      while (void* p = a.alloc(h, 0, 1024)) blocks.push_back(p);
      size_t held = blocks.size() * 1024;
      std::printf("[ %-7s] fixed heap of %zu bytes holds %zu blocks of 1 KiB\n", a.name, max, blocks.size());
      t.push_back(m + "filled with 1 KiB blocks: " + (held <= max ? "within the maximum" : "PAST the maximum") +
                  (held >= max / 2 ? ", at least half of it" : ", LESS than half of it"));
      void* last = blocks.back();
      memset(last, 0x61, 1024);
      void* q = a.realloc(h, 0, last, 8192);
      t.push_back(m + "HeapReAlloc(1024 -> 8192) when full: " + show_block(q) + ", HeapSize " +
                  std::to_string(a.size(h, 0, last)) + (all_bytes(last, 0, 1024, 0x61) ? ", contents kept" : ", LOST"));
      bool freed = true;
      for (void* p : blocks) freed &= a.free(h, 0, p) != 0;
      void* again = a.alloc(h, 0, max / 4);
      t.push_back(m + "all freed: " + std::to_string(freed) + ", HeapAlloc(max/4) again: " + show_block(again));
      t.push_back(m + "HeapDestroy " + std::to_string(a.destroy(h) != 0));
    }
    // The largest block of a fixed heap (64-bit: "slightly less than 1,024 KB"),
    // whatever the heap's maximum.
    void* h = a.create(0, 0, size_t{8} << 20);
    for (size_t n : {size_t{1000000}, size_t{1} << 20, size_t{3} << 20}) {
      void* p = a.alloc(h, 0, n);
      t.push_back("fixed 8 MiB: HeapAlloc(" + std::to_string(n) + "): " + show_block(p));
      if (p) a.free(h, 0, p);
    }
    a.destroy(h);
    return t;
  });
  EXPECT_EQ(kheap::report_count(), 0u);
}

// Undefined on Windows, so not compared: kheap's convention is checked, Wine's
// answer printed.
TEST_F(Win32Conformance, HeapSizeOfAFreedBlock) {
  void* h = kh::HeapCreate(0, 0, 0);
  void* p = kh::HeapAlloc(h, 0, 100);
  ASSERT_TRUE(kh::HeapFree(h, 0, p));
  kh::SetLastError(kUntouched);
  EXPECT_EQ(kh::HeapSize(h, 0, p), kFail);
  EXPECT_EQ(kh::GetLastError(), kKhInvalidParameter);
  EXPECT_EQ(kheap::report_count(), 1u);
  void* big = kh::HeapAlloc(h, 0, size_t{1} << 20);
  ASSERT_TRUE(kh::HeapFree(h, 0, big));
  EXPECT_EQ(kh::HeapSize(h, 0, big), kFail);  // kheap survives the large case too
  EXPECT_EQ(kheap::report_count(), 2u);
  EXPECT_TRUE(kh::HeapDestroy(h));

  HANDLE w = ::HeapCreate(0, 0, 0);
  void* wp = ::HeapAlloc(w, 0, 100);
  ASSERT_TRUE(::HeapFree(w, 0, wp));
  ::SetLastError(kUntouched);
  SIZE_T s = ::HeapSize(w, 0, wp);  // small block only: a freed large one is an access violation on Wine 8
  std::printf("[ wine   ] HeapSize of a freed 100-byte block: %s, last error %lu\n",
              s == kFail ? "(SIZE_T)-1" : std::to_string(s).c_str(), ::GetLastError());
  RecordProperty("wine_heapsize_freed_small", s == kFail ? "-1" : std::to_string(s));
  ::HeapDestroy(w);
}

// Outside the documentation: kheap's conventions checked, Wine's printed.
TEST_F(Win32Conformance, UndocumentedCornersKheapConventionsAndWhatWineDoes) {
  // dwInitialSize > dwMaximumSize.
  kh::SetLastError(kUntouched);
  EXPECT_EQ(kh::HeapCreate(0, size_t{1} << 20, size_t{64} << 10), nullptr);
  EXPECT_EQ(kh::GetLastError(), kKhInvalidParameter);
  HANDLE w = ::HeapCreate(0, size_t{1} << 20, size_t{64} << 10);
  void* wp = w ? ::HeapAlloc(w, 0, 200000) : nullptr;
  std::printf("[ wine   ] HeapCreate(0, 1 MiB, 64 KiB): %s; a 200000-byte block in it: %s\n", w ? "a heap" : "NULL",
              wp ? "allocated" : "NULL");
  if (w) ::HeapDestroy(w);

  // HEAP_GROWABLE with a maximum: kheap keeps the heap fixed.
  void* h = kh::HeapCreate(kKhGrowable, 0, size_t{64} << 10);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(kh::HeapAlloc(h, 0, 200000), nullptr);
  EXPECT_TRUE(kh::HeapDestroy(h));
  w = ::HeapCreate(HEAP_GROWABLE, 0, size_t{64} << 10);
  wp = w ? ::HeapAlloc(w, 0, 200000) : nullptr;
  std::printf("[ wine   ] HeapCreate(HEAP_GROWABLE, 0, 64 KiB) then a 200000-byte block: %s\n",
              wp ? "allocated (growable)" : "NULL (fixed)");
  if (w) ::HeapDestroy(w);

  // HeapReAlloc of NULL.
  kh::SetLastError(kUntouched);
  EXPECT_EQ(kh::HeapReAlloc(kh::GetProcessHeap(), 0, nullptr, 10), nullptr);
  EXPECT_EQ(kh::GetLastError(), kKhInvalidParameter);
  EXPECT_EQ(kheap::last_report().bug_class, kheap::BugClass::BadArgument);
  ::SetLastError(kUntouched);
  wp = ::HeapReAlloc(::GetProcessHeap(), 0, nullptr, 10);
  std::printf("[ wine   ] HeapReAlloc(process heap, 0, NULL, 10): %s, last error %lu\n", wp ? "a block" : "NULL",
              ::GetLastError());

  // Destroying the process heap: both refuse (compared), with different last errors.
  kh::SetLastError(kUntouched);
  EXPECT_FALSE(kh::HeapDestroy(kh::GetProcessHeap()));
  EXPECT_EQ(kh::GetLastError(), kKhInvalidParameter);
  EXPECT_EQ(kheap::last_report().bug_class, kheap::BugClass::BadArgument);
  ::SetLastError(kUntouched);
  EXPECT_FALSE(::HeapDestroy(::GetProcessHeap()));
  std::printf("[ wine   ] HeapDestroy(GetProcessHeap()): FALSE, last error %lu\n", ::GetLastError());
}

}  // namespace
