// bench/vm_bench.cpp — the kernel break and the page heap on the host.
//
// The pairs the issue asks for (sbrk(+4096)/sbrk(-4096), alloc_run(1)/free_run)
// on a HostMachine, where mapping is mmap(MAP_FIXED|MAP_SHARED) of the memfd
// and unmapping is an mmap of PROT_NONE over it, plus the same pairs over a
// fake mapper that only writes a table (so the difference is the syscalls),
// and the raw mapper and buddy calls on their own, to show what dominates.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

#include "host/host_machine.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

using namespace kheap;

namespace {

host::HostMachineConfig bench_config() {
  host::HostMachineConfig c;
  c.ram_bytes = size_t{64} << 20;
  c.window_bytes = size_t{256} << 20;
  return c;
}

// Frames from a stack and a translation table in memory: no syscalls.
class TableMachine final : public platform::FrameSource, public platform::Mapper {
 public:
  explicit TableMachine(size_t window_pages) : table_(window_pages, 0) {
    window_ = static_cast<char*>(std::aligned_alloc(kPageSize, window_pages * kPageSize));
    for (size_t f = 4096; f >= 1; --f) free_.push_back(f * kPageSize);
  }
  ~TableMachine() { std::free(window_); }
  VirtAddr base() const { return reinterpret_cast<VirtAddr>(window_); }
  VirtAddr limit() const { return base() + table_.size() * kPageSize; }
  PhysAddr alloc_frame() override {
    if (free_.empty()) return 0;
    PhysAddr f = free_.back();
    free_.pop_back();
    return f;
  }
  bool free_frame(PhysAddr f) override {
    free_.push_back(f);
    return true;
  }
  size_t free_frame_count() const override { return free_.size(); }
  bool map_page(VirtAddr v, PhysAddr f) override {
    table_[(v - base()) >> kPageShift] = f;
    return true;
  }
  PhysAddr unmap_page(VirtAddr v) override {
    PhysAddr& e = table_[(v - base()) >> kPageShift];
    PhysAddr f = e;
    e = 0;
    return f;
  }
  PhysAddr translate(VirtAddr v) const override { return table_[(v - base()) >> kPageShift]; }

 private:
  char* window_;
  std::vector<PhysAddr> free_;
  std::vector<PhysAddr> table_;
};

/* --- On the HostMachine (memfd + mmap) -------------------------------------- */

void BM_Host_SbrkPlusMinus4096(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  auto& b = m.kernel_break();
  for (auto _ : state) {
    void* p = b.sbrk(4096);
    benchmark::DoNotOptimize(p);
    b.sbrk(-4096);
  }
}
BENCHMARK(BM_Host_SbrkPlusMinus4096);

void BM_Host_SbrkPlusMinus4096_Touch(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  auto& b = m.kernel_break();
  for (auto _ : state) {
    auto* p = static_cast<volatile char*>(b.sbrk(4096));
    p[0] = 1;  // plus the page fault that populates the new mapping
    b.sbrk(-4096);
  }
}
BENCHMARK(BM_Host_SbrkPlusMinus4096_Touch);

// At the top of the page heap: each pair grows and trims the break.
void BM_Host_AllocFreeRun1_Top(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  auto& h = m.page_heap();
  for (auto _ : state) {
    void* p = h.alloc_run(1, vm::RunOwner::Test, nullptr);
    benchmark::DoNotOptimize(p);
    h.free_run(p);
  }
}
BENCHMARK(BM_Host_AllocFreeRun1_Top);

// Below a live run: each pair reuses a free range (no break movement), still one map and one unmap.
void BM_Host_AllocFreeRun1_Reuse(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  auto& h = m.page_heap();
  void* hole = h.alloc_run(1, vm::RunOwner::Test, nullptr);
  void* keep = h.alloc_run(1, vm::RunOwner::Test, nullptr);
  h.free_run(hole);
  for (auto _ : state) {
    void* p = h.alloc_run(1, vm::RunOwner::Test, nullptr);
    benchmark::DoNotOptimize(p);
    h.free_run(p);
  }
  h.free_run(keep);
}
BENCHMARK(BM_Host_AllocFreeRun1_Reuse);

// The mapper alone: the two mmap calls every pair above makes.
void BM_Host_MapUnmapPage(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  PhysAddr f = m.alloc_frame();
  VirtAddr v = m.window_base() + m.window_bytes() - kPageSize;
  for (auto _ : state) {
    m.map_page(v, f);
    benchmark::DoNotOptimize(m.unmap_page(v));
  }
  m.free_frame(f);
}
BENCHMARK(BM_Host_MapUnmapPage);

// The frame source alone: the buddy allocator.
void BM_Host_BuddyAllocFreeFrame(benchmark::State& state) {
  host::HostMachine m;
  if (!m.create(bench_config())) return state.SkipWithError("HostMachine::create failed");
  for (auto _ : state) {
    PhysAddr f = m.alloc_frame();
    benchmark::DoNotOptimize(f);
    m.free_frame(f);
  }
}
BENCHMARK(BM_Host_BuddyAllocFreeFrame);

/* --- Over a table mapper (the lib/vm logic without syscalls) ----------------- */

void BM_Table_SbrkPlusMinus4096(benchmark::State& state) {
  TableMachine t(4096);
  vm::KernelBreak b;
  b.init(t.base(), t.limit(), &t, &t);
  for (auto _ : state) {
    void* p = b.sbrk(4096);
    benchmark::DoNotOptimize(p);
    b.sbrk(-4096);
  }
}
BENCHMARK(BM_Table_SbrkPlusMinus4096);

void BM_Table_AllocFreeRun1_Top(benchmark::State& state) {
  TableMachine t(4096);
  vm::KernelBreak b;
  b.init(t.base(), t.limit(), &t, &t);
  vm::PageHeap h;
  if (!h.init(&b)) return state.SkipWithError("PageHeap::init failed");
  for (auto _ : state) {
    void* p = h.alloc_run(1, vm::RunOwner::Test, nullptr);
    benchmark::DoNotOptimize(p);
    h.free_run(p);
  }
}
BENCHMARK(BM_Table_AllocFreeRun1_Top);

void BM_Table_AllocFreeRun1_Reuse(benchmark::State& state) {
  TableMachine t(4096);
  vm::KernelBreak b;
  b.init(t.base(), t.limit(), &t, &t);
  vm::PageHeap h;
  if (!h.init(&b)) return state.SkipWithError("PageHeap::init failed");
  void* hole = h.alloc_run(1, vm::RunOwner::Test, nullptr);
  h.alloc_run(1, vm::RunOwner::Test, nullptr);
  h.free_run(hole);
  for (auto _ : state) {
    void* p = h.alloc_run(1, vm::RunOwner::Test, nullptr);
    benchmark::DoNotOptimize(p);
    h.free_run(p);
  }
}
BENCHMARK(BM_Table_AllocFreeRun1_Reuse);

// First fit with many free ranges below: the cost of walking the free list.
void BM_Table_AllocFreeRun_ManyRanges(benchmark::State& state) {
  TableMachine t(4096);
  vm::KernelBreak b;
  b.init(t.base(), t.limit(), &t, &t);
  vm::PageHeap h;
  if (!h.init(&b)) return state.SkipWithError("PageHeap::init failed");
  std::vector<void*> runs;
  for (int64_t i = 0; i < 2 * state.range(0); ++i) runs.push_back(h.alloc_run(1, vm::RunOwner::Test, nullptr));
  for (size_t i = 0; i < runs.size(); i += 2) h.free_run(runs[i]);  // range(0) one-page holes
  for (auto _ : state) {
    void* p = h.alloc_run(2, vm::RunOwner::Test, nullptr);  // fits no hole: walks them all, grows at the top
    benchmark::DoNotOptimize(p);
    h.free_run(p);
  }
}
BENCHMARK(BM_Table_AllocFreeRun_ManyRanges)->Arg(1)->Arg(64)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
