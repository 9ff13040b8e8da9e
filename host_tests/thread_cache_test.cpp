// host_tests/thread_cache_test.cpp — kmalloc/kfree from several threads at
// once over one HostMachine: the per-thread caches (lib/slab/thread_cache.h)
// and the slab lock behind them. Private churn per thread and producer /
// consumer pairs (objects freed by another thread than the one that
// allocated them), with every object tagged and checked; no two live objects
// overlap; double frees across caches, threads and drains are reported; a
// thread's exit gives its cache back; everything freed returns the page heap
// and the frames to where they started; the Win32-style heaps of two threads
// at once share the layers below safely.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/report.h"
#include "heap/win32_heap.h"
#include "host/host_machine.h"
#include "slab/cache_internal.h"
#include "slab/slab.h"
#include "slab/thread_cache.h"

using namespace kheap;

namespace {

class ThreadCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::HostMachineConfig config;
    config.ram_bytes = size_t{256} << 20;
    ASSERT_TRUE(m.create(config));
    ASSERT_TRUE(slab_init(&m.page_heap()));
    set_report_echo(false);
    reset_reports();
    m.page_heap().free_run(m.page_heap().alloc_run(1, vm::RunOwner::Test, nullptr));
    base_frames = m.free_frame_count();
    base_pages = m.page_heap().stats().pages_in_use;
  }
  void TearDown() override {
    EXPECT_TRUE(slab_check());
    set_report_echo(true);
  }
  // slab_check holds; free every object of `sets`; nothing was reported;
  // the page heap and the frames are back where they started.
  void free_all_and_expect_clean(std::initializer_list<std::vector<void*>*> sets) {
    EXPECT_TRUE(slab_check());
    for (std::vector<void*>* v : sets)
      for (void* p : *v) kfree(p);
    EXPECT_EQ(report_count(), 0u) << last_report().text;
    expect_back_to_base();
  }
  void expect_back_to_base() {
    slab_shrink_all();
    EXPECT_EQ(m.page_heap().stats().pages_in_use, base_pages);
    EXPECT_EQ(m.free_frame_count(), base_frames);
    EXPECT_TRUE(m.page_heap().check());
  }
  host::HostMachine m;
  size_t base_frames = 0;
  size_t base_pages = 0;
};

// Fill an object with a pattern derived from its owner tag; check it later.
void tag(void* p, size_t n, uint32_t t) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(t * 31 + i);
}
bool tag_ok(const void* p, size_t n, uint32_t t) {
  auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<uint8_t>(t * 31 + i)) return false;
  return true;
}

size_t live_kmalloc_objects() {
  size_t n = 0;
  for (size_t i = 0; i < cache_count(); ++i) {
    CacheStats st;
    if (cache_stats(i, &st) && std::string(st.name).rfind("kmalloc-", 0) == 0) n += st.active_objects;
  }
  return n;
}

// Free v[1..] so that `victim` ends up back in its slab, not in a magazine:
// kfree fills the class's alloc magazine first, and what lands there stays
// until it is handed out again. So victim goes only after kMagazineMax other
// frees (the alloc magazine is full by then) onto the freed magazine, and the
// frees after it overflow that one to the slabs many times over. v[0] stays
// allocated (it keeps the slab).
void free_all_but_first_so_that_victim_drains(const std::vector<void*>& v, void* victim) {
  std::vector<void*> order;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] != victim) order.push_back(v[i]);
  ASSERT_GT(order.size(), 4 * slab::kMagazineMax);
  order.insert(order.begin() + slab::kMagazineMax, victim);
  for (void* p : order) kfree(p);
}

// Each thread: its own live set, random sizes up to 3000 bytes (some large
// blocks), every object tagged; frees and allocations interleaved.
TEST_F(ThreadCacheTest, PrivateChurnInFourThreadsKeepsEveryObjectIntact) {
  constexpr int kThreads = 4, kSteps = 60000;
  std::atomic<int> bad{0};
  auto worker = [&](int id) {
    std::mt19937 rng(id * 7919 + 1);
    struct Obj {
      void* p;
      size_t n;
      uint32_t t;
    };
    std::vector<Obj> live;
    uint32_t next_tag = static_cast<uint32_t>(id) << 24;
    for (int step = 0; step < kSteps; ++step) {
      if (!live.empty() && (live.size() > 2000 || rng() % 2)) {
        size_t k = rng() % live.size();
        if (!tag_ok(live[k].p, live[k].n, live[k].t)) ++bad;
        kfree(live[k].p);
        live[k] = live.back();
        live.pop_back();
      } else {
        size_t n = rng() % 8 == 0 ? 9000 + rng() % 20000 : 1 + rng() % 3000;
        void* p = kmalloc(n);
        if (!p) {
          ++bad;
          continue;
        }
        tag(p, n, ++next_tag);
        live.push_back({p, n, next_tag});
      }
    }
    for (auto& o : live) {
      if (!tag_ok(o.p, o.n, o.t)) ++bad;
      kfree(o.p);
    }
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) ts.emplace_back(worker, i);
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  // The threads have exited: their caches went back (nothing cached, nothing live).
  EXPECT_EQ(live_kmalloc_objects(), 0u);
  EXPECT_TRUE(slab_check());
  expect_back_to_base();
}

// One thread allocates, another frees everything (every free is of an object
// from another thread's cache); the consumer checks the tag first.
TEST_F(ThreadCacheTest, ProducerConsumerFreesWhatAnotherThreadAllocated) {
  constexpr int kItems = 200000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<void*, uint32_t>> queue;
  bool done = false;
  std::atomic<int> bad{0};
  std::thread producer([&] {
    std::mt19937 rng(5);
    for (int i = 0; i < kItems; ++i) {
      size_t n = 16 + rng() % 500;
      void* p = kmalloc(n);
      if (!p) {
        ++bad;
        continue;
      }
      tag(p, 16, static_cast<uint32_t>(i));
      std::lock_guard<std::mutex> g(mu);
      queue.emplace_back(p, i);
      if (queue.size() % 64 == 0) cv.notify_one();
    }
    std::lock_guard<std::mutex> g(mu);
    done = true;
    cv.notify_one();
  });
  std::thread consumer([&] {
    for (;;) {
      std::unique_lock<std::mutex> g(mu);
      cv.wait(g, [&] { return !queue.empty() || done; });
      if (queue.empty() && done) return;
      auto [p, t] = queue.front();
      queue.pop_front();
      g.unlock();
      if (!tag_ok(p, 16, t)) ++bad;
      kfree(p);
    }
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  EXPECT_EQ(live_kmalloc_objects(), 0u);
  expect_back_to_base();
}

// Live objects of all threads at one moment never overlap.
TEST_F(ThreadCacheTest, LiveObjectsOfAllThreadsNeverOverlap) {
  constexpr int kThreads = 3;
  std::vector<std::vector<std::pair<uintptr_t, size_t>>> sets(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (int id = 0; id < kThreads; ++id)
    ts.emplace_back([&, id] {
      std::mt19937 rng(id + 11);
      std::vector<std::pair<void*, size_t>> live;
      for (int i = 0; i < 20000; ++i) {
        size_t n = 8 + rng() % 700;
        live.emplace_back(kmalloc(n), n);
        if (rng() % 3 == 0) {  // free a random one (churn through the magazines)
          size_t k = rng() % live.size();
          kfree(live[k].first);
          live[k] = live.back();
          live.pop_back();
        }
      }
      for (auto& [p, n] : live) sets[id].emplace_back(reinterpret_cast<uintptr_t>(p), n);
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();  // all sets complete before anyone frees
    });
  for (auto& t : ts) t.join();
  std::map<uintptr_t, size_t> all;
  for (auto& s : sets)
    for (auto& [a, n] : s) {
      ASSERT_NE(a, 0u);
      ASSERT_TRUE(all.emplace(a, n).second) << "handed out twice: " << a;
    }
  uintptr_t end = 0;
  for (auto& [a, n] : all) {
    ASSERT_GE(a, end) << "overlap at " << a;
    end = a + n;
  }
  for (auto& [a, n] : all) kfree(reinterpret_cast<void*>(a));
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  expect_back_to_base();
}

// Private slabs (cache_internal.h): threads churning at the same time, each
// freeing only its own objects, never get objects of one slab — so no cache
// line or page of theirs is written by two threads. Checked while all of
// them are still alive (their slabs are still theirs), with slab_check.
TEST_F(ThreadCacheTest, ThreadsChurningAtOnceNeverShareASlab) {
  constexpr int kThreads = 3;
  std::vector<std::vector<void*>> sets(kThreads);
  std::atomic<int> started{0}, filled{0}, checked{0};
  std::vector<std::thread> ts;
  for (int id = 0; id < kThreads; ++id)
    ts.emplace_back([&, id] {
      ++started;
      while (started.load() < kThreads) std::this_thread::yield();  // churn at the same time
      std::mt19937 rng(id + 101);
      std::vector<void*>& live = sets[id];
      for (int i = 0; i < 40000; ++i) {
        if (live.size() >= 3000 || (!live.empty() && rng() % 3 == 0)) {  // frees drain to the slabs and refills take partial ones
          size_t k = rng() % live.size();
          kfree(live[k]);
          live[k] = live.back();
          live.pop_back();
        } else {
          live.push_back(kmalloc(8 + rng() % 1000));
        }
      }
      ++filled;
      while (checked.load() == 0) std::this_thread::yield();
      for (void* p : live) kfree(p);
    });
  while (filled.load() < kThreads) std::this_thread::yield();
  std::map<const void*, int> slab_owner;  // SlabPage -> thread
  size_t objects = 0;
  for (int id = 0; id < kThreads; ++id)
    for (void* p : sets[id]) {
      ASSERT_NE(p, nullptr);
      const slab::SlabPage* s = slab::slab_page_of(p);
      ASSERT_NE(s, nullptr);
      auto [it, fresh] = slab_owner.emplace(s, id);
      EXPECT_EQ(it->second, id) << "slab " << s << " (" << s->cache->name << ") holds objects of threads " << it->second
                                << " and " << id;
      ++objects;
    }
  EXPECT_GT(objects, size_t{kThreads} * 1000);
  EXPECT_TRUE(slab_check());  // (private slabs: each a thread cache's, counted by its cache)
  checked = 1;
  for (auto& t : ts) t.join();
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  EXPECT_EQ(live_kmalloc_objects(), 0u);
  expect_back_to_base();
}

// A thread that makes its thread cache and waits, alive, until destroyed.
// Made right after another thread exited, its cache takes the memory the
// exited thread's had: a slab's home is the cache's serial, never reused,
// not its address, so that must not make the exited thread's slabs its own.
class IdleThreadCache {
 public:
  IdleThreadCache() {
    while (state_.load() != 1) std::this_thread::yield();
  }
  ~IdleThreadCache() {
    state_ = 2;
    thread_.join();
  }

 private:
  std::atomic<int> state_{0};
  std::thread thread_{[this] {
    kfree(kmalloc(16));
    state_ = 1;
    while (state_.load() != 2) std::this_thread::yield();
  }};
};

// A new thread makes its cache, then allocates n 64-byte objects into *got:
// the pages that took beyond the cache's own.
size_t new_pages_for_64_byte_objects(host::HostMachine& m, int n, std::vector<void*>* got) {
  size_t before = 0, after = 0;
  std::thread b([&] {
    kfree(kmalloc(16));  // (b's thread cache, from new pages)
    before = m.page_heap().stats().pages_in_use;
    for (int i = 0; i < n; ++i) got->push_back(kmalloc(64));
    after = m.page_heap().stats().pages_in_use;
  });
  b.join();
  return after - before;
}

// A thread's partial slabs become nobody's when it exits, and the next
// thread refills from them before it makes new slabs.
TEST_F(ThreadCacheTest, AnExitedThreadsPartialSlabsAreReusedByTheNext) {
  std::vector<void*> kept;
  std::thread a([&] {
    std::vector<void*> v;
    for (int i = 0; i < 4000; ++i) v.push_back(kmalloc(64));
    for (size_t i = 0; i < v.size(); ++i) (i % 4 ? kfree(v[i]) : kept.push_back(v[i]));  // a quarter stays live
  });
  a.join();
  std::vector<void*> got;
  {
    IdleThreadCache c;  // (with a's cache's memory)
    // 2500 fit in the 3000 free slots a left behind.
    EXPECT_EQ(new_pages_for_64_byte_objects(m, 2500, &got), 0u) << "thread b made new slabs instead of taking a's";
  }
  free_all_and_expect_clean({&got, &kept});
}

// The same when a's objects are freed only after a exited (by another
// thread): a's slabs were full then and kept a's serial as their home, which
// no live thread cache has: b takes them as nobody's rather than making new
// slabs (found by review: b made 38 new pages).
TEST_F(ThreadCacheTest, SlabsOfAnExitedThreadFreedLaterAreReusedToo) {
  std::vector<void*> objs;
  std::thread a([&] {
    for (int i = 0; i < 4000; ++i) objs.push_back(kmalloc(64));  // all live when a exits
  });
  a.join();
  std::vector<void*> kept, got;
  {
    IdleThreadCache c;  // (with a's cache's memory)
    for (size_t i = 0; i < objs.size(); ++i) (i % 4 ? kfree(objs[i]) : kept.push_back(objs[i]));  // 3000 free slots
    EXPECT_LE(new_pages_for_64_byte_objects(m, 2500, &got), 2u) << "thread b made new slabs instead of taking a's";
  }
  free_all_and_expect_clean({&got, &kept});
}

// An idle, live thread's partial slabs at the front of the partial list do
// not hide a busy thread's own: the refill's scan moves the ones it passes
// over to the back. Without that, every refill of the busy thread made a new
// slab and its pages grew round after round (found by review).
TEST_F(ThreadCacheTest, AnIdleThreadsPartialSlabsDoNotHideAnotherThreadsOwn) {
  std::atomic<int> idle_state{0};
  std::thread idle([&] {
    std::vector<void*> v;
    for (int i = 0; i < 64 * 40; ++i) v.push_back(kmalloc(64));  // 40 slabs of kmalloc-64
    for (size_t i = 0; i < v.size(); i += 2) kfree(v[i]);          // half back: partial, home = this thread
    idle_state = 1;
    while (idle_state.load() != 2) std::this_thread::yield();
    for (size_t i = 1; i < v.size(); i += 2) kfree(v[i]);
  });
  while (idle_state.load() != 1) std::this_thread::yield();
  const size_t pages_before = m.page_heap().stats().pages_in_use;
  std::thread busy([&] {
    std::mt19937 rng(5);
    std::vector<void*> live;
    for (int round = 0; round < 40; ++round) {
      for (int i = 0; i < 20000; ++i) {
        if (live.size() >= 3000 || (!live.empty() && rng() % 2)) {
          size_t k = rng() % live.size();
          kfree(live[k]);
          live[k] = live.back();
          live.pop_back();
        } else {
          live.push_back(kmalloc(64));
        }
      }
    }
    // At most 3000 live objects of 64 bytes: 47 pages of slabs, plus the
    // partial ones a random churn leaves. 35 pages more here; 71 when the
    // refill's scan neither moved the idle thread's slabs back nor looked
    // further before making a new slab.
    size_t grown = m.page_heap().stats().pages_in_use - pages_before;
    EXPECT_LE(grown, size_t{50}) << "the busy thread keeps making new slabs";
    for (void* p : live) kfree(p);
  });
  busy.join();
  EXPECT_TRUE(slab_check());
  idle_state = 2;
  idle.join();
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  expect_back_to_base();
}

TEST_F(ThreadCacheTest, DoubleFreeOfAnObjectInThisThreadsMagazineIsReported) {
  void* keep = kmalloc(48);
  void* p = kmalloc(48);
  kfree(p);
  kfree(p);
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  EXPECT_NE(std::string(last_report().text).find("kmalloc-48"), std::string::npos) << last_report().text;
  EXPECT_NE(std::string(last_report().text).find("calling thread cache"), std::string::npos) << last_report().text;
  // Refused: the magazine holds p once; the next two kmallocs of the class differ.
  void* a = kmalloc(48);
  void* b = kmalloc(48);
  EXPECT_NE(a, b);
  kfree(a);
  kfree(b);
  kfree(keep);
  EXPECT_TRUE(slab_check());
  expect_back_to_base();
}

TEST_F(ThreadCacheTest, DoubleFreeAfterTheObjectWasDrainedToItsSlabIsReported) {
  std::vector<void*> many;
  for (int i = 0; i < 500; ++i) many.push_back(kmalloc(64));
  void* p = many[7];
  free_all_but_first_so_that_victim_drains(many, p);  // p goes through a magazine and back to its slab
  EXPECT_FALSE(slab::thread_cache_holding(p));
  EXPECT_EQ(describe_address(many[0]).allocated, true);  // (keeps p's slab alive)
  kfree(p);
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  EXPECT_NE(std::string(last_report().text).find("already free"), std::string::npos) << last_report().text;
  kfree(many[0]);
  expect_back_to_base();
}

TEST_F(ThreadCacheTest, DoubleFreeOfAnObjectInAnotherLiveThreadsMagazineIsReported) {
  void* p = kmalloc(200);
  std::mutex mu;
  std::condition_variable cv;
  int stage = 0;
  std::thread other([&] {
    kfree(p);  // into the other thread's magazine
    std::unique_lock<std::mutex> g(mu);
    stage = 1;
    cv.notify_all();
    cv.wait(g, [&] { return stage == 2; });  // stay alive while main frees p again
  });
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return stage == 1; });
  }
  kfree(p);
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  EXPECT_NE(std::string(last_report().text).find("other thread cache"), std::string::npos) << last_report().text;
  {
    std::lock_guard<std::mutex> g(mu);
    stage = 2;
    cv.notify_all();
  }
  other.join();
  EXPECT_TRUE(slab_check());
  expect_back_to_base();
}

TEST_F(ThreadCacheTest, ThreadExitGivesItsCacheBack) {
  const KmemCache* meta = find_cache("kmem_thread");
  ASSERT_NE(meta, nullptr);
  size_t before = kmem_cache_live_objects(meta);
  std::thread t([] {
    std::vector<void*> v;
    for (int i = 0; i < 1000; ++i) v.push_back(kmalloc(32 + i % 64));
    for (void* p : v) kfree(p);  // all of them end up in this thread's magazines or slabs
  });
  t.join();
  EXPECT_EQ(kmem_cache_live_objects(meta), before);  // the thread's cache object is gone
  EXPECT_EQ(live_kmalloc_objects(), 0u);            // and so are the objects it cached
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(ThreadCacheTest, AThreadWithoutCacheStillAllocatesAndFrees) {
  // After its exit callback ran, a thread's kmalloc/kfree go to the slabs.
  std::thread t([] {
    void* a = kmalloc(24);
    slab::thread_cache_release_mine();  // like the exit callback: the next miss makes a new one
    void* b = kmalloc(24);
    EXPECT_NE(a, b);
    kfree(a);
    kfree(b);
    kfree(b);  // still checked
  });
  t.join();
  EXPECT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  expect_back_to_base();
}

// Two threads, two Win32-style heaps, at once: the heaps' page-heap calls and
// the slab layer's share one lock.
TEST_F(ThreadCacheTest, TwoHeapsInTwoThreadsAtOnce) {
  using namespace kheap::win32;
  ASSERT_TRUE(heap_init());
  std::atomic<int> bad{0};
  auto worker = [&](int id) {
    HANDLE h = HeapCreate(0, 0, 0);
    if (!h) {
      ++bad;
      return;
    }
    std::mt19937 rng(id);
    std::vector<std::pair<void*, uint32_t>> live;
    for (int i = 0; i < 20000; ++i) {
      if (!live.empty() && rng() % 2) {
        auto [p, t] = live.back();
        live.pop_back();
        if (!tag_ok(p, 24, t) || !HeapFree(h, 0, p)) ++bad;
      } else {
        SIZE_T n = rng() % 4 == 0 ? 70000 : 24 + rng() % 900;
        void* p = HeapAlloc(h, 0, n);
        if (!p) {
          ++bad;
          continue;
        }
        tag(p, 24, static_cast<uint32_t>(i));
        live.emplace_back(p, i);
      }
    }
    if (!HeapValidate(h, 0, nullptr)) ++bad;
    if (!HeapDestroy(h)) ++bad;
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(report_count(), 0u) << last_report().text;
}

}  // namespace

namespace {

// Normal mode: a write into the first word of a freed kmalloc object (where
// free-list allocators keep their link, so where hijacks write) is reported
// when the object would be reused, and the object is never handed out.
TEST_F(ThreadCacheTest, UseAfterFreeWriteIntoTheFirstWordIsReportedAtReuse) {
  void* keep = kmalloc(64);
  void* p = kmalloc(64);
  kfree(p);
  static char target[64];
  *static_cast<void**>(p) = target;  // a "free-list hijack"
  // p waits on top of the alloc magazine: the next kmalloc(64) would reuse it.
  std::vector<void*> v;
  for (int i = 0; i < 200 && report_count() == 0; ++i) v.push_back(kmalloc(64));
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::UseAfterFreeWrite);
  std::string text = last_report().text;
  EXPECT_NE(text.find("use-after-free write"), std::string::npos) << text;
  EXPECT_NE(text.find("kmalloc-64"), std::string::npos) << text;
  EXPECT_NE(text.find("first bytes:"), std::string::npos) << text;
  // p is out of use: never handed out again, and no allocation is the target.
  for (int i = 0; i < 2000; ++i) v.push_back(kmalloc(64));
  for (void* x : v) {
    EXPECT_NE(x, p);
    EXPECT_NE(x, static_cast<void*>(target));
  }
  for (void* x : v) kfree(x);
  kfree(keep);
  EXPECT_EQ(report_count(), 1u);
  EXPECT_TRUE(slab_check());
}

// 400 kmalloc(96)s, all freed but the first (which keeps the slab) so that
// the sixth ends up free in its slab, not in a magazine; that one is returned.
void* a_96_byte_object_back_in_its_slab(std::vector<void*>* v) {
  for (int i = 0; i < 400; ++i) v->push_back(kmalloc(96));
  void* victim = (*v)[5];
  free_all_but_first_so_that_victim_drains(*v, victim);
  EXPECT_FALSE(slab::thread_cache_holding(victim));
  return victim;
}

// 400 more kmalloc(96)s, which reach the victim's slab: the victim (written
// after its free) is never among them. Then everything goes, v[0] last.
void expect_refills_skip(void* victim, const std::vector<void*>& v) {
  std::vector<void*> w;
  for (int i = 0; i < 400; ++i) w.push_back(kmalloc(96));
  for (void* x : w) EXPECT_NE(x, victim);
  for (void* x : w) kfree(x);
  kfree(v[0]);
}

TEST_F(ThreadCacheTest, UseAfterFreeWriteIntoAnObjectBackInItsSlabIsReportedAtRefill) {
  std::vector<void*> v;
  void* victim = a_96_byte_object_back_in_its_slab(&v);
  std::memset(victim, 0x41, 8);
  expect_refills_skip(victim, v);
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::UseAfterFreeWrite);
  EXPECT_NE(std::string(last_report().text).find("41 41 41 41"), std::string::npos) << last_report().text;
  EXPECT_TRUE(slab_check());
}

// The drop-in malloc's exit check looks at the free objects in the slabs too
// (slab_free_marks_check): a write into one is reported there, before any
// refill reaches it, and the slab is left as it was — the refill still
// reports it and keeps it out of use.
TEST_F(ThreadCacheTest, WriteIntoAFreeObjectInItsSlabIsFoundByTheFreeObjectCheck) {
  std::vector<void*> v;
  void* victim = a_96_byte_object_back_in_its_slab(&v);
  EXPECT_TRUE(slab_free_marks_check());
  EXPECT_EQ(report_count(), 0u);
  std::memset(victim, 0x41, 8);
  EXPECT_FALSE(slab_free_marks_check());
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::UseAfterFreeWrite);
  std::string text = last_report().text;
  EXPECT_NE(text.find("free-object check"), std::string::npos) << text;
  EXPECT_NE(text.find("41 41 41 41 41 41 41 41"), std::string::npos) << text;
  EXPECT_NE(text.find("kmalloc-96"), std::string::npos) << text;
  EXPECT_TRUE(slab_check());
  expect_refills_skip(victim, v);
  EXPECT_EQ(report_count(), 2u);  // and again by the refill, which takes it out of use
  EXPECT_TRUE(slab_check());
}

// The write is made while the object still waits in the thread's freed
// magazine, and the magazine is then drained to the slabs (as a thread's exit
// or malloc_trim does): the drain leaves the mark as it found it, so the
// write is still reported when the object next comes out of its slab.
TEST_F(ThreadCacheTest, UseAfterFreeWriteMadeInAMagazineSurvivesTheDrain) {
  void* keep = kmalloc(96);  // the slab stays
  void* victim = kmalloc(96);
  kfree(victim);
  ASSERT_TRUE(slab::thread_cache_holding(victim));
  std::memset(victim, 0x42, 8);
  slab_shrink_all();  // drains this thread's magazines (and gives its cache back)
  ASSERT_FALSE(slab::thread_cache_holding(victim));
  EXPECT_EQ(report_count(), 0u);
  std::vector<void*> w;
  for (int i = 0; i < 400 && report_count() == 0; ++i) w.push_back(kmalloc(96));
  ASSERT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::UseAfterFreeWrite);
  EXPECT_NE(std::string(last_report().text).find("42 42 42 42"), std::string::npos) << last_report().text;
  for (void* x : w) EXPECT_NE(x, victim);
  for (void* x : w) kfree(x);
  kfree(keep);
  EXPECT_TRUE(slab_check());
}

}  // namespace

namespace {

// A thread that gave its cache back (slab_shrink_all, as malloc_trim does)
// must not, when it exits, release the cache another thread got at the same
// address meanwhile.
TEST_F(ThreadCacheTest, AReleasedCacheIsNotReleasedAgainAtExit) {
  const KmemCache* meta = find_cache("kmem_thread");
  ASSERT_NE(meta, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  int stage = 0;
  auto wait_for = [&](int s) {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return stage >= s; });
  };
  auto go = [&](int s) {
    std::lock_guard<std::mutex> g(mu);
    stage = s;
    cv.notify_all();
  };
  const void* a_cache = nullptr;
  const void* b_cache = nullptr;
  std::thread a([&] {
    kfree(kmalloc(40));
    a_cache = slab::t_thread_cache;
    slab_shrink_all();  // gives its cache back
    go(1);
    wait_for(2);        // b has made its cache
  });
  std::atomic<int> bad{0};
  std::thread b([&] {
    wait_for(1);
    kfree(kmalloc(40));
    b_cache = slab::t_thread_cache;
    go(2);
    a.join();  // a exits while b's cache is live
    std::vector<void*> v;
    for (int i = 0; i < 2000; ++i) v.push_back(kmalloc(40 + i % 100));
    for (void* p : v) kfree(p);
    if (!thread_caches_check()) ++bad;
    if (slab::t_thread_cache != b_cache) ++bad;
  });
  b.join();
  EXPECT_EQ(a_cache, b_cache) << "(the test wants the address reused; it was not, so it proves less)";
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(report_count(), 0u) << last_report().text;
  EXPECT_EQ(kmem_cache_live_objects(meta), 0u);
  expect_back_to_base();
}

}  // namespace
