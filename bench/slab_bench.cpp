// bench-libs: -lmimalloc
// bench/slab_bench.cpp — kmalloc/kfree side by side with mimalloc (mi_malloc /
// mi_free, Debian's libmimalloc-dev) and glibc (libc.so.6's own malloc /
// free, see Glibc below), in one binary.
//
//   lifo64   one 64-byte allocation and its free, repeated (the fast path;
//            for kheap: pop + push on the cpu slab, with kfree's checks)
//   churn    ~100k live objects of 8..512 bytes; each step frees a random
//            live one and allocates a new random size in its place
//
// Times are per pair (items_per_second is pairs/s). Unless given, the binary
// adds --benchmark_repetitions=9 --benchmark_report_aggregates_only=true
// --benchmark_enable_random_interleaving=true and
// prints, at the end, the median time per pair and the ratios
// (kheap / mimalloc, glibc / kheap). For churn it also prints the memory
// target: pages kheap holds at the end of the run vs the bytes live then.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <mimalloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/report.h"
#include "host/host_machine.h"
#include "slab/cache_internal.h"
#include "slab/slab.h"

using namespace kheap;

namespace {

host::HostMachine* g_machine;

void ensure_machine() {
  if (g_machine) return;
  g_machine = new host::HostMachine;
  host::HostMachineConfig config;
  config.ram_bytes = size_t{512} << 20;
  config.window_bytes = size_t{2} << 30;
  if (!g_machine->create(config) || !slab_init(&g_machine->page_heap())) {
    std::fprintf(stderr, "slab_bench: cannot bring up a HostMachine\n");
    std::exit(1);
  }
}

// collect(): give cached free memory back before a benchmark starts, so that
// each starts from the same state whatever ran before it (the repetitions
// run interleaved, see main): after a churn, kheap's 64-byte magazines held
// objects scattered over dozens of slabs, and lifo64 cycling through them
// took 10-20% longer than from a fresh slab.
struct Kheap {
  static void* alloc(size_t n) { return kmalloc(n); }
  static void release(void* p) { kfree(p); }
  static void collect() { slab_shrink_all(); }
};
struct Mimalloc {
  static void* alloc(size_t n) { return mi_malloc(n); }
  static void release(void* p) { mi_free(p); }
  static void collect() { mi_collect(true); }
};
// Debian's libmimalloc.so interposes malloc and free in this binary — and
// __libc_malloc/__libc_free too (until 2026-12 this column called those, and
// so measured mimalloc a second time). glibc's own entry points are looked up
// in libc.so.6 itself, and main() checks that they really live there.
struct Glibc {
  using MallocFn = void* (*)(size_t);
  using FreeFn = void (*)(void*);
  using TrimFn = int (*)(size_t);
  static inline MallocFn malloc_fn = nullptr;
  static inline FreeFn free_fn = nullptr;
  static inline TrimFn trim_fn = nullptr;
  static void* alloc(size_t n) { return malloc_fn(n); }
  static void release(void* p) { free_fn(p); }
  static void collect() { trim_fn(0); }
};

// Resolve Glibc's entry points; false (with the reason) unless all three come
// from libc.so.6, not from libmimalloc.
bool resolve_glibc() {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (!libc) {
    std::fprintf(stderr, "slab_bench: libc.so.6 is not loaded: %s\n", dlerror());
    return false;
  }
  Glibc::malloc_fn = reinterpret_cast<Glibc::MallocFn>(dlsym(libc, "malloc"));
  Glibc::free_fn = reinterpret_cast<Glibc::FreeFn>(dlsym(libc, "free"));
  Glibc::trim_fn = reinterpret_cast<Glibc::TrimFn>(dlsym(libc, "malloc_trim"));
  for (void* fn : {reinterpret_cast<void*>(Glibc::malloc_fn), reinterpret_cast<void*>(Glibc::free_fn),
                   reinterpret_cast<void*>(Glibc::trim_fn)}) {
    Dl_info info{};
    if (!fn || !dladdr(fn, &info) || !info.dli_fname || !std::strstr(info.dli_fname, "libc.so")) {
      std::fprintf(stderr, "slab_bench: glibc's malloc/free/malloc_trim resolve to %s, not libc.so.6\n",
                   fn && info.dli_fname ? info.dli_fname : "nothing");
      return false;
    }
  }
  return true;
}

template <typename A>
void BM_lifo64(benchmark::State& state) {
  ensure_machine();
  A::collect();
  size_t size = 64;
  benchmark::DoNotOptimize(size);
  void* keep = A::alloc(size);  // the slab / page stays in use, as in a running system
  for (auto _ : state) {
    void* p = A::alloc(size);
    benchmark::DoNotOptimize(p);
    A::release(p);
  }
  A::release(keep);
  state.SetItemsProcessed(state.iterations());
}

constexpr size_t kLive = 100000;
constexpr size_t kSteps = 1 << 20;  // precomputed random steps, reused cyclically

struct ChurnPlan {
  std::vector<uint32_t> slot;
  std::vector<uint16_t> size;
  std::vector<uint16_t> initial;
  ChurnPlan() : slot(kSteps), size(kSteps), initial(kLive) {
    std::mt19937 rng(42);
    for (auto& s : initial) s = static_cast<uint16_t>(8 + rng() % 505);
    for (size_t i = 0; i < kSteps; ++i) {
      slot[i] = static_cast<uint32_t>(rng() % kLive);
      size[i] = static_cast<uint16_t>(8 + rng() % 505);
    }
  }
};
const ChurnPlan& plan() {
  static ChurnPlan p;
  return p;
}

struct ChurnMemory {
  size_t live_bytes = 0;
  size_t pages = 0;
  bool measured = false;
} g_churn_memory;

template <typename A>
void BM_churn(benchmark::State& state) {
  ensure_machine();
  A::collect();
  const ChurnPlan& pl = plan();
  std::vector<void*> live(kLive);
  std::vector<uint16_t> live_size(pl.initial);
  for (size_t i = 0; i < kLive; ++i) live[i] = A::alloc(pl.initial[i]);
  size_t step = 0;
  for (auto _ : state) {
    uint32_t s = pl.slot[step];
    A::release(live[s]);
    live[s] = A::alloc(pl.size[step]);
    live_size[s] = pl.size[step];
    benchmark::DoNotOptimize(live[s]);
    step = (step + 1) & (kSteps - 1);
  }
  if constexpr (std::is_same_v<A, Kheap>) {
    size_t bytes = 0;
    for (uint16_t n : live_size) bytes += n;
    g_churn_memory.live_bytes = bytes;
    g_churn_memory.pages = g_machine->page_heap().stats().pages_in_use;
    g_churn_memory.measured = true;
  }
  for (void* p : live) A::release(p);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_TEMPLATE(BM_lifo64, Kheap)->Name("lifo64/kheap");
BENCHMARK_TEMPLATE(BM_lifo64, Mimalloc)->Name("lifo64/mimalloc");
BENCHMARK_TEMPLATE(BM_lifo64, Glibc)->Name("lifo64/glibc");
BENCHMARK_TEMPLATE(BM_churn, Kheap)->Name("churn/kheap");
BENCHMARK_TEMPLATE(BM_churn, Mimalloc)->Name("churn/mimalloc");
BENCHMARK_TEMPLATE(BM_churn, Glibc)->Name("churn/glibc");

// Console output as usual, plus the medians kept for the ratio table.
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.aggregate_name == "median" || (r.aggregate_name.empty() && !medians_.count(r.run_name.str())))
        medians_[r.run_name.str()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
  double ns(const std::string& name) const {
    auto it = medians_.find(name);
    return it == medians_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  if (!resolve_glibc()) return 1;
  std::vector<char*> args(argv, argv + argc);
  bool has_reps = false, has_interleaving = false;
  for (int i = 1; i < argc; ++i) {
    has_reps |= std::strncmp(argv[i], "--benchmark_repetitions", 23) == 0;
    has_interleaving |= std::strncmp(argv[i], "--benchmark_enable_random_interleaving", 38) == 0;
  }
  static char reps[] = "--benchmark_repetitions=9";
  static char aggr[] = "--benchmark_report_aggregates_only=true";
  // The repetitions of all six benchmarks in random order, not all of kheap's,
  // then all of mimalloc's, then glibc's: on a VM whose speed drifts by 20-30%
  // over tens of seconds, back-to-back blocks put the drift into the ratios.
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!has_reps) {
    args.push_back(reps);
    args.push_back(aggr);
  }
  if (!has_interleaving) args.push_back(interleave);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\nmedian ns per pair     kheap  mimalloc     glibc   kheap/mimalloc  glibc/kheap\n");
  for (const char* w : {"lifo64", "churn"}) {
    std::string base(w);
    double k = reporter.ns(base + "/kheap"), mi = reporter.ns(base + "/mimalloc"), gl = reporter.ns(base + "/glibc");
    if (k == 0) continue;
    std::printf("%-18s %9.2f %9.2f %9.2f %16.2f %12.2f\n", w, k, mi, gl, mi ? k / mi : 0.0, gl / k);
  }
  if (g_churn_memory.measured) {
    size_t one_slab_per_class = 0;
    for (size_t i = 0; i < slab::kNumClasses; ++i) {
      CacheStats st;
      KmemCache* c = find_cache(("kmalloc-" + std::to_string(slab::kClassSizes[i])).c_str());
      for (size_t j = 0; j < cache_count(); ++j)
        if (cache_stats(j, &st) && c && std::string(st.name) == kmem_cache_name(c))
          one_slab_per_class += st.pages_per_slab * kPageSize;
    }
    double held = static_cast<double>(g_churn_memory.pages * kPageSize);
    std::printf("churn memory: %zu pages held (%.1f MiB) for %.1f MiB live: %.3fx; target: <= 1.15 x live + one "
                "slab per class (%.2f MiB) = %.1f MiB -> %s\n",
                g_churn_memory.pages, held / 1048576.0, g_churn_memory.live_bytes / 1048576.0,
                held / static_cast<double>(g_churn_memory.live_bytes), one_slab_per_class / 1048576.0,
                (1.15 * g_churn_memory.live_bytes + one_slab_per_class) / 1048576.0,
                held <= 1.15 * g_churn_memory.live_bytes + one_slab_per_class ? "met" : "NOT met");
  }
  return 0;
}
