// bench/workloads/workload.cpp — allocator workloads for tools/bench-malloc.sh.
//
// A plain program that calls malloc/free/realloc: the allocator under test
// comes by LD_PRELOAD (glibc when none). One workload per run, so each run's
// peak RSS is that workload's:
//   workload NAME [SCALE]     NAME: lifo churn million realloc threads2 prodcons
// prints one line:
//   NAME ops=N ns_per_op=X maxrss_kb=R checksum=C
// Time is wall-clock over the measured loop only (set-up excluded); an "op" is
// one allocation together with its free (realloc: one realloc call). The
// checksum depends only on the workload, not on the allocator (it sums values
// written into the blocks and read back before they are freed), so a run
// under any allocator can be checked against glibc's.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/resource.h>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Rng {  // xorshift64*: the same sequence everywhere
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// WORKLOAD_LAYOUT_SHIFT (bytes, a multiple of 16): every workload function
// starts on a cache line and runs that many bytes of nops first, so its loop
// sits that much further on (tools/bench-malloc.sh averages over four shifts:
// code layout alone moves the shortest workloads by up to ~15%).
#ifndef WORKLOAD_LAYOUT_SHIFT
#define WORKLOAD_LAYOUT_SHIFT 0
#endif
#define WORKLOAD_STR2(x) #x
#define WORKLOAD_STR(x) WORKLOAD_STR2(x)
#define WORKLOAD_FN __attribute__((aligned(64), noinline))
#if WORKLOAD_LAYOUT_SHIFT > 0
#define LAYOUT_SHIFT() asm volatile(".skip " WORKLOAD_STR(WORKLOAD_LAYOUT_SHIFT) ", 0x90")
#else
#define LAYOUT_SHIFT() ((void)0)
#endif

// Each block starts with its own size (>= 8 bytes); the checksum adds it back on free.
inline void* make(size_t size, uint64_t tag) {
  auto* p = static_cast<uint64_t*>(malloc(size));
  if (!p) {
    fprintf(stderr, "workload: malloc(%zu) failed\n", size);
    exit(2);
  }
  asm volatile("" : : "r"(p) : "memory");  // the block escapes: no malloc/free pair elision
  p[0] = tag;
  static_cast<char*>(static_cast<void*>(p))[size - 1] = static_cast<char>(tag);
  return p;
}
inline uint64_t unmake(void* p, size_t size) {
  uint64_t v = *static_cast<uint64_t*>(p) + static_cast<unsigned char>(static_cast<char*>(p)[size - 1]);
  free(p);
  return v;
}

struct Result {
  size_t ops;
  double seconds;
  uint64_t checksum;
};

// Fixed-size LIFO pairs: malloc(64) then free it, again and again (plus a few
// live objects so the allocator is not trivially empty).
WORKLOAD_FN Result lifo(size_t scale) {
  LAYOUT_SHIFT();
  size_t n = 20'000'000 * scale / 4;
  void* keep[16];
  for (int i = 0; i < 16; ++i) keep[i] = make(64, i);
  uint64_t sum = 0;
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    void* p = make(64, i);
    sum += unmake(p, 64);
  }
  auto t1 = Clock::now();
  for (int i = 0; i < 16; ++i) sum += unmake(keep[i], 64);
  return {n, std::chrono::duration<double>(t1 - t0).count(), sum};
}

// Random sizes 16..1024, 100k live objects, each op replaces a random one.
WORKLOAD_FN Result churn(size_t scale) {
  LAYOUT_SHIFT();
  constexpr size_t kLive = 100'000;
  size_t n = 10'000'000 * scale / 4;
  Rng rng(1);
  auto* slot = static_cast<void**>(calloc(kLive, sizeof(void*)));
  auto* size = static_cast<uint32_t*>(calloc(kLive, sizeof(uint32_t)));
  uint64_t sum = 0;
  for (size_t i = 0; i < kLive; ++i) {
    size[i] = static_cast<uint32_t>(16 + rng.below(1009));
    slot[i] = make(size[i], i);
  }
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    size_t k = rng.below(kLive);
    sum += unmake(slot[k], size[k]);
    size[k] = static_cast<uint32_t>(16 + rng.below(1009));
    slot[k] = make(size[k], i);
  }
  auto t1 = Clock::now();
  for (size_t i = 0; i < kLive; ++i) sum += unmake(slot[i], size[i]);
  free(slot);
  free(size);
  return {n, std::chrono::duration<double>(t1 - t0).count(), sum};
}

// Allocate a million objects (16..256 bytes), then free them all; three times.
WORKLOAD_FN Result million(size_t scale) {
  LAYOUT_SHIFT();
  constexpr size_t kCount = 1'000'000;
  size_t rounds = 3 * scale / 4 + 1;
  auto* slot = static_cast<void**>(malloc(kCount * sizeof(void*)));
  auto* size = static_cast<uint16_t*>(malloc(kCount * sizeof(uint16_t)));
  Rng rng(2);
  for (size_t i = 0; i < kCount; ++i) size[i] = static_cast<uint16_t>(16 + rng.below(241));
  uint64_t sum = 0;
  auto t0 = Clock::now();
  for (size_t r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < kCount; ++i) slot[i] = make(size[i], i + r);
    for (size_t i = 0; i < kCount; ++i) sum += unmake(slot[i], size[i]);
  }
  auto t1 = Clock::now();
  free(slot);
  free(size);
  return {rounds * kCount, std::chrono::duration<double>(t1 - t0).count(), sum};
}

// Buffers growing by realloc from 16 bytes to 1 MiB (x1.25 + 16 each step),
// 16 of them at once, touched at the end after every step (like a vector or
// a string builder).
WORKLOAD_FN Result realloc_growth(size_t scale) {
  LAYOUT_SHIFT();
  constexpr size_t kBuffers = 16;
  constexpr size_t kMax = size_t{1} << 20;
  size_t rounds = 40 * scale / 4;
  void* buf[kBuffers] = {};
  size_t cur[kBuffers] = {};
  size_t ops = 0;
  uint64_t sum = 0;
  auto t0 = Clock::now();
  for (size_t r = 0; r < rounds; ++r) {
    for (size_t b = 0; b < kBuffers; ++b) cur[b] = 16, buf[b] = make(16, b);
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t b = 0; b < kBuffers; ++b) {
        if (cur[b] >= kMax) continue;
        size_t next = cur[b] + cur[b] / 4 + 16 + b;
        void* q = realloc(buf[b], next);
        if (!q) {
          fprintf(stderr, "workload: realloc(%zu) failed\n", next);
          exit(2);
        }
        sum += *static_cast<uint64_t*>(q);
        static_cast<char*>(q)[next - 1] = 1;
        buf[b] = q, cur[b] = next, grew = true, ++ops;
      }
    }
    for (size_t b = 0; b < kBuffers; ++b) sum += unmake(buf[b], cur[b]);
  }
  auto t1 = Clock::now();
  return {ops, std::chrono::duration<double>(t1 - t0).count(), sum};
}

// Two threads, each with its own churn (sizes 16..512, 20k live objects).
WORKLOAD_FN Result threads2(size_t scale) {
  LAYOUT_SHIFT();
  size_t per_thread = 5'000'000 * scale / 4;
  std::atomic<uint64_t> total{0};
  auto body = [&](uint64_t seed) {
    constexpr size_t kLive = 20'000;
    Rng rng(seed);
    void** slot = static_cast<void**>(calloc(kLive, sizeof(void*)));
    uint32_t* size = static_cast<uint32_t*>(calloc(kLive, sizeof(uint32_t)));
    uint64_t sum = 0;
    for (size_t i = 0; i < kLive; ++i) size[i] = static_cast<uint32_t>(16 + rng.below(497)), slot[i] = make(size[i], i);
    for (size_t i = 0; i < per_thread; ++i) {
      size_t k = rng.below(kLive);
      sum += unmake(slot[k], size[k]);
      size[k] = static_cast<uint32_t>(16 + rng.below(497));
      slot[k] = make(size[k], i);
    }
    for (size_t i = 0; i < kLive; ++i) sum += unmake(slot[i], size[i]);
    free(slot);
    free(size);
    total += sum;
  };
  auto t0 = Clock::now();
  std::thread a(body, 11), b(body, 12);
  a.join();
  b.join();
  auto t1 = Clock::now();
  return {2 * per_thread, std::chrono::duration<double>(t1 - t0).count(), total.load()};
}

// Producer/consumer: one thread allocates (16..256 bytes) and passes the
// blocks through a single-producer single-consumer ring; the other frees them.
WORKLOAD_FN Result prodcons(size_t scale) {
  LAYOUT_SHIFT();
  size_t n = 5'000'000 * scale / 4;
  constexpr size_t kRing = 4096;
  struct Item {
    void* p;
    size_t size;
  };
  auto* ring = static_cast<Item*>(calloc(kRing, sizeof(Item)));
  alignas(64) std::atomic<size_t> head{0};  // next to write (producer)
  alignas(64) std::atomic<size_t> tail{0};  // next to read (consumer)
  uint64_t sum = 0;
  auto t0 = Clock::now();
  std::thread consumer([&] {
    for (size_t i = 0; i < n; ++i) {
      while (tail.load(std::memory_order_relaxed) == head.load(std::memory_order_acquire)) std::this_thread::yield();
      Item it = ring[i % kRing];
      tail.store(i + 1, std::memory_order_release);
      sum += unmake(it.p, it.size);
    }
  });
  Rng rng(3);
  for (size_t i = 0; i < n; ++i) {
    size_t s = 16 + rng.below(241);
    void* p = make(s, i);
    while (i - tail.load(std::memory_order_acquire) >= kRing) std::this_thread::yield();
    ring[i % kRing] = Item{p, s};
    head.store(i + 1, std::memory_order_release);
  }
  consumer.join();
  auto t1 = Clock::now();
  free(ring);
  return {n, std::chrono::duration<double>(t1 - t0).count(), sum};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: workload lifo|churn|million|realloc|threads2|prodcons [SCALE=4]\n");
    return 2;
  }
  size_t scale = argc > 2 ? strtoul(argv[2], nullptr, 10) : 4;
  if (scale == 0) scale = 1;
  const char* w = argv[1];
  Result r;
  if (!strcmp(w, "lifo")) r = lifo(scale);
  else if (!strcmp(w, "churn")) r = churn(scale);
  else if (!strcmp(w, "million")) r = million(scale);
  else if (!strcmp(w, "realloc")) r = realloc_growth(scale);
  else if (!strcmp(w, "threads2")) r = threads2(scale);
  else if (!strcmp(w, "prodcons")) r = prodcons(scale);
  else {
    fprintf(stderr, "workload: unknown workload '%s'\n", w);
    return 2;
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%s ops=%zu ns_per_op=%.2f maxrss_kb=%ld checksum=%llu\n", w, r.ops, r.seconds * 1e9 / static_cast<double>(r.ops),
         ru.ru_maxrss, static_cast<unsigned long long>(r.checksum));
  return 0;
}
