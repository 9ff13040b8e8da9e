// host_tests/slab_test.cpp — lib/slab object caches on a fresh HostMachine per
// test: layout math, the division-free object index, cache lifecycle, private
// caches, reports, every bad free (bug class asserted, state intact), and a
// randomized run against a reference model.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/report.h"
#include "host/host_machine.h"
#include "slab/cache_internal.h"
#include "slab/slab.h"

using namespace kheap;
using namespace kheap::slab;

namespace {

class SlabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(m.create());
    ASSERT_TRUE(slab_init(&m.page_heap()));
    set_report_echo(false);
    reset_reports();
    // The page heap keeps one spare metadata page once it has grown and
    // trimmed; let it, so the baseline is the steady state.
    m.page_heap().free_run(m.page_heap().alloc_run(1, vm::RunOwner::Test, nullptr));
    base_frames = m.free_frame_count();
    base_pages = m.page_heap().stats().pages_in_use;
  }
  void TearDown() override {
    EXPECT_TRUE(slab_check());
    set_report_echo(true);
  }
  size_t pages_in_use() { return m.page_heap().stats().pages_in_use; }
  // After giving back every cached slab (the kmem_cache meta cache keeps one
  // otherwise), the page heap and the frame allocator are where they started.
  void expect_back_to_base() {
    slab_shrink_all();
    EXPECT_EQ(pages_in_use(), base_pages);
    EXPECT_EQ(m.free_frame_count(), base_frames);
  }

  host::HostMachine m;
  size_t base_frames = 0, base_pages = 0;
};

std::string last_text() { return last_report().text; }

// --- pure parts ---------------------------------------------------------------

TEST(SlabLayout, EveryKmallocClassWastesAtMostOneEighth) {
  for (size_t size : kClassSizes) {
    size_t a = size & (~size + 1);
    if (a > kPageSize) a = kPageSize;
    SlabLayout l;
    ASSERT_TRUE(compute_layout(size, a, &l)) << size;
    size_t run = l.pages * kPageSize;
    EXPECT_LE((run - l.objects * size) * 8, run) << "class " << size;
    EXPECT_GE(l.pages, 1u);
    EXPECT_LE(l.pages, 16u);
    EXPECT_EQ(l.objects_offset % a, 0u);
    EXPECT_EQ(l.objects_offset, 0u);  // the header is off-slab
    EXPECT_LE(l.objects * size, run);
    SlabLayout on;  // kmem_slab's own layout: the header at the start of the run
    ASSERT_TRUE(compute_layout(size, a, &on, false)) << size;
    EXPECT_GE(on.objects_offset, sizeof(SlabPage));
    EXPECT_EQ(on.objects_offset % a, 0u);
    EXPECT_LE(on.objects_offset + on.objects * size, on.pages * kPageSize);
    if (size <= 512) { EXPECT_GE(l.objects, 8u) << size; }
  }
}

TEST(SlabLayout, CustomSizesGetASlabOrAreRefused) {
  for (size_t size = 16; size <= 70000; size += size < 4096 ? 8 : 1000) {
    SlabLayout l;
    ASSERT_TRUE(compute_layout(size, 16, &l)) << size;
    EXPECT_GE(l.objects, 1u);
    EXPECT_LE(l.pages, kMaxPagesPerSlab);
    if (size <= 4096) { EXPECT_LE((l.pages * kPageSize - l.objects * size) * 8, l.pages * kPageSize) << size; }
  }
  SlabLayout l;
  EXPECT_FALSE(compute_layout(kMaxPagesPerSlab * kPageSize + 16, 16, &l));
  EXPECT_FALSE(compute_layout(64, 8192, &l));
  EXPECT_FALSE(compute_layout(64, 24, &l));
}

// The division-free index check against plain division, at every byte offset
// of a slab run, in 64-bit (the host) and in 32-bit arithmetic (the kernel).
template <typename W>
void check_index_math(size_t size, size_t objects, size_t offset, size_t run) {
  unsigned k = static_cast<unsigned>(__builtin_ctzl(size));
  W odd = static_cast<W>(size >> k), inv = odd;
  for (int i = 0; i < 6; ++i) inv *= static_cast<W>(2 - odd * inv);
  ASSERT_EQ(static_cast<W>(inv * odd), W{1});
  constexpr unsigned bits = sizeof(W) * 8;
  auto rot = [](W x, unsigned r) { return static_cast<W>((x >> r) | (x << ((bits - r) & (bits - 1)))); };
  W fast_inv = static_cast<W>(inv << (kFastRotate - k));
  for (size_t pos = 0; pos < run; ++pos) {
    W off = static_cast<W>(static_cast<W>(pos) - static_cast<W>(offset));
    bool is_object = pos >= offset && (pos - offset) % size == 0 && (pos - offset) / size < objects;
    W generic = rot(static_cast<W>(off * inv), k);
    ASSERT_EQ(generic < objects, is_object) << "size " << size << " pos " << pos;
    if (is_object) { ASSERT_EQ(generic, (pos - offset) / size); }
    if (k <= kFastRotate) {
      W fast = rot(static_cast<W>(off * fast_inv), kFastRotate);
      ASSERT_EQ(fast < objects, is_object) << "fast, size " << size << " pos " << pos;
      if (is_object) { ASSERT_EQ(fast, (pos - offset) / size); }
    }
  }
}

TEST(SlabIndexMath, MultiplyRotateEqualsDivisionForEveryOffset) {
  std::vector<size_t> sizes(std::begin(kClassSizes), std::end(kClassSizes));
  for (size_t s : {8, 24, 40, 56, 72, 104, 200, 1000, 3000, 12288}) sizes.push_back(s);
  for (size_t size : sizes) {
    size_t a = size & (~size + 1);
    if (a > kPageSize) a = kPageSize;
    SlabLayout l;
    ASSERT_TRUE(compute_layout(size, a < 8 ? 8 : a, &l));
    size_t run = l.pages * kPageSize;
    check_index_math<uint64_t>(size, l.objects, l.objects_offset, run);
    check_index_math<uint32_t>(size, l.objects, l.objects_offset, run);
  }
}

TEST(SlabIndexMath, InverseIsExact) {
  for (size_t size = 1; size < 100000; size += 7) {
    uintptr_t inv;
    uint32_t shift;
    compute_inverse(size, &inv, &shift);
    EXPECT_EQ((size >> shift) * inv, uintptr_t{1});
    EXPECT_EQ((size >> shift) << shift, size);
  }
}

// --- lifecycle ---------------------------------------------------------------

TEST_F(SlabTest, CreateAllocFreeDestroy) {
  KmemCache* c = kmem_cache_create("test-40", 40, 8, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(kmem_cache_name(c), "test-40");
  EXPECT_EQ(find_cache("test-40"), c);
  EXPECT_GE(kmem_cache_object_size(c), 40u);
  std::set<void*> seen;
  std::vector<void*> objs;
  for (int i = 0; i < 1000; ++i) {
    void* p = kmem_cache_alloc(c);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kMinAlign, 0u);
    EXPECT_TRUE(seen.insert(p).second);
    EXPECT_EQ(cache_of(p), c);
    std::memset(p, 0xA5, 40);
    objs.push_back(p);
  }
  EXPECT_EQ(kmem_cache_live_objects(c), 1000u);
  EXPECT_TRUE(kmem_cache_check(c));
  for (void* p : objs) kmem_cache_free(c, p);
  EXPECT_EQ(kmem_cache_live_objects(c), 0u);
  EXPECT_EQ(cache_of(objs[0]), nullptr);
  EXPECT_TRUE(kmem_cache_check(c));
  EXPECT_TRUE(kmem_cache_destroy(c));
  EXPECT_EQ(find_cache("test-40"), nullptr);
  EXPECT_EQ(report_count(), 0u);
  expect_back_to_base();
}

TEST_F(SlabTest, AlignmentAndHwcacheAlign) {
  for (size_t align : {8, 16, 32, 64, 128, 256, 1024, 4096}) {
    KmemCache* c = kmem_cache_create("aligned", 24, align, 0, nullptr);
    ASSERT_NE(c, nullptr) << align;
    for (int i = 0; i < 50; ++i) {
      void* p = kmem_cache_alloc(c);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    }
    EXPECT_EQ(kmem_cache_destroy_all(c) > 0, true);
  }
  KmemCache* hw = kmem_cache_create("hw", 10, 0, SLAB_HWCACHE_ALIGN, nullptr);
  ASSERT_NE(hw, nullptr);
  void* p = kmem_cache_alloc(hw);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  kmem_cache_free(hw, p);
  EXPECT_TRUE(kmem_cache_destroy(hw));
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(SlabTest, BadCreateArgumentsAreRefused) {
  EXPECT_EQ(kmem_cache_create("zero", 0, 8, 0, nullptr), nullptr);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_EQ(kmem_cache_create("a3", 16, 3, 0, nullptr), nullptr);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_EQ(kmem_cache_create("a8k", 16, 8192, 0, nullptr), nullptr);
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_EQ(kmem_cache_create("huge", size_t{1} << 30, 8, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create("ovf", ~size_t{0} - 3, 8, 0, nullptr), nullptr);
  EXPECT_EQ(kmem_cache_create_owned("noowner", 16, 8, 0, nullptr, nullptr), nullptr);
  expect_back_to_base();
}

int g_ctor_calls;
void ctor_pattern(void* p) {
  ++g_ctor_calls;
  std::memset(p, 0x5C, 48);
}

TEST_F(SlabTest, ConstructorRunsWhenASlabIsPopulatedAndStateSurvivesFree) {
  g_ctor_calls = 0;
  KmemCache* c = kmem_cache_create("ctor", 48, 8, 0, ctor_pattern);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(g_ctor_calls, 0);
  void* p = kmem_cache_alloc(c);
  ASSERT_NE(p, nullptr);
  CacheStats st{};
  for (size_t i = 0; cache_stats(i, &st); ++i)
    if (std::string(st.name) == "ctor") break;
  EXPECT_EQ(static_cast<size_t>(g_ctor_calls), st.objects_per_slab);  // the whole slab, once
  for (int i = 0; i < 48; ++i) ASSERT_EQ(static_cast<unsigned char*>(p)[i], 0x5C);
  kmem_cache_free(c, p);
  // p comes back once the current group's other free objects are used up.
  std::vector<void*> others;
  void* q = nullptr;
  for (size_t i = 0; i <= kWordBits && (q = kmem_cache_alloc(c)) != p; ++i) others.push_back(q);
  EXPECT_EQ(q, p);
  for (int i = 0; i < 48; ++i) ASSERT_EQ(static_cast<unsigned char*>(q)[i], 0x5C) << "constructed state lost";
  for (void* o : others) kmem_cache_free(c, o);
  for (int i = 0; i < 100; ++i) kmem_cache_free(c, kmem_cache_alloc(c));
  EXPECT_EQ(static_cast<size_t>(g_ctor_calls), st.objects_per_slab);  // not per allocation
  kmem_cache_free(c, q);
  EXPECT_TRUE(kmem_cache_destroy(c));
}

TEST_F(SlabTest, LifoOfOneObjectKeepsItsSlabAndFullFreeKeepsFewEmpties) {
  KmemCache* c = kmem_cache_create("lifo", 64, 8, 0, nullptr);
  void* p = kmem_cache_alloc(c);
  size_t pages = pages_in_use();
  for (int i = 0; i < 10000; ++i) {
    void* q = kmem_cache_alloc(c);
    kmem_cache_free(c, q);
    ASSERT_EQ(pages_in_use(), pages);
  }
  kmem_cache_free(c, p);
  // Fill 10 slabs, free all: the cpu slab and at most kKeepEmptySlabs empties remain.
  CacheStats st{};
  cache_stats(cache_count() - 1, &st);
  std::vector<void*> objs;
  for (size_t i = 0; i < 10 * st.objects_per_slab; ++i) objs.push_back(kmem_cache_alloc(c));
  cache_stats(cache_count() - 1, &st);
  EXPECT_EQ(st.total_slabs, 10u);
  EXPECT_EQ(st.active_objects, 10 * st.objects_per_slab);
  for (void* o : objs) kmem_cache_free(c, o);
  cache_stats(cache_count() - 1, &st);
  EXPECT_LE(st.total_slabs, 1 + kKeepEmptySlabs);
  EXPECT_EQ(st.active_objects, 0u);
  EXPECT_EQ(st.active_slabs, 0u);
  EXPECT_TRUE(kmem_cache_check(c));
  EXPECT_GT(kmem_cache_shrink(c), 0u);
  EXPECT_EQ(kmem_cache_pages(c), 0u);
  EXPECT_TRUE(kmem_cache_destroy(c));
  expect_back_to_base();
}

TEST_F(SlabTest, DestroyRefusesAndListsLiveObjects) {
  KmemCache* c = kmem_cache_create("leaky", 100, 8, 0, nullptr);
  void* a = kmem_cache_alloc(c);
  void* b = kmem_cache_alloc(c);
  kmem_cache_free(c, a);
  EXPECT_FALSE(kmem_cache_destroy(c));
  EXPECT_EQ(last_report().bug_class, BugClass::CacheNotEmpty);
  char addr[32];
  format(addr, sizeof addr, "%p", b);
  EXPECT_NE(last_text().find(addr), std::string::npos) << last_text();
  EXPECT_NE(last_text().find("leaky"), std::string::npos);
  EXPECT_NE(last_text().find("1 live object"), std::string::npos);
  // Still usable.
  EXPECT_TRUE(kmem_cache_check(c));
  void* d = kmem_cache_alloc(c);
  EXPECT_NE(d, nullptr);
  kmem_cache_free(c, d);
  kmem_cache_free(c, b);
  EXPECT_TRUE(kmem_cache_destroy(c));
  EXPECT_FALSE(kmem_cache_destroy(c));  // gone
  EXPECT_EQ(last_report().bug_class, BugClass::InvalidHandle);
  expect_back_to_base();
}

TEST_F(SlabTest, KmallocCachesCannotBeDestroyed) {
  KmemCache* k = find_cache("kmalloc-64");
  ASSERT_NE(k, nullptr);
  EXPECT_FALSE(kmem_cache_destroy(k));
  EXPECT_EQ(last_report().bug_class, BugClass::BadArgument);
  EXPECT_EQ(kmem_cache_destroy_all(k), 0u);
  EXPECT_FALSE(kmem_cache_destroy(find_cache("kmem_cache")));
}

TEST_F(SlabTest, OwnedCachesBelongToTheirOwner) {
  int owner_token;
  KmemCache* c = kmem_cache_create_owned("heap-32", 32, 16, 0, nullptr, &owner_token);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(kmem_cache_owner(c), &owner_token);
  EXPECT_EQ(kmem_cache_owner(find_cache("kmalloc-32")), nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 500; ++i) objs.push_back(kmem_cache_alloc(c));
  EXPECT_EQ(cache_of(objs[7]), c);
  EXPECT_EQ(cache_of(static_cast<char*>(objs[7]) + 1), nullptr);
  // kfree/ksize/krealloc refuse objects of a private cache.
  kfree(objs[3]);
  EXPECT_EQ(last_report().bug_class, BugClass::WrongHeap);
  EXPECT_NE(last_text().find("heap-32"), std::string::npos);
  EXPECT_EQ(cache_of(objs[3]), c);  // still live
  EXPECT_EQ(ksize(objs[3]), 0u);
  EXPECT_EQ(krealloc(objs[3], 10), nullptr);
  EXPECT_EQ(cache_of(objs[3]), c);
  kmem_cache_free(c, objs[3]);
  EXPECT_EQ(cache_of(objs[3]), nullptr);
  // Wholesale destroy with live objects.
  size_t pages = kmem_cache_destroy_all(c);
  EXPECT_GT(pages, 0u);
  EXPECT_EQ(cache_of(objs[0]), nullptr);
  // A destroyed handle is refused while its memory is still around (the
  // magic is checked; after the meta cache's slab is gone it would fault).
  EXPECT_EQ(kmem_cache_alloc(c), nullptr);
  EXPECT_EQ(last_report().bug_class, BugClass::InvalidHandle);
  expect_back_to_base();
}

// --- bad frees: reported, refused, everything intact -----------------------------

struct BadFreeCase : SlabTest {
  void SetUp() override {
    SlabTest::SetUp();
    c = kmem_cache_create("victim", 64, 8, 0, nullptr);
    other = kmem_cache_create("other", 64, 8, 0, nullptr);
    for (int i = 0; i < 200; ++i) live.push_back(kmem_cache_alloc(c));
  }
  // Everything still works: lists valid, the live objects distinct from new ones.
  void expect_intact(BugClass expected, size_t reports_before) {
    EXPECT_EQ(report_count(), reports_before + 1);
    EXPECT_EQ(last_report().bug_class, expected) << last_text();
    EXPECT_TRUE(kmem_cache_check(c));
    std::set<void*> live_set(live.begin(), live.end());
    std::vector<void*> fresh;
    for (int i = 0; i < 300; ++i) {
      void* p = kmem_cache_alloc(c);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(live_set.count(p), 0u) << "a live object was handed out again";
      ASSERT_TRUE(live_set.insert(p).second);
      fresh.push_back(p);
    }
    for (void* p : fresh) kmem_cache_free(c, p);
    EXPECT_TRUE(kmem_cache_check(c));
    EXPECT_EQ(report_count(), reports_before + 1);
  }
  KmemCache* c = nullptr;
  KmemCache* other = nullptr;
  std::vector<void*> live;
};

TEST_F(BadFreeCase, DoubleFreeOfTheCpuSlabsTopObject) {
  void* p = live.back();
  live.pop_back();
  kmem_cache_free(c, p);
  uint32_t n = report_count();
  kmem_cache_free(c, p);
  expect_intact(BugClass::DoubleFree, n);
  EXPECT_NE(last_text().find("double free"), std::string::npos);
  EXPECT_NE(last_text().find("victim"), std::string::npos);
  EXPECT_NE(last_text().find("object"), std::string::npos);
}

TEST_F(BadFreeCase, DoubleFreeInAFullOrPartialSlab) {
  void* p = live.front();
  live.erase(live.begin());
  kmem_cache_free(c, p);
  uint32_t n = report_count();
  kmem_cache_free(c, p);
  expect_intact(BugClass::DoubleFree, n);
}

TEST_F(BadFreeCase, InteriorPointer) {
  uint32_t n = report_count();
  kmem_cache_free(c, static_cast<char*>(live[5]) + 8);
  expect_intact(BugClass::InvalidFree, n);
  EXPECT_NE(last_text().find("8 bytes into object"), std::string::npos) << last_text();
}

TEST_F(BadFreeCase, SlabHeaderAndForeignPointers) {
  uint32_t n = report_count();
  auto* header = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(live[0]) & ~(kPageSize - 1));
  kmem_cache_free(c, header + 8);
  expect_intact(BugClass::InvalidFree, n);
  // The off-slab SlabPage itself is an object of the internal kmem_slab cache.
  n = report_count();
  kfree(slab_page_of(live[0]));
  expect_intact(BugClass::WrongHeap, n);
  kmem_cache_free(c, slab_page_of(live[0]));
  expect_intact(BugClass::WrongHeap, n + 1);
  int on_stack;
  n = report_count();
  kmem_cache_free(c, &on_stack);
  expect_intact(BugClass::InvalidFree, n);
}

TEST_F(BadFreeCase, WrongCache) {
  uint32_t n = report_count();
  kmem_cache_free(other, live[10]);
  expect_intact(BugClass::WrongHeap, n);
  EXPECT_NE(last_text().find("victim"), std::string::npos);
  EXPECT_NE(last_text().find("other"), std::string::npos);
  EXPECT_EQ(cache_of(live[10]), c);
}

TEST_F(BadFreeCase, FreeThroughADestroyedCacheHandle) {
  KmemCache* gone = kmem_cache_create("gone", 64, 8, 0, nullptr);
  ASSERT_TRUE(kmem_cache_destroy(gone));
  uint32_t n = report_count();
  kmem_cache_free(gone, live[1]);
  // `gone`'s memory may be reused by a new cache; either way the free is refused.
  expect_intact(find_cache("gone") ? BugClass::WrongHeap : BugClass::InvalidHandle, n);
}

TEST_F(SlabTest, LiveObjectContentsNeverLookFree) {
  KmemCache* c = kmem_cache_create("contents", 32, 8, 0, nullptr);
  void* a = kmem_cache_alloc(c);
  void* b = kmem_cache_alloc(c);
  // Whatever a live object holds, free-ness is decided by the slab's free bits.
  for (uintptr_t v : {uintptr_t{0}, ~uintptr_t{0}, reinterpret_cast<uintptr_t>(b), reinterpret_cast<uintptr_t>(a)}) {
    static_cast<uintptr_t*>(b)[0] = v;
    static_cast<uintptr_t*>(b)[1] = v;
    EXPECT_EQ(cache_of(b), c);
  }
  kmem_cache_free(c, b);
  EXPECT_EQ(report_count(), 0u);
  kmem_cache_free(c, b);
  EXPECT_EQ(last_report().bug_class, BugClass::DoubleFree);
  kmem_cache_free(c, a);
  EXPECT_TRUE(kmem_cache_check(c));
  EXPECT_TRUE(kmem_cache_destroy(c));
}

TEST_F(SlabTest, WriteAfterFreeCannotCorruptTheAllocator) {
  KmemCache* c = kmem_cache_create("uaf", 32, 8, 0, nullptr);
  void* a = kmem_cache_alloc(c);
  void* b = kmem_cache_alloc(c);
  kmem_cache_free(c, a);
  std::memset(a, 0xA5, 32);  // the allocator keeps nothing inside free objects
  EXPECT_TRUE(kmem_cache_check(c));
  std::set<void*> seen{b};
  std::vector<void*> more;
  for (int i = 0; i < 200; ++i) {
    void* p = kmem_cache_alloc(c);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(seen.insert(p).second);
    more.push_back(p);
  }
  EXPECT_EQ(report_count(), 0u);
  for (void* p : more) kmem_cache_free(c, p);
  kmem_cache_free(c, b);
  EXPECT_TRUE(kmem_cache_destroy(c));
}

TEST_F(SlabTest, CorruptFreeBitsAreFoundByTheCheck) {
  KmemCache* c = kmem_cache_create("bits", 32, 8, 0, nullptr);
  std::vector<void*> objs;
  for (size_t i = 0; i < 3 * kWordBits * kBitmapWords; ++i) objs.push_back(kmem_cache_alloc(c));  // > 1 slab
  SlabPage* s = slab_page_of(objs[0]);  // a full slab now, on no list
  ASSERT_NE(s, c->cpu_slab);
  kmem_cache_free(c, objs[1]);          // partial
  EXPECT_TRUE(kmem_cache_check(c));
  uint32_t n = report_count();
  s->free_bits[0] |= uintptr_t{1} << 2;  // object 2 marked free behind the counters' back
  EXPECT_FALSE(kmem_cache_check(c));
  EXPECT_EQ(last_report().bug_class, BugClass::FreeListCorruption);
  EXPECT_EQ(report_count(), n + 1);
  s->free_bits[0] &= ~(uintptr_t{1} << 2);
  EXPECT_TRUE(kmem_cache_check(c));
  (void)kmem_cache_destroy_all(c);
}

// --- reports -------------------------------------------------------------------

std::string g_captured;
void capture(void*, const char* text, size_t len) { g_captured.append(text, len); }

TEST_F(SlabTest, SlabinfoIsProcSlabinfo21) {
  KmemCache* c = kmem_cache_create("info-test", 200, 8, 0, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 30; ++i) objs.push_back(kmem_cache_alloc(c));
  g_captured.clear();
  set_print_sink(capture, nullptr);
  print_slabinfo();
  set_print_sink(nullptr, nullptr);
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < g_captured.size()) {
    size_t nl = g_captured.find('\n', at);
    lines.push_back(g_captured.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "slabinfo - version: 2.1");
  EXPECT_EQ(lines[1],
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
            "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>");
  EXPECT_EQ(lines.size(), 2 + cache_count());
  bool found = false;
  for (const std::string& l : lines) {
    if (l.rfind("info-test ", 0) != 0) continue;
    found = true;
    char name[64];
    unsigned long active, total, size, per, pages, lim, batch, shared, aslabs, nslabs, avail;
    ASSERT_EQ(std::sscanf(l.c_str(), "%63s %lu %lu %lu %lu %lu : tunables %lu %lu %lu : slabdata %lu %lu %lu", name,
                          &active, &total, &size, &per, &pages, &lim, &batch, &shared, &aslabs, &nslabs, &avail),
              12)
        << l;
    EXPECT_EQ(active, 30u);
    EXPECT_EQ(size, 208u);
    EXPECT_EQ(total % per, 0u);
    EXPECT_EQ(total / per, nslabs);
    EXPECT_EQ(aslabs, nslabs);
  }
  EXPECT_TRUE(found) << g_captured;
  for (void* p : objs) kmem_cache_free(c, p);
  EXPECT_TRUE(kmem_cache_destroy(c));
}

TEST_F(SlabTest, DescribeAddress) {
  KmemCache* c = kmem_cache_create("where", 96, 8, 0, nullptr);
  void* a = kmem_cache_alloc(c);
  void* b = kmem_cache_alloc(c);
  kmem_cache_free(c, b);
  BlockInfo i = describe_address(static_cast<char*>(a) + 10);
  EXPECT_EQ(i.kind, BlockInfo::SlabObject);
  EXPECT_EQ(i.cache, c);
  EXPECT_STREQ(i.cache_name, "where");
  EXPECT_EQ(i.object_start, a);
  EXPECT_EQ(i.offset, 10u);
  EXPECT_EQ(i.object_index, 0u);
  EXPECT_TRUE(i.allocated);
  i = describe_address(b);
  EXPECT_EQ(i.kind, BlockInfo::SlabObject);
  EXPECT_EQ(i.object_index, 1u);
  EXPECT_FALSE(i.allocated);
  // Headers are off-slab: the run starts with object 0 and ends in an unused
  // tail (85 slots of 96 bytes in two pages leave 32 bytes).
  EXPECT_EQ(i.run_start, a);
  EXPECT_EQ(i.run_pages, 2u);
  EXPECT_EQ(describe_address(i.run_start).kind, BlockInfo::SlabObject);
  EXPECT_EQ(describe_address(static_cast<char*>(i.run_start) + 2 * kPageSize - 8).kind, BlockInfo::SlabHeader);
  int local;
  EXPECT_EQ(describe_address(&local).kind, BlockInfo::NotInHeap);
  EXPECT_EQ(describe_address(m.page_heap().page_info_array()).kind, BlockInfo::PageHeapMetadata);
  void* big = kmalloc(20000);
  i = describe_address(static_cast<char*>(big) + 5000);
  EXPECT_EQ(i.kind, BlockInfo::LargeBlock);
  EXPECT_EQ(i.object_start, big);
  EXPECT_EQ(i.object_size, 20000u);
  EXPECT_EQ(i.offset, 5000u);
  kfree(big);
  // Freed large block's pages: free pages (or past the top, if the heap was trimmed).
  BlockInfo f = describe_address(big);
  EXPECT_TRUE(f.kind == BlockInfo::FreePages || f.kind == BlockInfo::NotInHeap);
  kmem_cache_free(c, a);
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(SlabTest, ForEachObjectSeesAllocatedAndFreeSlots) {
  KmemCache* c = kmem_cache_create("walk", 50, 8, 0, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 300; ++i) objs.push_back(kmem_cache_alloc(c));
  std::set<void*> live(objs.begin(), objs.end());
  for (int i = 0; i < 300; i += 3) {
    kmem_cache_free(c, objs[i]);
    live.erase(objs[i]);
  }
  size_t allocated = 0, total = 0;
  struct Ctx {
    std::set<void*>* live;
    size_t* allocated;
    size_t* total;
    bool ok = true;
  } ctx{&live, &allocated, &total};
  EXPECT_TRUE(kmem_cache_for_each_object(
      c,
      [](void* vctx, void* obj, size_t size, bool is_allocated) {
        auto* x = static_cast<Ctx*>(vctx);
        ++*x->total;
        if (is_allocated) ++*x->allocated;
        if (is_allocated != (x->live->count(obj) == 1)) x->ok = false;
        return size >= 50;
      },
      &ctx));
  EXPECT_TRUE(ctx.ok);
  EXPECT_EQ(allocated, live.size());
  CacheStats st{};
  cache_stats(cache_count() - 1, &st);
  EXPECT_STREQ(st.name, "walk");
  EXPECT_EQ(total, st.total_objects);
  EXPECT_EQ(kmem_cache_live_objects(c), live.size());
  EXPECT_EQ(kmem_cache_destroy_all(c) > 0, true);
}

TEST_F(SlabTest, SlabInitResetsEverything) {
  size_t caches = cache_count();
  ASSERT_NE(kmem_cache_create("temp", 64, 8, 0, nullptr), nullptr);
  kmalloc(100);
  EXPECT_EQ(cache_count(), caches + 1);
  host::HostMachine m2;
  ASSERT_TRUE(m2.create());
  ASSERT_TRUE(slab_init(&m2.page_heap()));
  EXPECT_EQ(cache_count(), caches);
  EXPECT_EQ(find_cache("temp"), nullptr);
  EXPECT_EQ(slab_page_heap(), &m2.page_heap());
  void* p = kmalloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(describe_address(p).kind, BlockInfo::SlabObject);
  kfree(p);
  EXPECT_TRUE(slab_check());
  ASSERT_TRUE(slab_init(&m.page_heap()));  // back to the fixture's machine (its old slabs are forgotten)
}

// --- randomized against a reference model ------------------------------------------

TEST_F(SlabTest, RandomizedCachesAgainstAModel) {
  std::mt19937_64 rng(12345);
  struct CacheModel {
    KmemCache* cache;
    size_t size;
    std::map<void*, uint8_t> live;  // object -> fill byte
  };
  std::vector<CacheModel> caches;
  size_t sizes[] = {16, 24, 40, 64, 100, 256, 700, 2000, 5000};
  for (size_t s : sizes) {
    char name[32];
    format(name, sizeof name, "rand-%zu", s);
    caches.push_back({kmem_cache_create(name, s, 8, 0, nullptr), s, {}});
    ASSERT_NE(caches.back().cache, nullptr);
  }
  std::map<uintptr_t, uintptr_t> intervals;  // start -> end, all caches
  for (int step = 0; step < 60000; ++step) {
    CacheModel& cm = caches[rng() % caches.size()];
    bool alloc = cm.live.empty() || (rng() % 100) < (step < 30000 ? 60 : 40);
    if (alloc) {
      void* p = kmem_cache_alloc(cm.cache);
      ASSERT_NE(p, nullptr);
      uintptr_t a = reinterpret_cast<uintptr_t>(p);
      ASSERT_EQ(a % kMinAlign, 0u);
      auto next = intervals.lower_bound(a);
      ASSERT_TRUE(next == intervals.end() || next->first >= a + cm.size) << "overlaps the next object";
      if (next != intervals.begin()) { ASSERT_LE(std::prev(next)->second, a) << "overlaps the previous object"; }
      intervals[a] = a + cm.size;
      uint8_t fill = static_cast<uint8_t>(rng());
      std::memset(p, fill, cm.size);
      cm.live[p] = fill;
    } else {
      auto it = cm.live.begin();
      std::advance(it, rng() % cm.live.size());
      const auto* bytes = static_cast<const uint8_t*>(it->first);
      for (size_t i = 0; i < cm.size; ++i) ASSERT_EQ(bytes[i], it->second) << "content changed";
      kmem_cache_free(cm.cache, it->first);
      intervals.erase(reinterpret_cast<uintptr_t>(it->first));
      cm.live.erase(it);
    }
    if (step % 5000 == 0) {
      ASSERT_TRUE(slab_check());
      for (auto& x : caches) ASSERT_EQ(kmem_cache_live_objects(x.cache), x.live.size());
    }
  }
  EXPECT_EQ(report_count(), 0u);
  for (auto& cm : caches) {
    for (auto& [p, fill] : cm.live) kmem_cache_free(cm.cache, p);
    EXPECT_TRUE(kmem_cache_destroy(cm.cache));
  }
  expect_back_to_base();
}

}  // namespace
