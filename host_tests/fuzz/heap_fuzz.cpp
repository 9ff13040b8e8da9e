// host_tests/fuzz/heap_fuzz.cpp — libFuzzer harness for the whole allocator stack.
//
// Each input is decoded into a sequence of operations on a FRESH HostMachine
// stack (kheap::host::bring_up_stack, 16 MiB of "RAM" so out-of-memory paths
// are hit): kmalloc/kzalloc/kmalloc_aligned/krealloc/kfree/ksize,
// kmem_cache_create/alloc/zalloc/free/shrink/destroy, HeapCreate (fixed and
// growable)/HeapAlloc/HeapReAlloc (HEAP_ZERO_MEMORY, HEAP_REALLOC_IN_PLACE_ONLY)
// /HeapSize/HeapFree/HeapDestroy/HeapValidate/HeapCompact — and, at a low rate,
// deliberately invalid ones (double free, interior free, wrong-heap/cache free,
// foreign pointers, stale heap handles, destroying a non-empty cache, ...).
//
// The reference model: every live block (address -> kind, owner, requested
// size, extent, fill seed). Every block is filled with a pattern derived from
// its seed over its whole extent (kmalloc: ksize(); cache: the object size;
// heap: the requested size) and the pattern is verified before every free and
// realloc and at the end, so a block overlapping another, or memory the
// allocator scribbled on, shows. Checked on every operation: no report for a
// valid operation, and exactly the named misuse reported (report_count() goes
// up, with an expected BugClass) for an invalid one, the model intact after it;
// no overlap between live blocks; alignment; ksize >= size; HeapSize ==
// requested; zeroing where promised; realloc keeps the prefix; in-place-only
// never moves; a failure is out-of-memory only if memory is really short.
// Every kCheckEvery operations, and after every invalid one: the buddy
// allocator's check(), the page heap's check(), slab_check(), kmem_cache_check
// and live-object counts per cache, HeapValidate and heap_stats per heap.
// At the end everything is freed, caches destroyed, heaps destroyed, and the
// free frame count must be back where it started.
//
// A failure prints the operation number and what broke, then abort()s (libFuzzer
// keeps the input as crash-*). KHEAP_FUZZ_TRACE=1 prints every operation, so
// `KHEAP_FUZZ_TRACE=1 build/fuzz/heap_fuzz crash-...` is a readable reproducer.
// At exit it prints how many inputs and operations it ran.
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <vector>

#include "core/report.h"
#include "heap/win32_heap.h"
#include "host/host_machine.h"
#include "pmm/buddy.h"
#include "slab/slab.h"
#include "vm/page_heap.h"

using namespace kheap;
using namespace kheap::win32;

namespace {

constexpr size_t kRamBytes = size_t{16} << 20;
constexpr size_t kWindowBytes = size_t{256} << 20;
constexpr size_t kCheckEvery = 64;
constexpr size_t kMaxCaches = 8;
constexpr size_t kMaxHeaps = 6;  // including the process heap
constexpr size_t kMaxLive = 2048;
constexpr size_t kMaxOps = 3000;
constexpr size_t kHeapAlign = 2 * sizeof(void*);
constexpr uint64_t kCtorMagic = 0xC7C7'0B1E'C7C7'0B1Eull;

// --- statistics (printed at exit) --------------------------------------------
struct Stats {
  uint64_t inputs = 0, ops = 0, invalid = 0, oom = 0, allocs = 0, frees = 0, checks = 0;
} g_stats;
bool g_trace = false;

void print_stats() {
  std::fprintf(stderr,
               "heap_fuzz: %" PRIu64 " inputs, %" PRIu64 " operations (%" PRIu64 " allocations, %" PRIu64
               " frees, %" PRIu64 " invalid operations reported, %" PRIu64 " out-of-memory failures, %" PRIu64
               " invariant checks)\n",
               g_stats.inputs, g_stats.ops, g_stats.allocs, g_stats.frees, g_stats.invalid, g_stats.oom,
               g_stats.checks);
}

// --- input decoding ----------------------------------------------------------
struct Reader {
  const uint8_t* data;
  size_t size, pos = 0;
  bool empty() const { return pos >= size; }
  uint8_t u8() { return pos < size ? data[pos++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  size_t below(size_t n) { return n ? u16() % n : 0; }
};

// Mostly small, some slab-class, some page-sized, a few huge or absurd. Big
// blocks cost an mmap per page on the host, so they are kept rare; running out
// of memory is mostly injected (op_inject_failure) rather than reached.
size_t gen_size(Reader& r) {
  uint8_t k = r.u8();
  if (k < 140) return r.u8();
  if (k < 200) return r.u16() % 9000;
  if (k < 240) return r.u32() % (size_t{64} << 10);
  if (k < 250) return r.u32() % (size_t{512} << 10);
  if (k < 252) return r.u32() % (size_t{4} << 20);
  if (k < 253) return r.u32() % (size_t{40} << 20);  // past the RAM: out of memory
  if (k < 254) return SIZE_MAX - r.u16();           // overflow in any rounding
  return 0;
}

// --- model ---------------------------------------------------------------------
enum class Kind : uint8_t { Kmalloc, Cache, Heap };
const char* kind_name(Kind k) { return k == Kind::Kmalloc ? "kmalloc" : k == Kind::Cache ? "cache" : "heap"; }

struct Block {
  Kind kind;
  size_t owner;   // cache or heap slot
  size_t size;    // requested
  size_t extent;  // bytes we own and fill (usable size)
  size_t skip;    // leading bytes not filled (the constructed state of ctor caches)
  uint8_t seed;
  size_t index;   // in State::order
};

struct CacheSlot {
  KmemCache* cache = nullptr;  // nullptr: free slot
  size_t size = 0, align = 0, object_size = 0;
  bool ctor = false;
  size_t live = 0;
};

struct HeapSlot {
  HANDLE h = nullptr;  // nullptr: free slot
  bool process = false, fixed = false;
  size_t live = 0, bytes = 0;
};

void fuzz_ctor(void* object) { std::memcpy(object, &kCtorMagic, sizeof kCtorMagic); }

struct State {
  host::HostMachine* m = nullptr;
  std::map<uintptr_t, Block> live;
  std::vector<uintptr_t> order;
  CacheSlot caches[kMaxCaches];
  HeapSlot heaps[kMaxHeaps];
  size_t op = 0;
  const char* op_name = "";
  uint32_t reports = 0;
  size_t cache_names = 0;
  size_t last_light_check = 0;
  bool injected = false;  // frame allocation failures injected (HostMachine::fail_frames_after)
};
State* g = nullptr;

[[noreturn]] __attribute__((format(printf, 3, 4))) void fail(int line, const char* cond, const char* fmt, ...) {
  std::fprintf(stderr, "\nheap_fuzz: FAILED at operation %zu (%s), heap_fuzz.cpp:%d: %s\n  ", g ? g->op : 0,
               g ? g->op_name : "", line, cond);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  if (report_count()) std::fprintf(stderr, "  last report (%u so far):\n%s\n", report_count(), last_report().text);
  std::fflush(stderr);
  std::abort();
}
#define FZ_CHECK(cond, ...)                           \
  do {                                                \
    if (!(cond)) fail(__LINE__, #cond, __VA_ARGS__); \
  } while (0)

void trace(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void trace(const char* fmt, ...) {
  if (!g_trace) return;
  std::fprintf(stderr, "[%4zu] ", g->op);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

// --- fill patterns -------------------------------------------------------------
// A block's bytes are a window into one pseudo-random cyclic sequence of
// kPeriod bytes (a prime, so a block shifted by any number of pages does not
// match itself), starting where its seed says. Filled and verified with
// memcpy/memcmp in chunks: cheap enough for megabyte blocks under ASan.
constexpr size_t kPeriod = 65521;
uint8_t g_table[2 * kPeriod];

void init_table() {
  uint32_t x = 0x2545F491u;
  for (size_t i = 0; i < kPeriod; ++i) {
    x = x * 1664525u + 1013904223u;
    g_table[i] = g_table[i + kPeriod] = static_cast<uint8_t>(x >> 24);
  }
}

inline size_t pattern_start(uint8_t seed, size_t i) { return (seed * size_t{257} + i) % kPeriod; }
inline uint8_t pattern(uint8_t seed, size_t i) { return g_table[pattern_start(seed, i)]; }

void fill(uintptr_t p, size_t from, size_t to, uint8_t seed) {
  auto* b = reinterpret_cast<uint8_t*>(p);
  for (size_t i = from; i < to;) {
    size_t n = to - i < kPeriod ? to - i : kPeriod;
    std::memcpy(b + i, g_table + pattern_start(seed, i), n);
    i += n;
  }
}

void verify_range(uintptr_t p, size_t from, size_t to, uint8_t seed, const char* what) {
  auto* b = reinterpret_cast<const uint8_t*>(p);
  for (size_t i = from; i < to;) {
    size_t n = to - i < kPeriod ? to - i : kPeriod;
    if (std::memcmp(b + i, g_table + pattern_start(seed, i), n) != 0) {
      for (size_t j = i; j < i + n; ++j)
        FZ_CHECK(b[j] == pattern(seed, j),
                 "%s %#" PRIxPTR ": byte %zu is %#x, expected %#x (the block was overwritten)", what, p, j, b[j],
                 pattern(seed, j));
    }
    i += n;
  }
}

void verify_zero(uintptr_t p, size_t from, size_t to, const char* what) {
  static const uint8_t zeros[4096] = {};
  auto* b = reinterpret_cast<const uint8_t*>(p);
  for (size_t i = from; i < to;) {
    size_t n = to - i < sizeof zeros ? to - i : sizeof zeros;
    if (std::memcmp(b + i, zeros, n) != 0) {
      for (size_t j = i; j < i + n; ++j)
        FZ_CHECK(b[j] == 0, "%s %#" PRIxPTR ": byte %zu of [%zu, %zu) is %#x, not zero", what, p, j, from, to, b[j]);
    }
    i += n;
  }
}

void verify_block(uintptr_t p, const Block& b) {
  if (b.kind == Kind::Cache && g->caches[b.owner].ctor && b.skip) {
    uint64_t v;
    std::memcpy(&v, reinterpret_cast<void*>(p), sizeof v);
    FZ_CHECK(v == kCtorMagic || v == 0, "cache object %#" PRIxPTR ": constructed state lost (%#" PRIx64 ")", p, v);
  }
  verify_range(p, b.skip, b.extent, b.seed, kind_name(b.kind));
}

// --- reports -------------------------------------------------------------------
void expect_quiet(const char* what) {
  FZ_CHECK(report_count() == g->reports, "%s: a valid operation was reported:\n%s", what, last_report().text);
}

void expect_reported(const char* what, std::initializer_list<BugClass> allowed) {
  FZ_CHECK(report_count() > g->reports, "%s: misuse NOT reported", what);
  bool ok = false;
  for (BugClass c : allowed) ok |= last_report().bug_class == c;
  FZ_CHECK(ok, "%s: reported as \"%s\", expected another class:\n%s", what, bug_class_name(last_report().bug_class),
           last_report().text);
  g->reports = report_count();
  ++g_stats.invalid;
}

// --- out-of-memory plausibility ----------------------------------------------------
size_t free_frames() { return g->m->pmm().free_frame_count(); }

// A failure to get `bytes` (plus alignment slack) is fine only if frames are short.
void expect_oom_plausible(const char* what, size_t bytes, size_t extra_pages = 0) {
  ++g_stats.oom;
  if (g->injected || bytes > (size_t{1} << 40)) return;  // injected; absurd sizes fail anyway
  size_t pages = (bytes + kPageSize - 1) / kPageSize + extra_pages;
  size_t slack = 96 + pages / 64 + 64;  // a new slab (<= 64 pages), page-heap metadata, bookkeeping
  FZ_CHECK(free_frames() < pages + slack,
           "%s(%zu bytes) failed although %zu frames are free (needs about %zu): a spurious out-of-memory", what,
           bytes, free_frames(), pages);
}

// --- model bookkeeping ---------------------------------------------------------
void add_block(uintptr_t p, Block b) {
  FZ_CHECK(g->live.size() < kMaxLive + 8, "model overflow");
  size_t ext = b.extent ? b.extent : 1;
  auto it = g->live.lower_bound(p);
  if (it != g->live.end())
    FZ_CHECK(it->first >= p + ext, "new %s block %#" PRIxPTR " (+%zu) overlaps live %s block %#" PRIxPTR " (+%zu)",
             kind_name(b.kind), p, ext, kind_name(it->second.kind), it->first, it->second.extent);
  if (it != g->live.begin()) {
    auto prev = std::prev(it);
    size_t pext = prev->second.extent ? prev->second.extent : 1;
    FZ_CHECK(prev->first + pext <= p,
             "new %s block %#" PRIxPTR " (+%zu) overlaps live %s block %#" PRIxPTR " (+%zu)", kind_name(b.kind), p,
             ext, kind_name(prev->second.kind), prev->first, prev->second.extent);
  }
  b.index = g->order.size();
  g->order.push_back(p);
  if (b.kind == Kind::Cache) g->caches[b.owner].live++;
  if (b.kind == Kind::Heap) g->heaps[b.owner].live++, g->heaps[b.owner].bytes += b.size;
  g->live.emplace(p, b);
  ++g_stats.allocs;
}

void remove_block(uintptr_t p) {
  auto it = g->live.find(p);
  FZ_CHECK(it != g->live.end(), "model: %#" PRIxPTR " is not live", p);
  Block& b = it->second;
  size_t i = b.index;
  uintptr_t last = g->order.back();
  g->order[i] = last;
  g->live[last].index = i;
  g->order.pop_back();
  if (b.kind == Kind::Cache) g->caches[b.owner].live--;
  if (b.kind == Kind::Heap) g->heaps[b.owner].live--, g->heaps[b.owner].bytes -= b.size;
  g->live.erase(it);
  ++g_stats.frees;
}

// A random live block of `kind` (any kind if kind_any), or 0.
uintptr_t pick_block(Reader& r, bool kind_any, Kind kind, size_t owner = SIZE_MAX) {
  if (g->order.empty()) return 0;
  size_t n = g->order.size(), start = r.below(n);
  for (size_t k = 0; k < n; ++k) {
    uintptr_t p = g->order[(start + k) % n];
    const Block& b = g->live[p];
    if ((kind_any || b.kind == kind) && (owner == SIZE_MAX || b.owner == owner)) return p;
  }
  return 0;
}

// Every live block of `kind` owned by slot `owner`.
std::vector<uintptr_t> blocks_of(Kind kind, size_t owner) {
  std::vector<uintptr_t> out;
  for (const auto& [p, b] : g->live)
    if (b.kind == kind && b.owner == owner) out.push_back(p);
  return out;
}

long pick_cache(Reader& r) {
  size_t start = r.below(kMaxCaches);
  for (size_t k = 0; k < kMaxCaches; ++k)
    if (g->caches[(start + k) % kMaxCaches].cache) return static_cast<long>((start + k) % kMaxCaches);
  return -1;
}
long pick_heap(Reader& r, bool allow_process = true) {
  size_t start = r.below(kMaxHeaps);
  for (size_t k = 0; k < kMaxHeaps; ++k) {
    const HeapSlot& s = g->heaps[(start + k) % kMaxHeaps];
    if (s.h && (allow_process || !s.process)) return static_cast<long>((start + k) % kMaxHeaps);
  }
  return -1;
}

// --- invariant checks ------------------------------------------------------------
// full: also the buddy allocator and HeapValidate (the costly ones).
void check_all(const char* when, bool full = true) {
  ++g_stats.checks;
  if (full) FZ_CHECK(g->m->pmm().check(), "%s: buddy allocator check() failed", when);
  FZ_CHECK(g->m->page_heap().check(), "%s: page heap check() failed", when);
  FZ_CHECK(slab_check(), "%s: slab_check() failed", when);
  for (const CacheSlot& c : g->caches) {
    if (!c.cache) continue;
    FZ_CHECK(kmem_cache_check(c.cache), "%s: kmem_cache_check(%s) failed", when, kmem_cache_name(c.cache));
    FZ_CHECK(kmem_cache_live_objects(c.cache) == c.live, "%s: cache %s has %zu live objects, the model %zu", when,
             kmem_cache_name(c.cache), kmem_cache_live_objects(c.cache), c.live);
  }
  for (const HeapSlot& h : g->heaps) {
    if (!h.h) continue;
    if (full) FZ_CHECK(HeapValidate(h.h, 0, nullptr), "%s: HeapValidate(%p) failed", when, h.h);
    HeapStats s{};
    FZ_CHECK(heap_stats(h.h, &s), "%s: heap_stats(%p) failed", when, h.h);
    FZ_CHECK(s.blocks_in_use == h.live && s.bytes_in_use == h.bytes,
             "%s: heap %p has %zu blocks / %zu bytes in use, the model %zu / %zu", when, h.h, s.blocks_in_use,
             s.bytes_in_use, h.live, h.bytes);
  }
  expect_quiet(when);
}

// --- valid operations --------------------------------------------------------------
void finish_kmalloc(uintptr_t p, size_t size, const char* what) {
  FZ_CHECK(p % kKmallocMinAlign == 0, "%s(%zu) = %#" PRIxPTR " is not %zu-aligned", what, size, p,
           kKmallocMinAlign);
  size_t usable = ksize(reinterpret_cast<void*>(p));
  expect_quiet("ksize");
  FZ_CHECK(usable >= size, "ksize(%s(%zu) = %#" PRIxPTR ") = %zu < size", what, size, p, usable);
  FZ_CHECK(cache_of(reinterpret_cast<void*>(p)) == nullptr || kmem_cache_owner(cache_of(reinterpret_cast<void*>(p))) == nullptr,
           "kmalloc block %#" PRIxPTR " belongs to an owned cache", p);
  Block b{Kind::Kmalloc, 0, size, usable, 0, static_cast<uint8_t>(g->op * 7 + 1), 0};
  add_block(p, b);
  fill(p, 0, usable, b.seed);
}

void op_kmalloc(Reader& r, int variant) {
  size_t size = gen_size(r);
  size_t align = 0;
  void* p;
  const char* what;
  if (variant == 0) {
    what = "kmalloc";
    p = kmalloc(size);
  } else if (variant == 1) {
    what = "kzalloc";
    p = kzalloc(size);
  } else {
    what = "kmalloc_aligned";
    align = size_t{1} << (r.u8() % 17);
    p = kmalloc_aligned(size, align);
  }
  trace("%s(%zu%s%zu) = %p", what, size, align ? ", " : "", align, p);
  g->op_name = what;
  expect_quiet(what);
  if (!p) return expect_oom_plausible(what, size, align > kPageSize ? align / kPageSize : 0);
  auto a = reinterpret_cast<uintptr_t>(p);
  if (align) FZ_CHECK(a % align == 0, "kmalloc_aligned(%zu, %zu) = %p is misaligned", size, align, p);
  if (variant == 1) verify_zero(a, 0, size, "kzalloc");
  finish_kmalloc(a, size, what);
}

void op_krealloc(Reader& r) {
  g->op_name = "krealloc";
  uintptr_t p = r.u8() < 8 ? 0 : pick_block(r, false, Kind::Kmalloc);
  size_t size = r.u8() < 12 ? 0 : gen_size(r);
  Block old{};
  if (p) {
    old = g->live[p];
    verify_block(p, old);
  }
  void* q = krealloc(reinterpret_cast<void*>(p), size);
  trace("krealloc(%#" PRIxPTR " [%zu], %zu) = %p", p, old.size, size, q);
  expect_quiet("krealloc");
  auto a = reinterpret_cast<uintptr_t>(q);
  if (p && size == 0) {
    FZ_CHECK(!q, "krealloc(p, 0) returned %p, not NULL", q);
    remove_block(p);
    return;
  }
  if (!q) {
    expect_oom_plausible("krealloc", size);
    if (p) verify_block(p, old);  // still valid, unchanged
    return;
  }
  if (p) {
    remove_block(p);
    size_t keep = old.extent < size ? old.extent : size;
    verify_range(a, 0, keep, old.seed, "krealloc'd block (kept prefix)");
  }
  finish_kmalloc(a, size, "krealloc");
}

void op_kfree(Reader& r) {
  g->op_name = "kfree";
  uintptr_t p = pick_block(r, false, Kind::Kmalloc);
  if (!p) {
    trace("kfree(NULL)");
    kfree(nullptr);
    return expect_quiet("kfree(NULL)");
  }
  verify_block(p, g->live[p]);
  trace("kfree(%#" PRIxPTR ")", p);
  kfree(reinterpret_cast<void*>(p));
  expect_quiet("kfree");
  remove_block(p);
}

void op_ksize(Reader& r) {
  g->op_name = "ksize";
  uintptr_t p = pick_block(r, false, Kind::Kmalloc);
  if (!p) return;
  const Block& b = g->live[p];
  size_t s = ksize(reinterpret_cast<void*>(p));
  trace("ksize(%#" PRIxPTR ") = %zu", p, s);
  expect_quiet("ksize");
  FZ_CHECK(s == b.extent && s >= b.size, "ksize(%#" PRIxPTR ") = %zu; size %zu, usable was %zu", p, s, b.size,
           b.extent);
}

void op_cache_create(Reader& r) {
  g->op_name = "kmem_cache_create";
  size_t slot = kMaxCaches;
  for (size_t i = 0; i < kMaxCaches; ++i)
    if (!g->caches[i].cache) {
      slot = i;
      break;
    }
  uint8_t k = r.u8();
  size_t size = k < 128 ? 1 + r.u8() : k < 230 ? 1 + r.u16() % 4096 : 1 + r.u32() % 65536;
  size_t align = r.u8() % 4 == 0 ? 0 : size_t{1} << (r.u8() % 13);
  uint8_t f = r.u8();
  uint32_t flags = (f & 1) ? SLAB_HWCACHE_ALIGN : 0;
  bool ctor = (f & 6) == 6;
  if (ctor && size < 8) size = 8;
  if (slot == kMaxCaches) return;
  char name[24];
  std::snprintf(name, sizeof name, "fz%zu", g->cache_names++);
  KmemCache* c = kmem_cache_create(name, size, align, flags, ctor ? fuzz_ctor : nullptr);
  trace("kmem_cache_create(%s, %zu, %zu, %#x, %s) = %p", name, size, align, flags, ctor ? "ctor" : "-",
        static_cast<void*>(c));
  expect_quiet("kmem_cache_create");
  if (!c) return expect_oom_plausible("kmem_cache_create", 0);
  CacheSlot& s = g->caches[slot];
  s = CacheSlot{c, size, align, kmem_cache_object_size(c), ctor, 0};
  FZ_CHECK(s.object_size >= size, "cache %s: object size %zu < %zu", name, s.object_size, size);
  FZ_CHECK(std::strcmp(kmem_cache_name(c), name) == 0, "cache name %s, not %s", kmem_cache_name(c), name);
}

void op_cache_alloc(Reader& r) {
  g->op_name = "kmem_cache_alloc";
  long ci = pick_cache(r);
  bool zero = r.u8() < 64;
  if (ci < 0) return;
  CacheSlot& s = g->caches[ci];
  void* p = zero ? kmem_cache_zalloc(s.cache) : kmem_cache_alloc(s.cache);
  trace("kmem_cache_%salloc(%s) = %p", zero ? "z" : "", kmem_cache_name(s.cache), p);
  expect_quiet("kmem_cache_alloc");
  if (!p) return expect_oom_plausible("kmem_cache_alloc", s.object_size * 32);
  auto a = reinterpret_cast<uintptr_t>(p);
  size_t align = s.align ? s.align : 1;
  FZ_CHECK(a % align == 0, "kmem_cache_alloc(%s) = %p, not %zu-aligned", kmem_cache_name(s.cache), p, align);
  FZ_CHECK(cache_of(p) == s.cache, "cache_of(%p) is not its cache %s", p, kmem_cache_name(s.cache));
  if (zero) {
    verify_zero(a, 0, s.object_size, "kmem_cache_zalloc");
  } else if (s.ctor) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    FZ_CHECK(v == kCtorMagic, "kmem_cache_alloc(%s) = %p: not in its constructed state (%#" PRIx64 ")",
             kmem_cache_name(s.cache), p, v);
  }
  Block b{Kind::Cache, static_cast<size_t>(ci), s.size, s.object_size, s.ctor ? sizeof(uint64_t) : 0,
          static_cast<uint8_t>(g->op * 5 + 3), 0};
  add_block(a, b);
  fill(a, b.skip, b.extent, b.seed);
}

// Free a cache object properly (verify, restore the constructed state).
void cache_free_model(uintptr_t p) {
  Block b = g->live[p];
  verify_block(p, b);
  CacheSlot& s = g->caches[b.owner];
  if (s.ctor) fuzz_ctor(reinterpret_cast<void*>(p));
  trace("kmem_cache_free(%s, %#" PRIxPTR ")", kmem_cache_name(s.cache), p);
  kmem_cache_free(s.cache, reinterpret_cast<void*>(p));
  expect_quiet("kmem_cache_free");
  remove_block(p);
}

void op_cache_free(Reader& r) {
  g->op_name = "kmem_cache_free";
  uintptr_t p = pick_block(r, false, Kind::Cache);
  if (p) cache_free_model(p);
}

void op_cache_shrink(Reader& r) {
  g->op_name = "kmem_cache_shrink";
  long ci = pick_cache(r);
  if (ci < 0) return;
  size_t pages = kmem_cache_shrink(g->caches[ci].cache);
  trace("kmem_cache_shrink(%s) = %zu pages", kmem_cache_name(g->caches[ci].cache), pages);
  expect_quiet("kmem_cache_shrink");
  FZ_CHECK(kmem_cache_live_objects(g->caches[ci].cache) == g->caches[ci].live, "live objects changed by shrink");
}

void destroy_cache_slot(size_t ci) {
  CacheSlot& s = g->caches[ci];
  for (uintptr_t p : blocks_of(Kind::Cache, ci)) cache_free_model(p);
  trace("kmem_cache_destroy(%s)", kmem_cache_name(s.cache));
  bool ok = kmem_cache_destroy(s.cache);
  expect_quiet("kmem_cache_destroy");
  FZ_CHECK(ok, "kmem_cache_destroy of an empty cache failed");
  s = CacheSlot{};
}

void op_cache_destroy(Reader& r) {
  g->op_name = "kmem_cache_destroy";
  long ci = pick_cache(r);
  if (ci >= 0) destroy_cache_slot(static_cast<size_t>(ci));
}

void op_heap_create(Reader& r) {
  g->op_name = "HeapCreate";
  bool fixed = r.u8() < 100;
  size_t initial = r.u8() < 128 ? 0 : r.u32() % (size_t{1} << 20);
  size_t maximum = fixed ? initial + 1 + r.u32() % (size_t{4} << 20) : 0;
  DWORD flags = r.u8() < 64 ? HEAP_NO_SERIALIZE : 0;
  size_t slot = kMaxHeaps;
  for (size_t i = 0; i < kMaxHeaps; ++i)
    if (!g->heaps[i].h) {
      slot = i;
      break;
    }
  if (slot == kMaxHeaps) return;
  HANDLE h = HeapCreate(flags, initial, maximum);
  trace("HeapCreate(%#x, %zu, %zu) = %p", flags, initial, maximum, h);
  expect_quiet("HeapCreate");
  if (!h) {
    FZ_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY, "HeapCreate failed with error %u", GetLastError());
    return expect_oom_plausible("HeapCreate", initial);
  }
  g->heaps[slot] = HeapSlot{h, false, fixed, 0, 0};
}

void finish_heap_block(size_t hi, uintptr_t a, size_t size) {
  HeapSlot& s = g->heaps[hi];
  FZ_CHECK(a % kHeapAlign == 0, "heap block %#" PRIxPTR " not %zu-aligned", a, kHeapAlign);
  SIZE_T hs = HeapSize(s.h, 0, reinterpret_cast<void*>(a));
  expect_quiet("HeapSize");
  FZ_CHECK(hs == size, "HeapSize(%#" PRIxPTR ") = %zu, requested %zu", a, hs, size);
  Block b{Kind::Heap, hi, size, size, 0, static_cast<uint8_t>(g->op * 3 + 5), 0};
  add_block(a, b);
  fill(a, 0, size, b.seed);
}

void op_heap_alloc(Reader& r) {
  g->op_name = "HeapAlloc";
  long hi = pick_heap(r);
  DWORD flags = r.u8() < 80 ? HEAP_ZERO_MEMORY : 0;
  size_t size = gen_size(r);
  if (hi < 0) return;
  HeapSlot& s = g->heaps[hi];
  SetLastError(ERROR_SUCCESS);
  void* p = HeapAlloc(s.h, flags, size);
  trace("HeapAlloc(%p, %#x, %zu) = %p", s.h, flags, size, p);
  expect_quiet("HeapAlloc");
  if (!p) {
    FZ_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY, "HeapAlloc failed with error %u", GetLastError());
    if (!s.fixed) expect_oom_plausible("HeapAlloc", size);
    else ++g_stats.oom;
    return;
  }
  auto a = reinterpret_cast<uintptr_t>(p);
  if (flags & HEAP_ZERO_MEMORY) verify_zero(a, 0, size, "HeapAlloc(HEAP_ZERO_MEMORY)");
  finish_heap_block(static_cast<size_t>(hi), a, size);
}

void op_heap_realloc(Reader& r) {
  g->op_name = "HeapReAlloc";
  uintptr_t p = pick_block(r, false, Kind::Heap);
  uint8_t f = r.u8();
  DWORD flags = ((f & 3) == 0 ? HEAP_ZERO_MEMORY : 0) | ((f & 12) == 0 ? HEAP_REALLOC_IN_PLACE_ONLY : 0);
  size_t size = (f & 0x30) == 0 ? (g->live.count(p) ? g->live[p].size + r.u8() : 0) : gen_size(r);
  if (!p) return;
  Block old = g->live[p];
  HeapSlot& s = g->heaps[old.owner];
  verify_block(p, old);
  SetLastError(ERROR_SUCCESS);
  void* q = HeapReAlloc(s.h, flags, reinterpret_cast<void*>(p), size);
  trace("HeapReAlloc(%p, %#x, %#" PRIxPTR " [%zu], %zu) = %p", s.h, flags, p, old.size, size, q);
  expect_quiet("HeapReAlloc");
  if (!q) {
    FZ_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY, "HeapReAlloc failed with error %u", GetLastError());
    if (!s.fixed && !(flags & HEAP_REALLOC_IN_PLACE_ONLY)) expect_oom_plausible("HeapReAlloc", size);
    else ++g_stats.oom;
    SIZE_T hs = HeapSize(s.h, 0, reinterpret_cast<void*>(p));
    expect_quiet("HeapSize");
    FZ_CHECK(hs == old.size, "after a failed HeapReAlloc, HeapSize = %zu, was %zu", hs, old.size);
    verify_block(p, old);
    return;
  }
  auto a = reinterpret_cast<uintptr_t>(q);
  if (flags & HEAP_REALLOC_IN_PLACE_ONLY) FZ_CHECK(a == p, "HEAP_REALLOC_IN_PLACE_ONLY moved %#" PRIxPTR " to %p", p, q);
  remove_block(p);
  size_t keep = old.size < size ? old.size : size;
  verify_range(a, 0, keep, old.seed, "HeapReAlloc'd block (kept prefix)");
  if ((flags & HEAP_ZERO_MEMORY) && size > old.size) verify_zero(a, old.size, size, "HeapReAlloc(HEAP_ZERO_MEMORY)");
  finish_heap_block(old.owner, a, size);
}

void heap_free_model(uintptr_t p) {
  Block b = g->live[p];
  verify_block(p, b);
  HANDLE h = g->heaps[b.owner].h;
  BOOL ok = HeapFree(h, 0, reinterpret_cast<void*>(p));
  trace("HeapFree(%p, %#" PRIxPTR ") = %d", h, p, ok);
  expect_quiet("HeapFree");
  FZ_CHECK(ok, "HeapFree of a live block failed (error %u)", GetLastError());
  remove_block(p);
}

void op_heap_free(Reader& r) {
  g->op_name = "HeapFree";
  uintptr_t p = pick_block(r, false, Kind::Heap);
  if (p) heap_free_model(p);
}

void op_heap_size_validate(Reader& r) {
  g->op_name = "HeapSize/HeapValidate";
  uintptr_t p = pick_block(r, false, Kind::Heap);
  if (!p) return;
  const Block& b = g->live[p];
  HANDLE h = g->heaps[b.owner].h;
  SIZE_T s = HeapSize(h, 0, reinterpret_cast<void*>(p));
  BOOL v = HeapValidate(h, 0, reinterpret_cast<void*>(p));
  trace("HeapSize(%p, %#" PRIxPTR ") = %zu, HeapValidate = %d", h, p, s, v);
  expect_quiet("HeapSize/HeapValidate");
  FZ_CHECK(s == b.size, "HeapSize = %zu, requested %zu", s, b.size);
  FZ_CHECK(v, "HeapValidate of a live block is FALSE");
}

void destroy_heap_slot(size_t hi) {
  HeapSlot& s = g->heaps[hi];
  std::vector<uintptr_t> mine = blocks_of(Kind::Heap, hi);
  for (uintptr_t p : mine) {
    verify_block(p, g->live[p]);
    remove_block(p);
  }
  BOOL ok = HeapDestroy(s.h);
  trace("HeapDestroy(%p) = %d (%zu live blocks)", s.h, ok, mine.size());
  expect_quiet("HeapDestroy");
  FZ_CHECK(ok, "HeapDestroy failed (error %u)", GetLastError());
  s = HeapSlot{};
}

HANDLE g_last_destroyed = nullptr;
void op_heap_destroy(Reader& r) {
  g->op_name = "HeapDestroy";
  long hi = pick_heap(r, false);
  if (hi < 0) return;
  g_last_destroyed = g->heaps[hi].h;
  destroy_heap_slot(static_cast<size_t>(hi));
}

void op_heap_compact(Reader& r) {
  g->op_name = "HeapCompact";
  long hi = pick_heap(r);
  if (hi < 0) return;
  SIZE_T n = HeapCompact(g->heaps[hi].h, 0);
  trace("HeapCompact(%p) = %zu", g->heaps[hi].h, n);
  expect_quiet("HeapCompact");
}

// Make frame allocation fail after n more frames (or stop doing so): out of
// memory in the middle of any operation (a slab, a heap's commit, a large
// block, page-heap metadata), whose rollback must leave everything consistent.
void op_inject_failure(Reader& r) {
  g->op_name = "inject";
  uint8_t k = r.u8();
  if (g->injected && k < 160) {
    g->m->fail_frames_after(-1);
    g->injected = false;
    trace("frame allocation failures: off");
  } else {
    long n = k % 48;
    g->m->fail_frames_after(n);
    g->injected = true;
    trace("frame allocation fails after %ld more frames", n);
  }
}

void op_verify(Reader& r) {
  g->op_name = "verify";
  uintptr_t p = pick_block(r, true, Kind::Kmalloc);
  if (p) verify_block(p, g->live[p]);
}

// --- invalid operations ------------------------------------------------------------
int g_global_object[8];

void op_invalid(Reader& r) {
  g->op_name = "invalid";
  uint8_t which = r.u8() % 14;
  uintptr_t p = pick_block(r, true, Kind::Kmalloc);
  switch (which) {
    case 0:
    case 1: {  // double free, right after a valid free (the address is not reused yet)
      if (!p) return;
      Block b = g->live[p];
      if (b.kind == Kind::Kmalloc) {
        verify_block(p, b);
        kfree(reinterpret_cast<void*>(p));
        expect_quiet("kfree");
        remove_block(p);
        trace("double kfree(%#" PRIxPTR ")", p);
        kfree(reinterpret_cast<void*>(p));
        expect_reported("double kfree", {BugClass::DoubleFree, BugClass::InvalidFree});
      } else if (b.kind == Kind::Cache) {
        KmemCache* c = g->caches[b.owner].cache;
        cache_free_model(p);
        trace("double kmem_cache_free(%s, %#" PRIxPTR ")", kmem_cache_name(c), p);
        kmem_cache_free(c, reinterpret_cast<void*>(p));
        expect_reported("double kmem_cache_free", {BugClass::DoubleFree, BugClass::InvalidFree});
      } else {
        HANDLE h = g->heaps[b.owner].h;
        heap_free_model(p);
        trace("double HeapFree(%p, %#" PRIxPTR ")", h, p);
        FZ_CHECK(!HeapFree(h, 0, reinterpret_cast<void*>(p)), "a double HeapFree succeeded");
        expect_reported("double HeapFree", {BugClass::DoubleFree, BugClass::InvalidFree});
      }
      break;
    }
    case 2:
    case 3: {  // interior pointer
      if (!p) return;
      const Block& b = g->live[p];
      if (b.extent < 2) return;
      size_t off = r.u8() < 64 && b.extent > kPageSize ? kPageSize * (1 + r.below((b.extent - 1) / kPageSize))
                                                       : 1 + r.below(b.extent - 1);
      if (off >= b.extent) off = b.extent - 1;
      auto* q = reinterpret_cast<void*>(p + off);
      trace("interior free of %s block %#" PRIxPTR " + %zu", kind_name(b.kind), p, off);
      if (b.kind == Kind::Kmalloc) {
        kfree(q);
        expect_reported("interior kfree", {BugClass::InvalidFree});
      } else if (b.kind == Kind::Cache) {
        kmem_cache_free(g->caches[b.owner].cache, q);
        expect_reported("interior kmem_cache_free", {BugClass::InvalidFree});
      } else {
        FZ_CHECK(!HeapFree(g->heaps[b.owner].h, 0, q), "interior HeapFree succeeded");
        expect_reported("interior HeapFree", {BugClass::InvalidFree});
      }
      verify_block(p, b);
      break;
    }
    case 4: {  // a heap block freed through another heap
      uintptr_t hb = pick_block(r, false, Kind::Heap);
      if (!hb) return;
      const Block& b = g->live[hb];
      long other = pick_heap(r);
      if (other < 0 || static_cast<size_t>(other) == b.owner) return;
      trace("HeapFree(%p, block %#" PRIxPTR " of heap %p)", g->heaps[other].h, hb, g->heaps[b.owner].h);
      FZ_CHECK(!HeapFree(g->heaps[other].h, 0, reinterpret_cast<void*>(hb)), "wrong-heap HeapFree succeeded");
      expect_reported("HeapFree on the wrong heap", {BugClass::WrongHeap});
      verify_block(hb, b);
      break;
    }
    case 5: {  // a cache object freed to another cache
      uintptr_t cb = pick_block(r, false, Kind::Cache);
      if (!cb) return;
      const Block& b = g->live[cb];
      long other = pick_cache(r);
      if (other < 0 || static_cast<size_t>(other) == b.owner) return;
      trace("kmem_cache_free(%s, object %#" PRIxPTR " of %s)", kmem_cache_name(g->caches[other].cache), cb,
            kmem_cache_name(g->caches[b.owner].cache));
      kmem_cache_free(g->caches[other].cache, reinterpret_cast<void*>(cb));
      expect_reported("kmem_cache_free to the wrong cache", {BugClass::WrongHeap});
      verify_block(cb, b);
      break;
    }
    case 6: {  // a heap block to kfree, a kmalloc block to HeapFree or to a cache
      if (!p) return;
      const Block& b = g->live[p];
      if (b.kind == Kind::Heap) {
        trace("kfree(heap block %#" PRIxPTR ")", p);
        kfree(reinterpret_cast<void*>(p));
        expect_reported("kfree of a heap block", {BugClass::WrongHeap, BugClass::InvalidFree});
      } else if (b.kind == Kind::Kmalloc) {
        long hi = pick_heap(r);
        if (hi < 0) return;
        trace("HeapFree(%p, kmalloc block %#" PRIxPTR ")", g->heaps[hi].h, p);
        FZ_CHECK(!HeapFree(g->heaps[hi].h, 0, reinterpret_cast<void*>(p)), "HeapFree of a kmalloc block succeeded");
        expect_reported("HeapFree of a kmalloc block", {BugClass::WrongHeap, BugClass::InvalidFree});
      } else {
        long hi = pick_heap(r);
        if (hi < 0) return;
        trace("HeapFree(%p, cache object %#" PRIxPTR ")", g->heaps[hi].h, p);
        FZ_CHECK(!HeapFree(g->heaps[hi].h, 0, reinterpret_cast<void*>(p)), "HeapFree of a cache object succeeded");
        expect_reported("HeapFree of a cache object", {BugClass::WrongHeap, BugClass::InvalidFree});
      }
      verify_block(p, b);
      break;
    }
    case 7: {  // foreign pointers: stack, global, null-page, unaligned
      int local[4] = {1, 2, 3, 4};
      void* foreign[] = {local, g_global_object, reinterpret_cast<void*>(0x1000), reinterpret_cast<void*>(0x10)};
      void* f = foreign[r.u8() % 4];
      trace("kfree(foreign %p)", f);
      kfree(f);
      expect_reported("kfree of a foreign pointer", {BugClass::InvalidFree});
      long hi = pick_heap(r);
      if (hi >= 0) {
        trace("HeapFree(%p, foreign %p)", g->heaps[hi].h, f);
        FZ_CHECK(!HeapFree(g->heaps[hi].h, 0, f), "HeapFree of a foreign pointer succeeded");
        expect_reported("HeapFree of a foreign pointer", {BugClass::InvalidFree, BugClass::WrongHeap});
      }
      long ci = pick_cache(r);
      if (ci >= 0) {
        trace("kmem_cache_free(%s, foreign %p)", kmem_cache_name(g->caches[ci].cache), f);
        kmem_cache_free(g->caches[ci].cache, f);
        expect_reported("kmem_cache_free of a foreign pointer", {BugClass::InvalidFree, BugClass::WrongHeap});
      }
      break;
    }
    case 8: {  // a stale or made-up heap handle
      int local[8] = {};
      HANDLE bad = g_last_destroyed && r.u8() < 128 ? g_last_destroyed : static_cast<HANDLE>(local);
      for (const HeapSlot& s : g->heaps)
        if (s.h == bad) return;  // reused by a new heap: valid again
      trace("HeapAlloc(invalid handle %p, 0, 16)", bad);
      SetLastError(ERROR_SUCCESS);
      FZ_CHECK(!HeapAlloc(bad, 0, 16), "HeapAlloc on an invalid handle succeeded");
      expect_reported("HeapAlloc on an invalid handle", {BugClass::InvalidHandle});
      FZ_CHECK(GetLastError() == ERROR_INVALID_HANDLE, "error %u, not ERROR_INVALID_HANDLE", GetLastError());
      break;
    }
    case 9: {  // destroying a cache that still has objects
      uintptr_t cb = pick_block(r, false, Kind::Cache);
      if (!cb) return;
      CacheSlot& s = g->caches[g->live[cb].owner];
      trace("kmem_cache_destroy(%s) with %zu live objects", kmem_cache_name(s.cache), s.live);
      FZ_CHECK(!kmem_cache_destroy(s.cache), "kmem_cache_destroy of a non-empty cache succeeded");
      expect_reported("kmem_cache_destroy of a non-empty cache", {BugClass::CacheNotEmpty});
      break;
    }
    case 10: {  // kmalloc_aligned with an alignment that is not a power of two
      size_t align = 3 + 2 * (r.u8() % 100);
      trace("kmalloc_aligned(64, %zu)", align);
      FZ_CHECK(!kmalloc_aligned(64, align), "kmalloc_aligned with a bad alignment succeeded");
      expect_reported("kmalloc_aligned with a bad alignment", {BugClass::BadArgument});
      break;
    }
    case 11: {  // destroying the process heap
      trace("HeapDestroy(GetProcessHeap())");
      FZ_CHECK(!HeapDestroy(GetProcessHeap()), "HeapDestroy of the process heap succeeded");
      expect_reported("HeapDestroy of the process heap", {BugClass::BadArgument});
      break;
    }
    case 12: {  // ksize / HeapSize of an interior pointer
      if (!p) return;
      const Block& b = g->live[p];
      if (b.extent < 2 || b.kind == Kind::Cache) return;
      void* q = reinterpret_cast<void*>(p + 1 + r.below(b.extent - 1));
      if (b.kind == Kind::Kmalloc) {
        trace("ksize(interior %p)", q);
        FZ_CHECK(ksize(q) == 0, "ksize of an interior pointer is not 0");
        expect_reported("ksize of an interior pointer", {BugClass::BadArgument, BugClass::InvalidFree});
      } else {
        trace("HeapSize(interior %p)", q);
        FZ_CHECK(HeapSize(g->heaps[b.owner].h, 0, q) == static_cast<SIZE_T>(-1), "HeapSize of an interior pointer");
        expect_reported("HeapSize of an interior pointer", {BugClass::InvalidFree, BugClass::BadArgument});
      }
      verify_block(p, b);
      break;
    }
    case 13: {  // HeapReAlloc of a block just freed
      uintptr_t hb = pick_block(r, false, Kind::Heap);
      if (!hb) return;
      HANDLE h = g->heaps[g->live[hb].owner].h;
      heap_free_model(hb);
      trace("HeapReAlloc(%p, 0, freed %#" PRIxPTR ", 32)", h, hb);
      FZ_CHECK(!HeapReAlloc(h, 0, reinterpret_cast<void*>(hb), 32), "HeapReAlloc of a freed block succeeded");
      expect_reported("HeapReAlloc of a freed block", {BugClass::DoubleFree, BugClass::InvalidFree});
      break;
    }
  }
  // (at most every 8 operations: the checks walk every slab and dominate the run time)
  if (g->op >= g->last_light_check + 8) {
    g->last_light_check = g->op;
    check_all("after an invalid operation", false);
  }
}

// --- one input ----------------------------------------------------------------------
void run(const uint8_t* data, size_t size) {
  State st;
  g = &st;
  auto machine = std::make_unique<host::HostMachine>();
  st.m = machine.get();
  set_report_echo(g_trace);
  reset_reports();
  host::HostMachineConfig config;
  config.ram_bytes = kRamBytes;
  config.window_bytes = kWindowBytes;
  FZ_CHECK(host::bring_up_stack(st.m, config), "bring_up_stack failed");
  // The process heap lives on and makes its size-class caches lazily (their
  // cache objects stay, as do the slabs of kmem_cache and kmem_slab holding
  // them): make them all now, so every frame must come back at the end.
  for (size_t n = 1; n <= kHeapLargeBlockThreshold; n += 16) {
    void* p = HeapAlloc(GetProcessHeap(), 0, n);
    FZ_CHECK(p && HeapFree(GetProcessHeap(), 0, p), "warming up the process heap failed at %zu bytes", n);
  }
  HeapCompact(GetProcessHeap(), 0);
  slab_shrink_all();
  slab_shrink_all();
  st.m->page_heap().release_unused_metadata();
  const size_t start_frames = free_frames();
  const vm::PageHeapStats start_ps = st.m->page_heap().stats();
  st.heaps[0] = HeapSlot{GetProcessHeap(), true, false, 0, 0};
  g_last_destroyed = nullptr;
  st.reports = report_count();
  expect_quiet("bring-up");

  Reader r{data, size};
  while (!r.empty() && st.op < kMaxOps) {
    ++st.op;
    ++g_stats.ops;
    uint8_t k = r.u8();
    if (k >= 252) {
      op_invalid(r);
      continue;
    }
    if (g->live.size() >= kMaxLive && k < 140) k = 140;  // free something instead
    switch (k % 26) {
      case 0: case 1: op_kmalloc(r, 0); break;
      case 2: op_kmalloc(r, 1); break;
      case 3: op_kmalloc(r, 2); break;
      case 4: op_krealloc(r); break;
      case 5: case 6: op_kfree(r); break;
      case 7: op_ksize(r); break;
      case 8: op_cache_create(r); break;
      case 9: case 10: op_cache_alloc(r); break;
      case 11: case 12: op_cache_free(r); break;
      case 13: op_cache_shrink(r); break;
      case 14: op_cache_destroy(r); break;
      case 15: op_heap_create(r); break;
      case 16: case 17: op_heap_alloc(r); break;
      case 18: op_heap_realloc(r); break;
      case 19: case 20: op_heap_free(r); break;
      case 21: op_heap_size_validate(r); break;
      case 22: op_heap_destroy(r); break;
      case 23: op_heap_compact(r); break;
      case 24: op_verify(r); break;
      case 25: op_inject_failure(r); break;
    }
    if (st.op % kCheckEvery == 0) check_all("periodic check");
  }

  // Tear down: verify and free everything, then every frame must be back.
  ++st.op;
  st.op_name = "teardown";
  st.m->fail_frames_after(-1);
  st.injected = false;
  check_all("before teardown");
  for (size_t i = 0; i < kMaxHeaps; ++i) {
    if (!st.heaps[i].h) continue;
    if (st.heaps[i].process) {
      for (uintptr_t p : blocks_of(Kind::Heap, i)) heap_free_model(p);
    } else {
      destroy_heap_slot(i);
    }
  }
  for (size_t i = 0; i < kMaxCaches; ++i)
    if (st.caches[i].cache) destroy_cache_slot(i);
  while (!st.order.empty()) {
    uintptr_t p = st.order.back();
    const Block& b = st.live[p];
    FZ_CHECK(b.kind == Kind::Kmalloc, "a %s block is left", kind_name(b.kind));
    verify_block(p, b);
    kfree(reinterpret_cast<void*>(p));
    expect_quiet("kfree (teardown)");
    remove_block(p);
  }
  HeapCompact(GetProcessHeap(), 0);
  slab_shrink_all();
  slab_shrink_all();  // the slab headers freed by the first round may empty kmem_slab's slabs
  st.m->page_heap().release_unused_metadata();
  expect_quiet("teardown");
  check_all("after teardown");
  vm::PageHeapStats ps = st.m->page_heap().stats();
  if (free_frames() != start_frames) {  // show where the pages are
    print_slabinfo();
    print_heaps();
    std::fprintf(stderr, "page heap: %zu runs, %zu pages in use, %zu metadata pages (at the start: %zu runs, %zu pages, %zu)\n",
                 ps.runs_in_use, ps.pages_in_use, ps.metadata_pages, start_ps.runs_in_use, start_ps.pages_in_use,
                 start_ps.metadata_pages);
  }
  FZ_CHECK(free_frames() == start_frames, "after freeing everything %zu frames are free, %zu at the start (%zd lost)",
           free_frames(), start_frames, static_cast<ptrdiff_t>(start_frames - free_frames()));
  trace("teardown: %zu frames free (as at the start); page heap: %zu runs, %zu pages in use", free_frames(),
        ps.runs_in_use, ps.pages_in_use);
  machine.reset();
  g = nullptr;
  ++g_stats.inputs;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = std::getenv("KHEAP_FUZZ_TRACE") != nullptr;
  init_table();
  std::atexit(print_stats);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  return 0;
}
