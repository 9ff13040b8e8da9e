// host_tests/slab_debug_test.cpp — the slab layer's debug mode (lib/slab/
// slab_debug.h) on a fresh HostMachine per test: one test per bug class
// (class, and that the report names the class, the address, the cache, the
// size and the sites), the quarantine delaying reuse, poison verified at
// quarantine exit and before reuse, leaks, validate, cache selection by name,
// the spec parser, switching off, and a randomized run against a model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/report.h"
#include "host/host_machine.h"
#include "slab/cache_internal.h"
#include "slab/slab.h"
#include "debug/slab_debug.h"

using namespace kheap;

namespace {

std::string text_of(const char* fmt, const void* p) {
  char buf[64];
  format(buf, sizeof buf, fmt, p);
  return buf;
}
std::string addr_text(const void* p) { return text_of("%p", p); }
std::string last_text() { return last_report().text; }

// The allocation sites: each returns what it got, and the site is inside it.
__attribute__((noinline)) void* alloc_here(size_t n) {
  void* p = kmalloc(n);
  asm volatile("" ::: "memory");  // keep the call a call (not a tail call)
  return p;
}
__attribute__((noinline)) void free_here(void* p) {
  kfree(p);
  asm volatile("" ::: "memory");
}
bool site_in(const void* site, const void* fn) {
  auto s = reinterpret_cast<uintptr_t>(site), f = reinterpret_cast<uintptr_t>(fn);
  return s > f && s < f + 256;
}

// print() captured (for leaks).
std::string g_captured;
void capture_sink(void*, const char* text, size_t len) { g_captured.append(text, len); }

class SlabDebugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(m.create({}));
    ASSERT_TRUE(slab_init(&m.page_heap()));
    slab_debug_reset();
    slab_debug_set_quarantine(256, size_t{1} << 20);
    ASSERT_TRUE(slab_debug_configure("slub_debug"));
    set_report_echo(false);
    reset_reports();
  }
  void TearDown() override {
    EXPECT_TRUE(slab_check());
    EXPECT_TRUE(slab_debug_configure("-"));
    slab_debug_reset();
    set_print_sink(nullptr, nullptr);
    set_report_echo(true);
  }
  // Expect exactly one new report of class `c`; returns its text.
  std::string expect_report(uint32_t before, BugClass c) {
    EXPECT_EQ(report_count(), before + 1) << last_text();
    EXPECT_EQ(last_report().bug_class, c) << last_text();
    std::string t = last_text();
    EXPECT_NE(t.find(std::string("kheap: ") + bug_class_name(c)), std::string::npos) << t;
    return t;
  }
  host::HostMachine m;
};

TEST_F(SlabDebugTest, OverflowByOneByteIsReportedOnFreeAndRefused) {
  auto* p = static_cast<unsigned char*>(alloc_here(64));
  ASSERT_NE(p, nullptr);
  SlabDebugObject o;
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_TRUE(o.live);
  EXPECT_EQ(o.size, 64u);
  EXPECT_STREQ(o.cache_name, "kmalloc-64");
  EXPECT_TRUE(site_in(o.alloc_site, reinterpret_cast<const void*>(&alloc_here)));
  EXPECT_EQ(ksize(p), 64u);  // the size asked for: the redzone starts right after
  p[64] = 0x00;
  uint32_t before = report_count();
  free_here(p);
  std::string t = expect_report(before, BugClass::RedzoneOverwritten);
  EXPECT_NE(t.find("right redzone"), std::string::npos) << t;
  EXPECT_NE(t.find(addr_text(p)), std::string::npos) << t;
  EXPECT_NE(t.find("kmalloc-64"), std::string::npos) << t;
  EXPECT_NE(t.find("64 bytes"), std::string::npos) << t;
  EXPECT_NE(t.find("from offset 64 to 64"), std::string::npos) << t;
  EXPECT_NE(t.find("00 bb bb"), std::string::npos) << t;  // the offending bytes, then the intact redzone
  EXPECT_NE(t.find("allocated at " + addr_text(o.alloc_site)), std::string::npos) << t;
  EXPECT_NE(t.find("object 0 of cache kmalloc-"), std::string::npos) << t;  // the debug block's slot index
  // Refused: still live, still listed; validate sees it too.
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_TRUE(o.live);
  EXPECT_EQ(slab_debug_validate(), 1u);
  p[64] = kSlabDebugRedzoneByte;
  EXPECT_EQ(slab_debug_validate(), 0u);
  before = report_count();
  kfree(p);
  EXPECT_EQ(report_count(), before);
}

TEST_F(SlabDebugTest, UnderflowIsReportedAsLeftRedzone) {
  auto* p = static_cast<unsigned char*>(kmalloc(40));
  p[-1] = 0x41;
  uint32_t before = report_count();
  EXPECT_EQ(slab_debug_validate(), 1u);
  std::string t = expect_report(before, BugClass::RedzoneOverwritten);
  EXPECT_NE(t.find("left redzone"), std::string::npos) << t;
  EXPECT_NE(t.find("offset -1"), std::string::npos) << t;
  EXPECT_NE(t.find(addr_text(p)), std::string::npos) << t;
  EXPECT_NE(t.find("kmalloc-48"), std::string::npos) << t;
  EXPECT_NE(t.find("41 (expected bb)"), std::string::npos) << t;
  p[-1] = kSlabDebugRedzoneByte;
  kfree(p);
  EXPECT_EQ(report_count(), before + 1);
}

TEST_F(SlabDebugTest, UseAfterFreeWriteIsCaughtByValidateAndAtQuarantineExit) {
  auto* p = static_cast<unsigned char*>(alloc_here(100));
  SlabDebugObject o;
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  free_here(p);
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_FALSE(o.live);
  EXPECT_TRUE(o.quarantined);
  EXPECT_TRUE(site_in(o.free_site, reinterpret_cast<const void*>(&free_here)));
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(p[i], kSlabDebugFreeByte) << i;  // poisoned
  p[10] = 0x99;
  p[12] = 0x98;
  uint32_t before = report_count();
  EXPECT_EQ(slab_debug_validate(), 1u);
  std::string t = expect_report(before, BugClass::UseAfterFreeWrite);
  EXPECT_NE(t.find("use-after-free write"), std::string::npos);
  EXPECT_NE(t.find(addr_text(p)), std::string::npos) << t;
  EXPECT_NE(t.find(std::string("100 bytes of ") + o.cache_name), std::string::npos) << t;
  EXPECT_NE(t.find("offsets 10 to 12"), std::string::npos) << t;
  EXPECT_NE(t.find("99 6b 98"), std::string::npos) << t;
  EXPECT_NE(t.find("allocated at " + addr_text(o.alloc_site)), std::string::npos) << t;
  EXPECT_NE(t.find("freed at " + addr_text(o.free_site)), std::string::npos) << t;
  before = report_count();
  slab_debug_flush_quarantine();
  expect_report(before, BugClass::UseAfterFreeWrite);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);
}

TEST_F(SlabDebugTest, DoubleFreeInQuarantineAndAfterItNamesBothSites) {
  auto* p = alloc_here(24);
  SlabDebugObject o;
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  free_here(p);
  uint32_t before = report_count();
  kfree(p);
  std::string t = expect_report(before, BugClass::DoubleFree);
  EXPECT_NE(t.find(addr_text(p)), std::string::npos) << t;
  EXPECT_NE(t.find(std::string("24-byte object of ") + o.cache_name), std::string::npos) << t;
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_NE(t.find("allocated at " + addr_text(o.alloc_site)), std::string::npos) << t;
  EXPECT_NE(t.find("freed at " + addr_text(o.free_site)), std::string::npos) << t;
  EXPECT_NE(t.find("freed again at"), std::string::npos) << t;
  // After the quarantine gave the block back: still recognized.
  slab_debug_flush_quarantine();
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_FALSE(o.quarantined);
  before = report_count();
  kfree(p);
  expect_report(before, BugClass::DoubleFree);
  // And through ksize / krealloc.
  before = report_count();
  EXPECT_EQ(ksize(p), 0u);
  expect_report(before, BugClass::BadArgument);
  before = report_count();
  EXPECT_EQ(krealloc(p, 10), nullptr);
  expect_report(before, BugClass::DoubleFree);
}

TEST_F(SlabDebugTest, InvalidFreesAreReportedAndRefused) {
  auto* p = static_cast<char*>(alloc_here(64));
  uint32_t before = report_count();
  kfree(p + 8);
  std::string t = expect_report(before, BugClass::InvalidFree);
  EXPECT_NE(t.find("8 bytes into the object at " + addr_text(p)), std::string::npos) << t;
  EXPECT_NE(t.find("kmalloc-64"), std::string::npos) << t;
  int on_stack = 0;
  before = report_count();
  kfree(&on_stack);
  t = expect_report(before, BugClass::InvalidFree);
  EXPECT_NE(t.find("outside the kernel heap"), std::string::npos) << t;
  // A large debug block: interior pointer.
  auto* big = static_cast<char*>(kmalloc(20000));
  before = report_count();
  kfree(big + 4096);
  t = expect_report(before, BugClass::InvalidFree);
  EXPECT_NE(t.find("kmalloc-large"), std::string::npos) << t;
  SlabDebugObject o;
  EXPECT_TRUE(slab_debug_lookup(p, &o) && o.live);
  kfree(p);
  kfree(big);
  EXPECT_EQ(report_count(), before + 1) << last_text();
}

TEST_F(SlabDebugTest, SmashedHeaderOfTheNextObjectIsReported) {
  // Two fresh objects of one class lie next to each other (lowest free slot first).
  auto* a = static_cast<unsigned char*>(kmalloc(200));
  auto* b = static_cast<unsigned char*>(kmalloc(200));
  ASSERT_GT(b, a);
  size_t gap = static_cast<size_t>(b - a);
  ASSERT_LT(gap, size_t{1024});
  memset(a + 200, 0, gap - 200 - 20);  // a's right redzone and b's header, not b's left redzone
  uint32_t before = report_count();
  kfree(b);
  std::string t = expect_report(before, BugClass::RedzoneOverwritten);
  EXPECT_NE(t.find("debug header"), std::string::npos) << t;
  EXPECT_NE(t.find(addr_text(b)), std::string::npos) << t;
  before = report_count();
  EXPECT_GE(slab_debug_validate(), 1u);
  EXPECT_GT(report_count(), before);
  slab_debug_reset();  // the lists are broken by design here: forget them
}

TEST_F(SlabDebugTest, QuarantineDelaysReuseByCountAndBytes) {
  slab_debug_set_quarantine(8, size_t{1} << 20);
  auto* p = kmalloc(64);
  kfree(p);
  SlabDebugObject o;
  std::vector<void*> others;
  // While p waits, nothing hands its memory out.
  for (int i = 0; i < 7; ++i) {
    void* q = kmalloc(64);
    others.push_back(q);
  }
  for (void* q : others) kfree(q);  // 8 in quarantine now: p is the oldest
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_TRUE(o.quarantined);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 8u);
  std::vector<void*> many;
  for (int i = 0; i < 100; ++i) {
    void* q = kmalloc(64);
    EXPECT_NE(q, p);
    many.push_back(q);
  }
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_TRUE(o.quarantined);
  kfree(many.back());  // the 9th: p leaves
  many.pop_back();
  ASSERT_TRUE(slab_debug_lookup(p, &o));
  EXPECT_FALSE(o.quarantined);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 8u);
  // By bytes: a byte bound of one block keeps at most one.
  slab_debug_set_quarantine(100, 1);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);
  for (void* q : many) kfree(q);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);  // each is over the byte bound alone
  // Q off: no quarantine at all.
  ASSERT_TRUE(slab_debug_configure("FZPU"));
  slab_debug_set_quarantine(100, size_t{1} << 20);
  void* r = kmalloc(64);
  kfree(r);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);
  EXPECT_EQ(report_count(), 0u);
}

TEST_F(SlabDebugTest, PoisonPatternsAndVerificationBeforeReuse) {
  auto* p = static_cast<unsigned char*>(kmalloc(80));
  for (size_t i = 0; i < 80; ++i) ASSERT_EQ(p[i], kSlabDebugAllocByte) << i;
  auto* z = static_cast<unsigned char*>(kzalloc(80));
  for (size_t i = 0; i < 80; ++i) ASSERT_EQ(z[i], 0) << i;
  kfree(z);
  // No quarantine: the block goes back at once; a write after free is found
  // when its memory is handed out again.
  slab_debug_set_quarantine(0, 0);
  kfree(p);
  for (size_t i = 0; i < 80; ++i) ASSERT_EQ(p[i], kSlabDebugFreeByte) << i;
  p[79] = 0;
  uint32_t before = report_count();
  std::vector<void*> got;
  bool reused = false;
  for (int i = 0; i < 1000 && !reused; ++i) {
    void* q = kmalloc(80);
    got.push_back(q);
    reused = q == p;
  }
  ASSERT_TRUE(reused);
  std::string t = expect_report(before, BugClass::UseAfterFreeWrite);
  EXPECT_NE(t.find("reusing its memory"), std::string::npos) << t;
  EXPECT_NE(t.find("offsets 79 to 79"), std::string::npos) << t;
  EXPECT_NE(t.find("00 (expected 6b)"), std::string::npos) << t;
  for (void* q : got) kfree(q);
  EXPECT_EQ(report_count(), before + 1);
}

bool collect(void* ctx, const SlabDebugObject& o) {
  static_cast<std::vector<SlabDebugObject>*>(ctx)->push_back(o);
  return true;
}

TEST_F(SlabDebugTest, LeaksListsTheLiveObjectsWithSitesAndSequenceNumbers) {
  void* a = alloc_here(10);
  void* b = alloc_here(2000);
  void* c = alloc_here(30000);
  kfree(b);
  std::vector<SlabDebugObject> live;
  EXPECT_EQ(slab_debug_for_each_live(collect, &live), 2u);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].object, a);
  EXPECT_EQ(live[0].size, 10u);
  EXPECT_EQ(live[1].object, c);
  EXPECT_STREQ(live[1].cache_name, "kmalloc-large");
  EXPECT_LT(live[0].seq, live[1].seq);
  EXPECT_TRUE(site_in(live[1].alloc_site, reinterpret_cast<const void*>(&alloc_here)));
  SlabDebugStats s = slab_debug_stats();
  EXPECT_EQ(s.live_objects, 2u);
  EXPECT_EQ(s.live_bytes, 30010u);
  g_captured.clear();
  set_print_sink(capture_sink, nullptr);
  EXPECT_EQ(slab_debug_print_leaks(0), 2u);
  EXPECT_EQ(slab_debug_print_leaks(live[0].seq), 1u);  // only those after a
  set_print_sink(nullptr, nullptr);
  EXPECT_NE(g_captured.find(addr_text(a)), std::string::npos) << g_captured;
  EXPECT_NE(g_captured.find(addr_text(c)), std::string::npos) << g_captured;
  EXPECT_EQ(g_captured.find(addr_text(b)), std::string::npos) << g_captured;
  EXPECT_NE(g_captured.find("allocated at " + addr_text(live[0].alloc_site)), std::string::npos) << g_captured;
  EXPECT_NE(g_captured.find("leaks: 2 live debug objects, 30010 bytes"), std::string::npos) << g_captured;
  EXPECT_NE(g_captured.find("leaks: 1 live debug object, 30000 bytes"), std::string::npos) << g_captured;
  kfree(a);
  kfree(c);
  EXPECT_EQ(slab_debug_stats().live_objects, 0u);
}

TEST_F(SlabDebugTest, DisablingReturnsToNormalBehaviour) {
  void* plain_before;
  {
    ASSERT_TRUE(slab_debug_configure("-"));
    EXPECT_FALSE(g_slab_debug_active);
    plain_before = kmalloc(64);
    ASSERT_TRUE(slab_debug_configure("slub_debug"));
  }
  void* d = kmalloc(64);
  SlabDebugObject o;
  EXPECT_FALSE(slab_debug_lookup(plain_before, &o));
  EXPECT_TRUE(slab_debug_lookup(d, &o));
  EXPECT_EQ(ksize(plain_before), 64u);  // a plain block under debug mode
  kfree(plain_before);                  // freed through the plain path
  void* q = kmalloc(32);
  kfree(q);  // in quarantine
  ASSERT_TRUE(slab_debug_configure("-"));
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);  // flushed
  EXPECT_TRUE(g_slab_debug_active);                       // d is still live
  void* p = kmalloc(64);
  EXPECT_FALSE(slab_debug_lookup(p, &o));
  EXPECT_EQ(cache_of(p), find_cache("kmalloc-64"));  // an ordinary object start
  kfree(d);
  EXPECT_FALSE(g_slab_debug_active);
  // Normal mode: a double free is the slab layer's own report.
  kfree(p);
  uint32_t before = report_count();
  kfree(p);
  std::string t = expect_report(before, BugClass::DoubleFree);
  EXPECT_NE(t.find("is already free"), std::string::npos) << t;
}

TEST_F(SlabDebugTest, SelectionByCacheName) {
  ASSERT_TRUE(slab_debug_configure("slub_debug=FZ,kmalloc-64,dentry,buf-*"));
  EXPECT_STREQ(slab_debug_spec(), "FZ,kmalloc-64,dentry,buf-*");
  EXPECT_TRUE(slab_debug_selects("dentry"));
  EXPECT_TRUE(slab_debug_selects("buf-512"));
  EXPECT_FALSE(slab_debug_selects("inode"));
  SlabDebugObject o;
  void* a = kmalloc(64);
  void* b = kmalloc(65);
  EXPECT_TRUE(slab_debug_lookup(a, &o));
  EXPECT_FALSE(slab_debug_lookup(b, &o));
  kfree(a);
  kfree(b);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);  // no Q in "FZ"
  KmemCache* dentry = kmem_cache_create("dentry", 56, 0, 0, nullptr);
  KmemCache* inode = kmem_cache_create("inode", 56, 0, 0, nullptr);
  ASSERT_TRUE(dentry && inode);
  auto* d = static_cast<unsigned char*>(kmem_cache_alloc(dentry));
  void* i = kmem_cache_alloc(inode);
  EXPECT_TRUE(slab_debug_lookup(d, &o));
  EXPECT_STREQ(o.cache_name, "dentry");
  EXPECT_FALSE(slab_debug_lookup(i, &o));
  d[56] = 1;
  uint32_t before = report_count();
  kmem_cache_free(dentry, d);
  std::string t = expect_report(before, BugClass::RedzoneOverwritten);
  EXPECT_NE(t.find("dentry"), std::string::npos) << t;
  EXPECT_NE(t.find("56-byte object"), std::string::npos) << t;
  d[56] = kSlabDebugRedzoneByte;
  before = report_count();
  kmem_cache_free(dentry, i);  // an inode object given to dentry
  expect_report(before, BugClass::WrongHeap);
  before = report_count();
  kmem_cache_free(inode, d);  // a dentry object given to inode (a plain cache: the normal report)
  expect_report(before, BugClass::InvalidFree);
  kmem_cache_free(dentry, d);
  before = report_count();
  kmem_cache_free(dentry, d);
  expect_report(before, BugClass::DoubleFree);
  kmem_cache_free(inode, i);
  EXPECT_TRUE(kmem_cache_destroy(dentry));
  EXPECT_TRUE(kmem_cache_destroy(inode));
}

int g_ctor_calls = 0;
void ctor_fill(void* p) {
  ++g_ctor_calls;
  memset(p, 0x11, 40);
}

TEST_F(SlabDebugTest, DebugCachesWithConstructorsQuarantineAndDestroy) {
  // Callers' SLAB_RED_ZONE selects a cache even with the setting off.
  ASSERT_TRUE(slab_debug_configure("-"));
  KmemCache* c = kmem_cache_create("things", 40, 16, SLAB_RED_ZONE, ctor_fill);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(g_slab_debug_active);
  g_ctor_calls = 0;
  auto* p = static_cast<unsigned char*>(kmem_cache_alloc(c));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
  EXPECT_EQ(g_ctor_calls, 1);
  for (size_t i = 0; i < 40; ++i) ASSERT_EQ(p[i], 0x11);
  auto* z = static_cast<unsigned char*>(kmem_cache_zalloc(c));
  for (size_t i = 0; i < 40; ++i) ASSERT_EQ(z[i], 0);
  kfree(z);  // kfree of a cache object is allowed, as in normal mode
  p[-3] = 0;
  uint32_t before = report_count();
  kmem_cache_free(c, p);
  expect_report(before, BugClass::RedzoneOverwritten);
  before = report_count();
  EXPECT_FALSE(kmem_cache_destroy(c));  // p is still live (its free was refused)
  expect_report(before, BugClass::CacheNotEmpty);
  p[-3] = kSlabDebugRedzoneByte;
  kmem_cache_free(c, p);
  EXPECT_TRUE(kmem_cache_destroy(c));
  EXPECT_FALSE(g_slab_debug_active);
  // With the full setting and a quarantine: destroy flushes the quarantine.
  ASSERT_TRUE(slab_debug_configure("slub_debug"));
  c = kmem_cache_create("things", 40, 0, 0, nullptr);
  void* q = kmem_cache_alloc(c);
  kmem_cache_free(c, q);
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 1u);
  EXPECT_TRUE(kmem_cache_destroy(c));
  EXPECT_EQ(slab_debug_stats().quarantined_objects, 0u);
}

TEST_F(SlabDebugTest, AlignedLargeAndRealloc) {
  for (size_t align : {size_t{32}, size_t{256}, size_t{4096}, size_t{16384}}) {
    auto* p = static_cast<unsigned char*>(kmalloc_aligned(100, align));
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    p[100] = 7;
    EXPECT_EQ(slab_debug_validate(), 1u) << align;
    p[100] = kSlabDebugRedzoneByte;
    kfree(p);
  }
  uint32_t before = report_count();
  EXPECT_EQ(kmalloc_aligned(10, 24), nullptr);
  expect_report(before, BugClass::BadArgument);
  auto* p = static_cast<unsigned char*>(kmalloc(50));
  for (int i = 0; i < 50; ++i) p[i] = static_cast<unsigned char>(i);
  auto* q = static_cast<unsigned char*>(krealloc(p, 20000));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);  // debug krealloc always moves
  for (int i = 0; i < 50; ++i) ASSERT_EQ(q[i], i);
  EXPECT_EQ(ksize(q), 20000u);
  q[20000] = 1;
  before = report_count();
  EXPECT_EQ(krealloc(q, 10), nullptr);  // refused: redzone
  expect_report(before, BugClass::RedzoneOverwritten);
  q[20000] = kSlabDebugRedzoneByte;
  auto* r = static_cast<unsigned char*>(krealloc(q, 10));
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(r[i], i);
  EXPECT_EQ(krealloc(r, 0), nullptr);
  EXPECT_EQ(slab_debug_stats().live_objects, 0u);
}

TEST(SlabDebugSpec, ParsesTheSlubDebugForms) {
  struct Case {
    const char* spec;
    bool ok;
    const char* normalized;
  } cases[] = {
      {"slub_debug", true, "FZPUQ"},  {"", true, "FZPUQ"},          {"slub_debug=FZ", true, "FZ"},
      {"Zp", true, "FZP"},            {"slub_debug=-", true, "-"},  {"0", true, "-"},
      {"off", true, "-"},             {"1", true, "FZPUQ"},         {"slub_debug=,dentry", true, "FZPUQ,dentry"},
      {"U,kmalloc-*,x", true, "FU,kmalloc-*,x"},                     {"FZX", false, nullptr},
      {"slub_debugg", false, nullptr}, {"slub_debug=FZ extra", false, nullptr},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(slab_debug_configure("-"));
    EXPECT_EQ(slab_debug_configure(c.spec), c.ok) << c.spec;
    if (c.ok) { EXPECT_STREQ(slab_debug_spec(), c.normalized) << c.spec; }
    else { EXPECT_STREQ(slab_debug_spec(), "-") << c.spec; }
  }
  ASSERT_TRUE(slab_debug_configure("P,kmalloc-large"));
  EXPECT_TRUE(slab_debug_selects("kmalloc-large"));
  EXPECT_FALSE(slab_debug_selects("kmalloc-64"));
  ASSERT_TRUE(slab_debug_configure(nullptr));
  EXPECT_EQ(slab_debug_checks(), 0u);
  EXPECT_FALSE(g_slab_debug_active);
}

// Random kmalloc/kzalloc/kmalloc_aligned/krealloc/kfree in debug mode (every
// class, or a few: plain blocks mixed in) against a model: contents preserved,
// no two live objects overlap, validate clean, no report; at the end
// everything goes back.
TEST_F(SlabDebugTest, RandomOperationsAgainstAModel) {
  slab_debug_set_quarantine(64, 256 << 10);
  for (uint64_t seed : {0x5eedull, 1ull, 2ull, 3ull}) {
    SCOPED_TRACE(seed);
    // Every class debugged, or some (then the others are plain blocks under debug mode).
    ASSERT_TRUE(slab_debug_configure(seed % 2 ? "slub_debug" : "FZPUQ,kmalloc-64,kmalloc-1*,kmalloc-large"));
    std::mt19937_64 rng(seed);
    struct Obj {
      size_t size;
      uint8_t fill;
    };
    std::map<uintptr_t, Obj> live;
    auto check_contents = [](const unsigned char* p, const Obj& o) {
      for (size_t i = 0; i < o.size; ++i)
        if (p[i] != o.fill) return false;
      return true;
    };
    auto pick_size = [&]() -> size_t {
      switch (rng() % 8) {
        case 0: return rng() % 16;
        case 1: return 9000 + rng() % 20000;
        default: return rng() % 1500;
      }
    };
    for (int step = 0; step < 6000; ++step) {
      unsigned op = rng() % 10;
      if (live.empty() || op < 4) {
        size_t n = pick_size();
        unsigned char* p;
        if (op == 1) p = static_cast<unsigned char*>(kzalloc(n));
        else if (op == 2) p = static_cast<unsigned char*>(kmalloc_aligned(n, size_t{1} << (rng() % 10)));
        else p = static_cast<unsigned char*>(kmalloc(n));
        ASSERT_NE(p, nullptr);
        if (op == 1) { ASSERT_TRUE(check_contents(p, Obj{n, 0})); }
        SlabDebugObject dbg;
        if (slab_debug_lookup(p, &dbg)) {
          EXPECT_EQ(ksize(p), n);
        } else {
          EXPECT_GE(ksize(p), kmalloc_good_size(n));  // a class with the alignment may be larger
        }
        uint8_t fill = static_cast<uint8_t>(rng());
        memset(p, fill, n);
        live[reinterpret_cast<uintptr_t>(p)] = Obj{n, fill};
      } else {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng() % live.size()));
        auto* p = reinterpret_cast<unsigned char*>(it->first);
        Obj o = it->second;
        ASSERT_TRUE(check_contents(p, o)) << step;
        live.erase(it);
        if (op < 7) {
          kfree(p);
        } else {
          size_t n = pick_size();
          auto* q = static_cast<unsigned char*>(krealloc(p, n));
          if (n == 0) {
            EXPECT_EQ(q, nullptr);
            continue;
          }
          ASSERT_NE(q, nullptr);
          ASSERT_TRUE(check_contents(q, Obj{std::min(n, o.size), o.fill})) << step;
          memset(q, o.fill, n);
          live[reinterpret_cast<uintptr_t>(q)] = Obj{n, o.fill};
        }
      }
      if (step % 500 == 0) { ASSERT_EQ(slab_debug_validate(), 0u) << step; }
    }
    // No overlaps: each object ends before the next begins.
    uintptr_t end = 0;
    for (auto& [a, o] : live) {
      EXPECT_GE(a, end);
      end = a + o.size;
    }
    size_t debugged = 0;
    for (auto& [a, o] : live) {
      SlabDebugObject dbg;
      debugged += slab_debug_lookup(reinterpret_cast<void*>(a), &dbg) && dbg.live && dbg.size == o.size;
    }
    EXPECT_EQ(slab_debug_stats().live_objects, debugged);
    if (seed % 2) { EXPECT_EQ(debugged, live.size()); }
    EXPECT_EQ(slab_debug_validate(), 0u);
    for (auto& [a, o] : live) {
      ASSERT_TRUE(check_contents(reinterpret_cast<unsigned char*>(a), o));
      kfree(reinterpret_cast<void*>(a));
    }
    slab_debug_flush_quarantine();
    EXPECT_EQ(report_count(), 0u) << last_text();
    EXPECT_EQ(slab_debug_stats().live_objects, 0u);
    EXPECT_TRUE(slab_check());
  }
  EXPECT_TRUE(slab_debug_configure("-"));
  EXPECT_FALSE(g_slab_debug_active);
}

}  // namespace
