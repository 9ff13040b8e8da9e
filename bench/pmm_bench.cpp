// bench/pmm_bench.cpp — the buddy page-frame allocator on the host.
//
//   Order0PairWarm    alloc_frame + free_frame in the steady state (list 0 non-empty,
//                     buddy busy): the fast path. Target: well under 20 ns.
//   Order0PairCold    the same on a fresh allocator holding only 4 MiB blocks:
//                     every pair splits 10 levels and coalesces them back.
//   AllocPages0Pair   alloc_pages(0) + free_pages(p, 0) (the generic entry points).
//   MixedOrders       a window of live blocks of random orders 0..4 (xorshift),
//                     oldest freed first.
//   Init3GiB          init() over a 3 GiB map (12 MiB of metadata). Target: < 5 ms.
// Metadata lives in a heap buffer standing in for physical memory [0, limit);
// it is touched once before timing so page faults are not measured.
// Instruction counts: bench/pmm_callgrind.cpp + bench/pmm_callgrind.sh.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "core/report.h"
#include "pmm/buddy.h"
#include "pmm/memory_map.h"

using namespace kheap;
using namespace kheap::pmm;

namespace {

constexpr uint64_t MiB = 1 << 20, GiB = uint64_t{1} << 30;

struct Phys {
  explicit Phys(uint64_t size) : buf(static_cast<uint8_t*>(std::aligned_alloc(4096, size))) { std::memset(buf, 0, size); }
  ~Phys() { std::free(buf); }
  static void* to_virt(PhysAddr p, void* ctx) { return static_cast<Phys*>(ctx)->buf + p; }
  uint8_t* buf;
};

NormalizedMap make_map(uint64_t bytes) {
  MemoryRegion r[] = {{0, 0x9fc00, 1}, {1 * MiB, bytes - 1 * MiB, 1}, {0xfffc0000, 0x40000, 2}};
  ReservedRange res[] = {{0, 1 * MiB, "first MiB"}, {1 * MiB, 2 * MiB, "kernel image"}};
  NormalizedMap m;
  normalize_memory_map(r, 3, res, 2, 4 * GiB, &m);
  return m;
}

struct Setup {
  explicit Setup(uint64_t bytes, uint64_t meta_limit = 64 * MiB) : phys(meta_limit), map(make_map(bytes)) {
    if (!pmm.init(map, meta_limit, &Phys::to_virt, &phys)) std::abort();
  }
  Phys phys;
  NormalizedMap map;
  BuddyAllocator pmm;
};

// Leave one order-0 frame free with its buddy allocated (as in a running system).
void make_warm(BuddyAllocator& a) {
  PhysAddr x = a.alloc_frame();
  a.alloc_frame();
  a.free_frame(x);
}

void Order0PairWarm(benchmark::State& state) {
  Setup s(128 * MiB);
  make_warm(s.pmm);
  for (auto _ : state) {
    PhysAddr p = s.pmm.alloc_frame();
    benchmark::DoNotOptimize(p);
    s.pmm.free_frame(p);
  }
}
BENCHMARK(Order0PairWarm);

void AllocPages0Pair(benchmark::State& state) {
  Setup s(128 * MiB);
  make_warm(s.pmm);
  for (auto _ : state) {
    PhysAddr p = s.pmm.alloc_pages(0);
    benchmark::DoNotOptimize(p);
    s.pmm.free_pages(p, 0);
  }
}
BENCHMARK(AllocPages0Pair);

void Order0PairCold(benchmark::State& state) {
  Setup s(128 * MiB);
  // Take everything that is not a whole 4 MiB block.
  for (unsigned k = 0; k < kMaxOrder; ++k)
    while (s.pmm.free_blocks(k)) s.pmm.alloc_pages(k);
  for (auto _ : state) {
    PhysAddr p = s.pmm.alloc_frame();
    benchmark::DoNotOptimize(p);
    s.pmm.free_frame(p);
  }
}
BENCHMARK(Order0PairCold);

void MixedOrders(benchmark::State& state) {
  Setup s(512 * MiB);
  constexpr unsigned kWindow = 4096;
  static PhysAddr addr[kWindow];
  static unsigned order[kWindow];
  uint32_t x = 2463534242u;
  auto xorshift = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (unsigned i = 0; i < kWindow; ++i) {
    order[i] = xorshift() % 5;
    addr[i] = s.pmm.alloc_pages(order[i]);
  }
  unsigned slot = 0;
  for (auto _ : state) {
    s.pmm.free_pages(addr[slot], order[slot]);
    order[slot] = xorshift() % 5;
    addr[slot] = s.pmm.alloc_pages(order[slot]);
    benchmark::DoNotOptimize(addr[slot]);
    slot = (slot + 1) % kWindow;
  }
  state.SetLabel("free+alloc, orders 0..4, 4096 live blocks");
}
BENCHMARK(MixedOrders);

void Init3GiB(benchmark::State& state) {
  Phys phys(64 * MiB);
  NormalizedMap map = make_map(3 * GiB);
  BuddyAllocator a;
  for (auto _ : state) {
    bool ok = a.init(map, 64 * MiB, &Phys::to_virt, &phys);
    benchmark::DoNotOptimize(ok);
  }
  state.counters["frames"] = static_cast<double>(a.stats().total_frames);
}
BENCHMARK(Init3GiB)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
