// bench/pmm_callgrind.cpp — instruction count of the order-0 alloc+free pair.
//
//   valgrind --tool=callgrind --toggle-collect='run_pairs*' build/host/pmm_callgrind warm 100000
//   valgrind --tool=callgrind --toggle-collect='run_pairs*' build/host/pmm_callgrind warm 200000
//   instructions per pair = (Ir(200000) - Ir(100000)) / 100000   (bench/pmm_callgrind.sh does this)
//
// "warm": the steady state of a running system — list 0 holds a frame whose buddy
// is allocated, so the pair is pop + push (the fast path).
// "cold": a fresh allocator with only 4 MiB blocks — each pair splits a 4 MiB
// block down to order 0 and coalesces it all the way back (the slow path).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pmm/buddy.h"
#include "pmm/memory_map.h"

using namespace kheap;
using namespace kheap::pmm;

namespace {
uint8_t* g_phys;
void* to_virt(PhysAddr p, void*) { return g_phys + p; }
}  // namespace

extern "C" __attribute__((noinline)) uintptr_t run_pairs(BuddyAllocator* a, long n) {
  uintptr_t sum = 0;
  for (long i = 0; i < n; ++i) {
    PhysAddr p = a->alloc_frame();
    sum += p;
    a->free_frame(p);
  }
  return sum;
}

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "warm") != 0 && std::strcmp(argv[1], "cold") != 0)) {
    std::fprintf(stderr, "usage: %s warm|cold ITERATIONS\n", argv[0]);
    return 2;
  }
  long n = std::atol(argv[2]);
  constexpr uint64_t kLimit = 16 << 20;
  g_phys = static_cast<uint8_t*>(std::aligned_alloc(4096, kLimit));
  MemoryRegion r[] = {{1 << 20, 63 << 20, 1}};
  static NormalizedMap map;
  normalize_memory_map(r, 1, nullptr, 0, kLimit, &map);
  static BuddyAllocator a;
  if (!a.init(map, kLimit, to_virt, nullptr)) return 1;
  // Leave only 4 MiB blocks ("cold") or one lone order-0 frame with an allocated buddy ("warm").
  while (a.free_blocks(kMaxOrder) == 0 || a.free_frame_count() != a.free_blocks(kMaxOrder) << kMaxOrder) {
    unsigned k = 0;
    while (a.free_blocks(k) == 0) ++k;
    a.alloc_pages(k);
  }
  if (std::strcmp(argv[1], "warm") == 0) {
    PhysAddr x = a.alloc_frame();
    a.alloc_frame();  // its buddy stays allocated
    a.free_frame(x);
  }
  std::printf("%lx\n", static_cast<unsigned long>(run_pairs(&a, n)));
  return 0;
}
