// host_tests/gdb_target.cpp — a small host program for studying kheap in gdb
// (`make debug-host`) and for the gdb part of `make test`: it brings the whole
// stack up on a HostMachine, makes a known set of allocations, prints the
// program's own meminfo and slabinfo, and stops in gdb_checkpoint(), where
// `kheap meminfo` / `kheap slabinfo` must print the very same numbers. A
// second thread has its own thread cache (lib/slab/thread_cache.h), with
// objects in both of its kmalloc-128 magazines, and waits until main is past
// the checkpoint, so `kheap tcache` has two caches to tell apart.
#include <atomic>
#include <cstdio>
#include <thread>

#include "core/format.h"
#include "heap/win32_heap.h"
#include "host/host_machine.h"
#include "pmm/pmm_report.h"
#include "slab/slab.h"

extern "C" __attribute__((noinline)) void gdb_checkpoint() { asm volatile("" ::: "memory"); }

int main() {
  kheap::host::HostMachine machine;
  if (!kheap::host::bring_up_stack(&machine)) {
    std::fprintf(stderr, "gdb_target: could not bring the stack up\n");
    return 1;
  }
  void* a = kheap::kmalloc(64);
  void* b = kheap::kmalloc(64);
  std::atomic<int> stage{0};
  // The worker: 62 kmalloc(128)s empty its alloc magazine (61) and refill it
  // (60 left). kfree(w[0]) fills it again, so kfree(w[1]) goes onto the freed
  // magazine: objects in both.
  void* w[62];
  std::thread worker([&] {
    for (auto& p : w) p = kheap::kmalloc(128);
    kheap::kfree(w[0]);
    kheap::kfree(w[1]);
    stage = 1;
    while (stage != 2) std::this_thread::yield();
    for (size_t i = 2; i < sizeof w / sizeof w[0]; ++i) kheap::kfree(w[i]);
  });  // (its cache is drained and released when it exits)
  while (stage != 1) std::this_thread::yield();
  void* big = kheap::kmalloc(100000);
  kheap::KmemCache* things = kheap::kmem_cache_create("things", 200, 8, 0, nullptr);
  void* t[5];
  for (auto& p : t) p = kheap::kmem_cache_alloc(things);
  kheap::kmem_cache_free(things, t[1]);
  auto heap = kheap::win32::HeapCreate(0, 1 << 16, 0);
  void* h = kheap::win32::HeapAlloc(heap, 0, 300);
  std::printf("%p kmalloc(64)\n%p kmalloc(64)\n%p kmalloc(100000)\n%p things[1] (freed)\n", a, b, big, t[1]);
  std::printf("%p kmalloc(128) (worker, freed)\n", w[1]);
  std::fflush(stdout);
  kheap::pmm::NormalizedMap no_map{};
  kheap::pmm::print_meminfo(machine.pmm(), no_map, 0);
  kheap::print_slabinfo();
  gdb_checkpoint();
  stage = 2;
  worker.join();
  kheap::win32::HeapFree(heap, 0, h);
  kheap::win32::HeapDestroy(heap);
  kheap::kfree(a);
  kheap::kfree(b);
  kheap::kfree(big);
  return 0;
}
