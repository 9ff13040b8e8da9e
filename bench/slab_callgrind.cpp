// bench/slab_callgrind.cpp — instruction counts of kmalloc/kfree, for callgrind.
//
//   valgrind --tool=callgrind --toggle-collect='run_pairs*' build/host/slab_callgrind lifo64 100000
//   valgrind --tool=callgrind --toggle-collect='run_pairs*' build/host/slab_callgrind lifo64 200000
//   instructions per pair = (Ir(200000) - Ir(100000)) / 100000   (bench/slab_callgrind.sh does this,
//   also counting inside kmalloc + kfree only, call to ret)
//
// "lifo64": kmalloc(64) + kfree of it, repeated: the fast path, with kfree's
// always-on checks (in the page heap, in a slab run, exact object start, not
// already free). The size is not a compile-time constant for the allocator.
// "churn": 100k live objects of 8..512 bytes; each step frees a random one and
// allocates a random size (one step = one pair).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "host/host_machine.h"
#include "slab/slab.h"

using namespace kheap;

extern "C" __attribute__((noinline)) uintptr_t run_pairs_lifo(long n, size_t size) {
  uintptr_t sum = 0;
  for (long i = 0; i < n; ++i) {
    void* p = kmalloc(size);
    sum += reinterpret_cast<uintptr_t>(p);
    kfree(p);
  }
  return sum;
}

extern "C" __attribute__((noinline)) uintptr_t run_pairs_churn(long n, void** live, const uint32_t* slot,
                                                                const uint16_t* size, size_t steps) {
  uintptr_t sum = 0;
  for (long i = 0; i < n; ++i) {
    size_t k = static_cast<size_t>(i) % steps;
    kfree(live[slot[k]]);
    live[slot[k]] = kmalloc(size[k]);
    sum += reinterpret_cast<uintptr_t>(live[slot[k]]);
  }
  return sum;
}

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "lifo64") != 0 && std::strcmp(argv[1], "churn") != 0)) {
    std::fprintf(stderr, "usage: %s lifo64|churn ITERATIONS\n", argv[0]);
    return 2;
  }
  long n = std::atol(argv[2]);
  static host::HostMachine m;
  host::HostMachineConfig config;
  config.ram_bytes = size_t{256} << 20;
  config.window_bytes = size_t{1} << 30;
  if (!m.create(config) || !slab_init(&m.page_heap())) return 1;
  uintptr_t sum;
  if (argv[1][0] == 'l') {
    void* keep = kmalloc(64);  // the slab stays in use, as in a running system
    volatile size_t size = 64;
    sum = run_pairs_lifo(n, size);
    kfree(keep);
  } else {
    constexpr size_t kLive = 100000, kSteps = 1 << 18;
    std::mt19937 rng(42);
    std::vector<void*> live(kLive);
    std::vector<uint32_t> slot(kSteps);
    std::vector<uint16_t> size(kSteps);
    for (auto& p : live) p = kmalloc(8 + rng() % 505);
    for (size_t i = 0; i < kSteps; ++i) {
      slot[i] = static_cast<uint32_t>(rng() % kLive);
      size[i] = static_cast<uint16_t>(8 + rng() % 505);
    }
    run_pairs_churn(2 * kSteps, live.data(), slot.data(), size.data(), kSteps);  // reach the steady state
    sum = run_pairs_churn(n, live.data(), slot.data(), size.data(), kSteps);
    for (void* p : live) kfree(p);
  }
  std::printf("%lu\n", static_cast<unsigned long>(sum & 1));
  return 0;
}
