// kernel/selftest_debug.cpp — in-kernel tests of the slab debug mode
// (lib/debug/slab_debug.h) on the live kernel heap: one test per bug class
// (redzone overwritten, use-after-free write, double free, invalid free,
// wrong cache), the quarantine, poison, leaks, validate, selection by cache
// name, and switching off. Each test switches debug mode on for itself and
// puts the previous setting (e.g. the boot's slub_debug) back afterwards;
// reports are expected, their echo is off and the report action is "refuse"
// meanwhile (even under kheap_panic_on_bug).
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "ktest.h"
#include "platform/platform.h"
#include "slab/slab.h"
#include "debug/slab_debug.h"

namespace kheap::kernel {

namespace {

class DebugOn {
 public:
  explicit DebugOn(const char* spec) : before_(report_count()), action_(report_action()) {
    str_copy(saved_, slab_debug_spec(), sizeof saved_);
    set_report_echo(false);
    set_report_action(ReportAction::Refuse);
    ok_ = slab_debug_configure(spec);
  }
  ~DebugOn() {
    slab_debug_flush_quarantine();
    slab_debug_configure(saved_);
    set_report_action(action_);
    set_report_echo(true);
  }
  bool ok() const { return ok_; }
  uint32_t reports() const { return report_count() - before_; }
  // The last report is of class c and mentions every one of the texts.
  bool last_is(BugClass c, const char* a = nullptr, const char* b = nullptr, const char* d = nullptr) const {
    const LastReport& r = last_report();
    return r.bug_class == c && contains(r.text, bug_class_name(c)) && (!a || contains(r.text, a)) &&
           (!b || contains(r.text, b)) && (!d || contains(r.text, d));
  }
  static bool contains(const char* hay, const char* needle) {
    size_t n = str_length(needle);
    for (; *hay; ++hay)
      if (__builtin_memcmp(hay, needle, n) == 0) return true;
    return false;
  }

 private:
  char saved_[300];
  uint32_t before_;
  ReportAction action_;
  bool ok_;
};

struct Text {
  char buf[48];
};
Text hex_of(const void* p) {
  Text t;
  format(t.buf, sizeof t.buf, "%p", p);
  return t;
}

}  // namespace

KTEST(debug_overflow_by_one_byte_is_a_redzone_report) {
  DebugOn d("FZPUQ");
  KREQUIRE(d.ok());
  auto* p = static_cast<uint8_t*>(kmalloc(64));
  KREQUIRE(p != nullptr);
  KCHECK_EQ(ksize(p), 64u);
  p[64] = 0;
  kfree(p);
  KCHECK_EQ(d.reports(), 1u);
  KCHECK(d.last_is(BugClass::RedzoneOverwritten, hex_of(p).buf, "kmalloc-64", "64-byte object"));
  KCHECK(DebugOn::contains(last_report().text, "allocated at"));
  SlabDebugObject o;
  KCHECK(slab_debug_lookup(p, &o) && o.live);  // refused: still live
  KCHECK_EQ(slab_debug_validate(), 1u);
  p[64] = kSlabDebugRedzoneByte;
  kfree(p);
  KCHECK_EQ(d.reports(), 2u);
  KCHECK(slab_debug_lookup(p, &o) && o.quarantined);
}

KTEST(debug_underflow_is_a_redzone_report) {
  DebugOn d("FZPUQ");
  auto* p = static_cast<uint8_t*>(kmalloc(24));
  KREQUIRE(p != nullptr);
  p[-2] = 1;
  KCHECK_EQ(slab_debug_validate(), 1u);
  KCHECK(d.last_is(BugClass::RedzoneOverwritten, "left redzone", hex_of(p).buf, "kmalloc-24"));
  p[-2] = kSlabDebugRedzoneByte;
  kfree(p);
  KCHECK_EQ(d.reports(), 1u);
}

KTEST(debug_use_after_free_write_is_caught) {
  DebugOn d("FZPUQ");
  auto* p = static_cast<uint8_t*>(kmalloc(100));
  KREQUIRE(p != nullptr);
  kfree(p);
  for (size_t i = 0; i < 100; ++i) KCHECK_EQ(p[i], kSlabDebugFreeByte);
  p[50] = 0x42;
  KCHECK_EQ(slab_debug_validate(), 1u);
  KCHECK(d.last_is(BugClass::UseAfterFreeWrite, hex_of(p).buf, "offsets 50 to 50", "freed at"));
  slab_debug_flush_quarantine();  // leaving the quarantine: reported again, then the block is given back
  KCHECK_EQ(d.reports(), 2u);
  KCHECK(d.last_is(BugClass::UseAfterFreeWrite, "leaving the quarantine", "42 6b"));
}

KTEST(debug_double_free_names_both_frees) {
  DebugOn d("FZPUQ");
  void* p = kmalloc(300);
  KREQUIRE(p != nullptr);
  kfree(p);
  kfree(p);
  KCHECK_EQ(d.reports(), 1u);
  KCHECK(d.last_is(BugClass::DoubleFree, hex_of(p).buf, "freed at", "freed again at"));
  slab_debug_flush_quarantine();
  kfree(p);  // given back to its cache meanwhile: still recognized
  KCHECK_EQ(d.reports(), 2u);
  KCHECK(d.last_is(BugClass::DoubleFree, "300-byte object"));
}

KTEST(debug_invalid_and_wrong_cache_frees_are_refused) {
  DebugOn d("FZPUQ");
  auto* p = static_cast<char*>(kmalloc(64));
  KREQUIRE(p != nullptr);
  kfree(p + 4);
  KCHECK(d.last_is(BugClass::InvalidFree, "4 bytes into the object", hex_of(p).buf));
  int local = 0;
  kfree(&local);
  KCHECK(d.last_is(BugClass::InvalidFree, "outside the kernel heap"));
  KmemCache* a = kmem_cache_create("ktest-dbg-a", 40, 0, 0, nullptr);
  KmemCache* b = kmem_cache_create("ktest-dbg-b", 40, 0, 0, nullptr);
  KREQUIRE(a && b);
  void* x = kmem_cache_alloc(a);
  KREQUIRE(x != nullptr);
  kmem_cache_free(b, x);
  KCHECK(d.last_is(BugClass::WrongHeap, "ktest-dbg-a", "ktest-dbg-b"));
  KCHECK_EQ(d.reports(), 3u);
  kmem_cache_free(a, x);
  kfree(p);
  KCHECK_EQ(d.reports(), 3u);
  KCHECK(kmem_cache_destroy(a));  // its quarantined object is flushed first
  KCHECK(kmem_cache_destroy(b));
}

KTEST(debug_quarantine_delays_reuse) {
  DebugOn d("FZPUQ");
  slab_debug_set_quarantine(16, 1 << 20);
  void* p = kmalloc(48);
  KREQUIRE(p != nullptr);
  kfree(p);
  void* got[64];
  bool reused = false;
  for (auto& q : got) {
    q = kmalloc(48);
    reused |= q == p;
  }
  KCHECK(!reused);
  SlabDebugObject o;
  KCHECK(slab_debug_lookup(p, &o) && o.quarantined);
  for (auto& q : got) kfree(q);  // 65 frees through a 16-object quarantine: p left it
  KCHECK(slab_debug_lookup(p, &o) && !o.quarantined && !o.live);
  KCHECK_EQ(slab_debug_stats().quarantined_objects, 16u);
  slab_debug_set_quarantine(256, 1 << 20);
  KCHECK_EQ(d.reports(), 0u);
}

KTEST(debug_poison_and_zeroing) {
  DebugOn d("FZPUQ");
  auto* p = static_cast<uint8_t*>(kmalloc(77));
  auto* z = static_cast<uint8_t*>(kzalloc(77));
  KREQUIRE(p && z);
  bool poisoned = true, zeroed = true;
  for (size_t i = 0; i < 77; ++i) {
    poisoned &= p[i] == kSlabDebugAllocByte;
    zeroed &= z[i] == 0;
  }
  KCHECK(poisoned);
  KCHECK(zeroed);
  auto* r = static_cast<uint8_t*>(krealloc(p, 5000));
  KREQUIRE(r != nullptr);
  KCHECK(r != p);
  KCHECK_EQ(r[76], kSlabDebugAllocByte);
  KCHECK_EQ(ksize(r), 5000u);
  kfree(r);
  kfree(z);
  KCHECK_EQ(d.reports(), 0u);
}

namespace {
struct Seen {
  void* want[3];
  int found;
};
bool visit(void* ctx, const SlabDebugObject& o) {
  auto* s = static_cast<Seen*>(ctx);
  for (void* w : s->want)
    if (w == o.object) ++s->found;
  return true;
}
}  // namespace

KTEST(debug_leaks_lists_live_objects_in_order) {
  DebugOn d("FZPUQ");
  uint32_t start = slab_debug_stats().last_seq;
  void* a = kmalloc(10);
  void* b = kmalloc(20);
  void* c = kmalloc(10000);
  kfree(b);
  Seen s{{a, b, c}, 0};
  slab_debug_for_each_live(visit, &s);
  KCHECK_EQ(s.found, 2);
  SlabDebugObject oa, oc;
  KREQUIRE(slab_debug_lookup(a, &oa) && slab_debug_lookup(c, &oc));
  KCHECK(oa.seq == start + 1 && oc.seq == start + 3);
  KCHECK(oa.alloc_site != nullptr);
  KCHECK(str_equal(oc.cache_name, "kmalloc-large"));
  kfree(a);
  kfree(c);
  KCHECK_EQ(d.reports(), 0u);
}

KTEST(debug_selection_by_cache_name_and_off) {
  DebugOn d("FZ,kmalloc-128,ktest-sel");
  KREQUIRE(d.ok());
  SlabDebugObject o;
  void* in = kmalloc(120);
  void* out = kmalloc(300);
  KCHECK(slab_debug_lookup(in, &o));
  KCHECK(!slab_debug_lookup(out, &o));
  KmemCache* sel = kmem_cache_create("ktest-sel", 30, 0, 0, nullptr);
  KmemCache* other = kmem_cache_create("ktest-other", 30, 0, 0, nullptr);
  KREQUIRE(sel && other);
  void* x = kmem_cache_alloc(sel);
  void* y = kmem_cache_alloc(other);
  KCHECK(slab_debug_lookup(x, &o));
  KCHECK(!slab_debug_lookup(y, &o));
  kmem_cache_free(sel, x);
  kmem_cache_free(other, y);
  KCHECK(kmem_cache_destroy(sel));
  KCHECK(kmem_cache_destroy(other));
  kfree(in);
  kfree(out);
  KCHECK(slab_debug_configure("-"));
  void* plain = kmalloc(100);
  KCHECK(!slab_debug_lookup(plain, &o));
  KCHECK(cache_of(plain) != nullptr);  // an ordinary object start again
  kfree(plain);
  KCHECK_EQ(d.reports(), 0u);
}

}  // namespace kheap::kernel
