// lib/debug/slab_debug.cpp — the debug layer's objects: layout, the live list
// and the quarantine, the checks, the reports, and the hooks the kmalloc
// family and kmem caches branch to (overview and spec in slab_debug.h).
//
// A debug block:
//
//   block                 block + kHeaderBytes     user = block + prefix     user + size       block + raw_size
//   | DebugHeader (magic…) | left redzone (0xbb)    | object                  | right redzone (0xbb) |
//
// Invariants
//   - every live debug object is on g.live (allocation order, seq ascending),
//     every freed one not yet given back is on g.quarantine (free order);
//     their headers have magic kLiveMagic / kQuarantinedMagic and a check word
//     (header_check) over every field but the links and itself.
//   - a freed object's bytes are 0x6b (poison on), its redzones 0xbb (both
//     filled always, verified only when the block's checks say so).
//   - a block given back to the allocator keeps its header, as kReleasedMagic
//     (the allocator writes nothing into free objects), so a later double free
//     is still recognized and a later reuse verifies the poison first. Such a
//     stale header in a block the allocator handed out again as a plain block
//     (allocated + kReleasedMagic) is no debug header: debug_header_of().
//     Reuse verification is limited to blocks inside one page: a slab or large
//     run made again at the same address may get other frames for its pages.
//   - g_slab_debug_active == setting on, or debug objects/caches exist.
// Reports name the bug class, the object (address, size, cache), the debug
// block (cache or large run, object index), the offending bytes in hex and
// the alloc/free sites. The caller's operation is refused (nothing changed)
// when its pointer is bad or the object is corrupt.
//
// Locking: the slab layer's recursive lock (g_slab.lock) around every public
// function, so the debug lists and the slab internals lib/slab/debug_support.cpp
// calls are serialized together; reports are made with it held (they do not
// allocate).
#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "core/spinlock.h"
#include "core/string_util.h"
#include "platform/platform.h"
#include "debug/slab_debug_internal.h"

namespace kheap {

constinit bool g_slab_debug_active = false;

}  // namespace kheap

namespace kheap::slab::debug {

namespace {

constexpr uint32_t kLiveMagic = 0xDEB6A11C;
constexpr uint32_t kQuarantinedMagic = 0xDEB6F4EE;  // freed, waiting in the quarantine
constexpr uint32_t kReleasedMagic = 0xDEB6DEAD;     // freed and given back to the allocator
constexpr size_t kRedzone = 16;           // at least this many bytes on each side
constexpr size_t kMaxDebugCaches = 32;
constexpr size_t kDefaultQuarantineObjects = 256;
constexpr size_t kDefaultQuarantineBytes = size_t{1} << 20;
constexpr size_t kHexShown = 16;          // offending bytes shown in a report

struct DebugHeader {
  // The slot's first word belongs to the slab layer while the slot is free in
  // its slab (the free mark, lib/slab/thread_cache.h): nothing of the header
  // lives there, so a released block's header survives for later reports.
  uintptr_t slab_word;
  uint32_t magic;
  uint32_t seq;
  size_t size;           // asked for
  size_t prefix;         // user - block
  size_t raw_size;       // the block's usable bytes (the right redzone runs to here)
  KmemCache* cache;      // named debug cache, or the kmalloc class cache of `size` (nullptr: kmalloc-large)
  const void* alloc_site;
  const void* free_site;
  uint32_t checks;       // kSlabDebug* in force for this block
  uint32_t check;        // header_check()
  DebugHeader* prev;     // g_live or g_quarantine
  DebugHeader* next;
};

constexpr size_t kHeaderBytes = align_up(sizeof(DebugHeader), kMinAlign);
constexpr size_t kPrefix = align_up(kHeaderBytes + kRedzone, kMinAlign);  // for kMinAlign objects
static_assert(kPrefix % kMinAlign == 0 && kPrefix - kHeaderBytes >= kRedzone);

struct DebugList {
  DebugHeader* head;
  DebugHeader* tail;
  size_t count;
  size_t bytes;
};

struct DebugCacheInfo {
  KmemCache* cache;      // nullptr: free entry
  size_t object_size;    // what the creator asked for
  size_t prefix;
  uint32_t checks;
  KmemCtor ctor;
};

struct DebugState {
  DebugConfig config;
  char spec[kNameBytes + 16];
  bool kmalloc_selected[kNumClasses + 1];  // [kNumClasses]: kmalloc-large
  DebugList live;
  DebugList quarantine;
  size_t max_quarantine_objects;
  size_t max_quarantine_bytes;
  uint32_t seq;
  size_t problems;
  size_t cache_count;
  DebugCacheInfo caches[kMaxDebugCaches];
  SlabDebugSymbolizer symbolizer;
};

constinit DebugState g{.config = {}, .spec = "-", .kmalloc_selected = {}, .live = {}, .quarantine = {},
                       .max_quarantine_objects = kDefaultQuarantineObjects,
                       .max_quarantine_bytes = kDefaultQuarantineBytes, .seq = 0, .problems = 0, .cache_count = 0,
                       .caches = {}, .symbolizer = nullptr};

class Guard {
 public:
  // The slab layer's lock: the debug layer's lists and the slab internals it
  // calls (lib/slab/debug_support.cpp) are all under it.
  Guard() { g_slab.lock.lock(); }
  ~Guard() { g_slab.lock.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

void update_active() {
  bool active = g.config.checks != 0 || g.live.count || g.quarantine.count || g.cache_count;
  if (active != g_slab_debug_active) route_to_debug(active);
  g_slab_debug_active = active;
}

/* --- Headers and lists --------------------------------------------------------- */

uint32_t header_check(const DebugHeader* h) {
  uint64_t x = 0x9E3779B97F4A7C15ull ^ h->magic;
  auto mix = [&x](uint64_t v) {
    x ^= v + 0x9E3779B97F4A7C15ull + (x << 6) + (x >> 2);
  };
  mix(h->seq);
  mix(h->size);
  mix(h->prefix);
  mix(h->raw_size);
  mix(reinterpret_cast<uintptr_t>(h->cache));
  mix(reinterpret_cast<uintptr_t>(h->alloc_site));
  mix(reinterpret_cast<uintptr_t>(h->free_site));
  mix(h->checks);
  mix(reinterpret_cast<uintptr_t>(h));  // a copied header does not check elsewhere
  return static_cast<uint32_t>(x ^ (x >> 32));
}

void seal(DebugHeader* h) { h->check = header_check(h); }

// A header that is what it claims (a debug block of these geometry bounds).
bool header_ok(const DebugHeader* h, size_t raw_usable) {
  return (h->magic == kLiveMagic || h->magic == kQuarantinedMagic || h->magic == kReleasedMagic) &&
         h->check == header_check(h) &&
         h->prefix >= kHeaderBytes + kRedzone && h->raw_size <= raw_usable && h->prefix <= h->raw_size &&
         h->size <= h->raw_size - h->prefix;
}

void list_append(DebugList& l, DebugHeader* h, size_t weight) {
  h->prev = l.tail;
  h->next = nullptr;
  if (l.tail) l.tail->next = h;
  else l.head = h;
  l.tail = h;
  ++l.count;
  l.bytes += weight;
}

void list_remove(DebugList& l, DebugHeader* h, size_t weight) {
  KHEAP_ASSERT(l.count > 0);
  if (h->prev) h->prev->next = h->next;
  else l.head = h->next;
  if (h->next) h->next->prev = h->prev;
  else l.tail = h->prev;
  h->prev = h->next = nullptr;
  --l.count;
  l.bytes -= weight;
}

char* user_of(DebugHeader* h) { return reinterpret_cast<char*>(h) + h->prefix; }
const char* user_of(const DebugHeader* h) { return reinterpret_cast<const char*>(h) + h->prefix; }

/* --- Reports ------------------------------------------------------------------- */

const char* kmalloc_name(const KmemCache* cache) { return cache ? cache->name : "kmalloc-large"; }

// First byte in [p, p+n) that is not `value`, or n.
size_t first_not(const uint8_t* p, size_t n, uint8_t value) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value) return i;
  return n;
}
size_t last_not(const uint8_t* p, size_t n, uint8_t value) {
  for (size_t i = n; i > 0; --i)
    if (p[i - 1] != value) return i - 1;
  return n;
}

struct Text {
  char buf[900];
  size_t len = 0;
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    va_list args;
    va_start(args, fmt);
    if (len < sizeof buf) len += vformat(buf + len, sizeof buf - len, fmt, args);
    va_end(args);
  }
};

void add_site(Text& t, const char* what, const void* site) {
  char s[128];
  slab_debug_format_site(s, sizeof s, site);
  t.add("  %s %s\n", what, s);
}

// The lines that say which object and block this is, and its sites.
void describe_object(Text& t, const DebugHeader* h, bool sites) {
  const char* user = user_of(h);
  t.add("  object %p: %zu bytes of %s, seq %u, %s\n", static_cast<const void*>(user), h->size, kmalloc_name(h->cache),
        h->seq, h->magic == kLiveMagic ? "allocated" : "freed");
  Where w = locate(h);
  if (w.kind == Where::Slab)
    t.add("  debug block %p: object %zu of cache %s (object size %zu)\n", static_cast<const void*>(h), w.index,
          w.cache->name, w.cache->size);
  else if (w.kind == Where::Large)
    t.add("  debug block %p: large block (%zu pages)\n", static_cast<const void*>(h), w.run_pages);
  if (!sites) return;
  if (h->alloc_site || (h->checks & kSlabDebugUser)) add_site(t, "allocated at", h->alloc_site);
  if (h->magic != kLiveMagic && (h->free_site || (h->checks & kSlabDebugUser))) add_site(t, "freed at", h->free_site);
}

// "bytes at ADDR (offset +N): xx xx ... (expected bb)"
void add_bytes(Text& t, const void* at, ptrdiff_t offset, size_t available, uint8_t expected) {
  char hex[kHexShown * 3 + 4];
  size_t n = available < kHexShown ? available : kHexShown;
  format_hex_bytes(hex, sizeof hex, at, n);
  t.add("  bytes at %p (object offset %+td): %s (expected %02x)\n", at, offset, hex, expected);
}

void emit(BugClass cls, const Text& t) {
  ++g.problems;
  report_bug(cls, "%s", t.buf);
}

/* --- Verification ----------------------------------------------------------------- */

// Redzones of a block whose header is good. Reports (with `op` and the site
// of this operation) and returns false if a byte is off.
bool verify_redzones(const DebugHeader* h, const char* op, const void* p, const void* site) {
  if (!(h->checks & kSlabDebugRedzone)) return true;
  const auto* block = reinterpret_cast<const uint8_t*>(h);
  const auto* left = block + kHeaderBytes;
  size_t left_len = h->prefix - kHeaderBytes;
  const auto* right = block + h->prefix + h->size;
  size_t right_len = h->raw_size - h->prefix - h->size;
  size_t l = first_not(left, left_len, kSlabDebugRedzoneByte);
  size_t r = first_not(right, right_len, kSlabDebugRedzoneByte);
  if (l == left_len && r == right_len) return true;
  Text t;
  const auto* user = block + h->prefix;
  if (r < right_len) {
    size_t last = last_not(right, right_len, kSlabDebugRedzoneByte);
    t.add("  %s(%p): right redzone of a %zu-byte object of %s written: %zu byte(s) past its end, from offset %zu to %zu\n",
          op, p, h->size, kmalloc_name(h->cache), last - r + 1, h->size + r, h->size + last);
    add_bytes(t, right + r, static_cast<ptrdiff_t>(h->size + r), right_len - r, kSlabDebugRedzoneByte);
  }
  if (l < left_len) {
    size_t last = last_not(left, left_len, kSlabDebugRedzoneByte);
    t.add("  %s(%p): left redzone of a %zu-byte object of %s written: from offset -%zu to -%zu (before its start)\n",
          op, p, h->size, kmalloc_name(h->cache), static_cast<size_t>(user - (left + l)),
          static_cast<size_t>(user - (left + last)));
    add_bytes(t, left + l, -static_cast<ptrdiff_t>(user - (left + l)), left_len - l, kSlabDebugRedzoneByte);
  }
  describe_object(t, h, true);
  if (site) add_site(t, "found by a call from", site);
  emit(BugClass::RedzoneOverwritten, t);
  return false;
}

// The poison of a freed object. Reports a use-after-free write.
bool verify_poison(const DebugHeader* h, const char* when) {
  if (!(h->checks & kSlabDebugPoison)) return true;
  const auto* user = reinterpret_cast<const uint8_t*>(user_of(h));
  size_t first = first_not(user, h->size, kSlabDebugFreeByte);
  if (first == h->size) return true;
  size_t last = last_not(user, h->size, kSlabDebugFreeByte);
  Text t;
  t.add("  %s: a freed %zu-byte object of %s was written after kfree: offsets %zu to %zu changed\n", when, h->size,
        kmalloc_name(h->cache), first, last);
  add_bytes(t, user + first, static_cast<ptrdiff_t>(first), h->size - first, kSlabDebugFreeByte);
  describe_object(t, h, true);
  emit(BugClass::UseAfterFreeWrite, t);
  return false;
}

void restore_freed(DebugHeader* h) {
  char* block = reinterpret_cast<char*>(h);
  memset(block + kHeaderBytes, kSlabDebugRedzoneByte, h->prefix - kHeaderBytes);
  if (h->checks & kSlabDebugPoison) memset(block + h->prefix, kSlabDebugFreeByte, h->size);
  memset(block + h->prefix + h->size, kSlabDebugRedzoneByte, h->raw_size - h->prefix - h->size);
}

/* --- Release: quarantine exit ---------------------------------------------------------- */

void release(DebugHeader* h) {
  Where w = locate(h);
  KHEAP_ASSERT(w.kind != Where::None && w.allocated && w.offset == 0);
  bool redzones_ok = verify_redzones(h, "quarantine", user_of(h), nullptr);
  bool poison_ok = verify_poison(h, "leaving the quarantine");  // both reported, if both are off
  if (!redzones_ok || !poison_ok) restore_freed(h);           // reported once: not again at reuse
  h->magic = kReleasedMagic;
  seal(h);
  free_block(w);
}

void trim_quarantine() {
  while (g.quarantine.count &&
         (g.quarantine.count > g.max_quarantine_objects || g.quarantine.bytes > g.max_quarantine_bytes)) {
    DebugHeader* h = g.quarantine.head;
    list_remove(g.quarantine, h, h->raw_size);
    release(h);
  }
}

void flush_quarantine_locked(const KmemCache* only) {
  for (DebugHeader* h = g.quarantine.head; h;) {
    DebugHeader* next = h->next;
    if (!only || locate(h).cache == only) {
      list_remove(g.quarantine, h, h->raw_size);
      release(h);
    }
    h = next;
  }
}

/* --- Making a debug object ------------------------------------------------------------ */

// A block that comes back from the allocator may have been a debug object
// before: verify what its freed state promised.
// Only blocks inside one page: the allocator gives the frames of a freed run
// back, and a run made later at the same address may get other frames for
// its other pages (so only one page's contents are known to have stayed).
void verify_reuse(const DebugHeader* h, size_t usable) {
  if (h->magic != kReleasedMagic || !header_ok(h, usable)) return;
  uintptr_t first = reinterpret_cast<uintptr_t>(h), last = first + h->raw_size - 1;
  if ((first >> kPageShift) != (last >> kPageShift)) return;
  verify_redzones(h, "reuse", user_of(h), nullptr);
  verify_poison(h, "reusing its memory");
}

enum class Fill { AllocPoison, Zero };

// Lay a debug object out in `block` (usable bytes) and list it. Locked.
char* make_object(char* block, size_t usable, size_t prefix, size_t size, KmemCache* cache, uint32_t checks,
                  const void* site, Fill fill) {
  auto* h = reinterpret_cast<DebugHeader*>(block);
  verify_reuse(h, usable);
  h->magic = kLiveMagic;
  h->seq = ++g.seq;
  h->size = size;
  h->prefix = prefix;
  h->raw_size = usable;
  h->cache = cache;
  h->alloc_site = (checks & kSlabDebugUser) ? site : nullptr;
  h->free_site = nullptr;
  h->checks = checks;
  seal(h);
  memset(block + kHeaderBytes, kSlabDebugRedzoneByte, prefix - kHeaderBytes);
  if (fill == Fill::Zero) memset(block + prefix, 0, size);
  else if (fill == Fill::AllocPoison && (checks & kSlabDebugPoison)) memset(block + prefix, kSlabDebugAllocByte, size);
  memset(block + prefix + size, kSlabDebugRedzoneByte, usable - prefix - size);
  list_append(g.live, h, size);
  update_active();
  return block + prefix;
}

uint32_t kmalloc_checks(size_t size) {
  if (!g.config.checks) return 0;
  return g.kmalloc_selected[kmalloc_class_index(size)] ? g.config.checks : 0;
}

void* debug_kmalloc(size_t size, size_t align, const void* site, Fill fill) {
  Guard guard;
  uint32_t checks = kmalloc_checks(size);
  size_t usable, prefix = align_up(kHeaderBytes + kRedzone, align), total;
  if (!checks) {
    void* p = alloc_block(size, align, &usable);
    if (p && fill == Fill::Zero) memset(p, 0, size);
    return p;
  }
  if (!checked_add(prefix, size, &total) || !checked_add(total, kRedzone, &total)) return nullptr;
  char* block = static_cast<char*>(alloc_block(total, align, &usable));
  if (!block) return nullptr;
  return make_object(block, usable, prefix, size, kmalloc_class_cache(size), checks, site, fill);
}

DebugCacheInfo* find_cache_info(const KmemCache* c) {
  for (auto& info : g.caches)
    if (info.cache == c && c) return &info;
  return nullptr;
}

/* --- Freeing --------------------------------------------------------------------------- */

// The debug header of the block p points into, if that block is (or was) a
// debug block: sets *w to where p lies either way.
DebugHeader* debug_header_of(const void* p, Where* w) {
  *w = locate(p);
  if (w->kind == Where::None) return nullptr;
  auto* h = reinterpret_cast<DebugHeader*>(w->start);
  if (w->usable < kPrefix || !header_ok(h, w->usable)) return nullptr;
  // Live and quarantined debug blocks are allocated, released ones free; a
  // released header in an allocated block is stale (a plain block now).
  bool debug = h->magic == kReleasedMagic ? !w->allocated : w->allocated;
  return debug ? h : nullptr;
}

void report_interior(BugClass cls, const char* op, const void* p, const DebugHeader* h, const void* site) {
  Text t;
  ptrdiff_t off = static_cast<const char*>(p) - user_of(h);
  t.add("  %s(%p): not the start of a debug object: %td bytes %s the object at %p\n", op, p, off < 0 ? -off : off,
        off < 0 ? "before" : "into", static_cast<const void*>(user_of(h)));
  describe_object(t, h, true);
  add_site(t, "called from", site);
  emit(cls, t);
}

void report_double_free(const char* op, const void* p, const DebugHeader* h, const void* site) {
  Text t;
  t.add("  %s(%p): the %zu-byte object of %s was freed already\n", op, p, h->size, kmalloc_name(h->cache));
  describe_object(t, h, true);
  add_site(t, "freed again at", site);
  emit(BugClass::DoubleFree, t);
}

// A block whose debug header was overwritten (by an overflow of the block
// before it, or an underflow of its own object past the left redzone): p is at
// the usual debug offset and the left redzone still looks like one.
bool looks_like_smashed_header(const Where& w) {
  if (w.kind == Where::None || !w.allocated || w.offset != kPrefix || w.usable < kPrefix + kRedzone) return false;
  const auto* left = reinterpret_cast<const uint8_t*>(w.start) + kHeaderBytes;
  size_t n = first_not(left, kPrefix - kHeaderBytes, kSlabDebugRedzoneByte);
  return n * 2 >= kPrefix - kHeaderBytes;  // at least half of it intact
}

void report_smashed_header(const char* op, const void* p, const Where& w, const void* site) {
  Text t;
  t.add("  %s(%p): the debug header in front of this object was overwritten (an overflow of the object before "
        "it, or an underflow of this one)\n", op, p);
  if (w.kind == Where::Slab)
    t.add("  debug block %p: object %zu of cache %s (object size %zu)\n", static_cast<void*>(w.start), w.index,
          w.cache->name, w.cache->size);
  char hex[kHexShown * 3 + 4];
  format_hex_bytes(hex, sizeof hex, w.start, kHexShown);
  t.add("  header bytes at %p: %s\n", static_cast<void*>(w.start), hex);
  if (site) add_site(t, "called from", site);
  emit(BugClass::RedzoneOverwritten, t);
}

// Free p (expected: the cache of kmem_cache_free, or nullptr for kfree).
// Locked. Returns false if refused (reported).
bool free_locked(const void* p, KmemCache* expected, const char* op, const void* site) {
  Where w;
  DebugHeader* h = debug_header_of(p, &w);
  if (!h) {
    if (expected && w.kind == Where::Slab && w.cache == expected && w.offset != 0) {
      // Inside an object of a debug cache that holds no debug header: corrupt
      // beyond recognition, or a pointer never handed out.
      Text t;
      t.add("  %s(%s, %p): not a debug object of this cache (%zu bytes into object %zu at %p; its debug header is "
            "corrupt or was never written)\n", op, expected->name, p, w.offset, w.index,
            static_cast<void*>(w.start));
      char hex[kHexShown * 3 + 4];
      format_hex_bytes(hex, sizeof hex, w.start, kHexShown);
      t.add("  header bytes at %p: %s\n", static_cast<void*>(w.start), hex);
      add_site(t, "called from", site);
      emit(BugClass::InvalidFree, t);
      return false;
    }
    if (looks_like_smashed_header(w)) {
      report_smashed_header(op, p, w, site);
      return false;
    }
    Where plain;
    if (!check_plain(p, expected, op, true, &plain)) return false;
    free_block(plain);
    return true;
  }
  if (user_of(h) != p) {
    report_interior(BugClass::InvalidFree, op, p, h, site);
    return false;
  }
  if (expected && w.cache != expected) {
    Text t;
    t.add("  %s(%s, %p): the object belongs to %s, not to cache %s; refused\n", op, expected->name, p,
          w.kind == Where::Slab ? w.cache->name : "a large kmalloc block", expected->name);
    describe_object(t, h, true);
    emit(BugClass::WrongHeap, t);
    return false;
  }
  if (!expected && w.kind == Where::Slab && w.cache->owner) {
    check_plain(p, nullptr, op, true, &w);  // the normal WrongHeap report
    return false;
  }
  if (h->magic != kLiveMagic) {
    report_double_free(op, p, h, site);
    return false;
  }
  if (!verify_redzones(h, op, p, site)) return false;  // refused: the object stays live (and listed)
  list_remove(g.live, h, h->size);
  bool quarantine = (h->checks & kSlabDebugQuarantine) && (g.config.checks & kSlabDebugQuarantine);
  h->magic = quarantine ? kQuarantinedMagic : kReleasedMagic;
  h->free_site = (h->checks & kSlabDebugUser) ? site : nullptr;
  seal(h);
  if (h->checks & kSlabDebugPoison) memset(user_of(h), kSlabDebugFreeByte, h->size);
  if (quarantine) {
    list_append(g.quarantine, h, h->raw_size);
    trim_quarantine();
  } else {
    free_block(w);
  }
  update_active();
  return true;
}

// What p is, for krealloc and ksize: its size (debug: asked for; plain:
// usable). Reports (op) and returns false if p is not a live block.
bool live_size_locked(const void* p, const char* op, bool frees, size_t* size, const void* site) {
  Where w;
  DebugHeader* h = debug_header_of(p, &w);
  if (!h) {
    if (looks_like_smashed_header(w)) {
      report_smashed_header(op, p, w, site);
      return false;
    }
    Where plain;
    if (!check_plain(p, nullptr, op, frees, &plain)) return false;
    *size = plain.kind == Where::Slab ? plain.cache->object_size : plain.usable;
    return true;
  }
  BugClass bad = frees ? BugClass::InvalidFree : BugClass::BadArgument;
  if (user_of(h) != p) {
    report_interior(bad, op, p, h, site);
    return false;
  }
  if (h->magic != kLiveMagic) {
    if (frees) {
      report_double_free(op, p, h, site);
    } else {
      Text t;
      t.add("  %s(%p): the object was freed already\n", op, p);
      describe_object(t, h, true);
      emit(BugClass::BadArgument, t);
    }
    return false;
  }
  if (frees && !verify_redzones(h, op, p, site)) return false;  // krealloc: refused, like kfree
  *size = h->size;
  return true;
}


// One list's walk for validate: header and links, redzones, poison.
void validate_list(const DebugList& l, uint32_t magic, const char* what) {
  const DebugHeader* prev = nullptr;
  size_t n = 0;
  for (const DebugHeader* h = l.head; h; prev = h, h = h->next, ++n) {
    Where w = locate(h);
    bool ok = w.kind != Where::None && w.offset == 0 && w.allocated && header_ok(h, w.usable) && h->magic == magic &&
              h->prev == prev;
    if (!ok) {
      Text t;
      t.add("  validate: the debug header of %s object %zu (block %p) is overwritten; the rest of the list is not "
            "checked\n", what, n, static_cast<const void*>(h));
      if (w.kind != Where::None) {
        char hex[kHexShown * 3 + 4];
        format_hex_bytes(hex, sizeof hex, h, kHexShown);
        t.add("  header bytes at %p: %s\n", static_cast<const void*>(h), hex);
        if (w.kind == Where::Slab)
          t.add("  debug block %p: object %zu of cache %s (object size %zu)\n", static_cast<const void*>(h), w.index,
                w.cache->name, w.cache->size);
      }
      emit(BugClass::RedzoneOverwritten, t);
      return;
    }
    verify_redzones(h, "validate", user_of(h), nullptr);
    if (magic == kQuarantinedMagic) verify_poison(h, "validate");
  }
  if (n != l.count) {
    Text t;
    t.add("  validate: the %s list holds %zu objects, its count says %zu\n", what, n, l.count);
    emit(BugClass::FreeListCorruption, t);
  }
}

void fill_object(SlabDebugObject* out, const DebugHeader* h) {
  out->object = const_cast<char*>(user_of(h));
  out->size = h->size;
  out->cache_name = kmalloc_name(h->cache);
  out->seq = h->seq;
  out->alloc_site = h->alloc_site;
  out->free_site = h->free_site;
  out->live = h->magic == kLiveMagic;
  out->quarantined = h->magic == kQuarantinedMagic;
}

void assign_config(const DebugConfig& c) {
  g.config = c;
  for (size_t i = 0; i < c.name_count; ++i) g.config.names[i] = g.config.name_text + (c.names[i] - c.name_text);
}

}  // namespace
}  // namespace kheap::slab::debug

/* --- Public API ------------------------------------------------------------------ */

namespace kheap {

using namespace slab;
using namespace slab::debug;

bool slab_debug_configure(const char* spec) {
  DebugConfig c;
  if (!parse_spec(spec, &c)) return false;
  Guard guard;
  assign_config(c);
  format_spec(g.config, g.spec, sizeof g.spec);
  for (size_t i = 0; i <= kNumClasses; ++i) {
    char name[kCacheNameMax];
    if (i < kNumClasses) format(name, sizeof name, "kmalloc-%zu", kClassSizes[i]);
    else format(name, sizeof name, "kmalloc-large");
    g.kmalloc_selected[i] = config_selects(g.config, name);
  }
  if (!(g.config.checks & kSlabDebugQuarantine) && g.quarantine.count && g_slab.ready) flush_quarantine_locked(nullptr);
  update_active();
  return true;
}

const char* slab_debug_spec() {
  return g.spec;
}
uint32_t slab_debug_checks() {
  return g.config.checks;
}

bool slab_debug_selects(const char* cache_name) {
  Guard guard;
  return config_selects(g.config, cache_name);
}

void slab_debug_reset() {
  Guard guard;
  g.live = {};
  g.quarantine = {};
  g.seq = 0;
  g.problems = 0;
  g.cache_count = 0;
  for (auto& info : g.caches) info = {};
  update_active();
}

void slab_debug_set_quarantine(size_t max_objects, size_t max_bytes) {
  Guard guard;
  g.max_quarantine_objects = max_objects;
  g.max_quarantine_bytes = max_bytes;
  trim_quarantine();
  update_active();
}

void slab_debug_flush_quarantine() {
  Guard guard;
  flush_quarantine_locked(nullptr);
  update_active();
}

void slab_debug_set_symbolizer(SlabDebugSymbolizer fn) {
  g.symbolizer = fn;
}

size_t slab_debug_format_site(char* buf, size_t cap, const void* site) {
  if (!site) return format(buf, cap, "(not recorded)");
  size_t n = format(buf, cap, "%p", site);
  char sym[96];
  if (g.symbolizer && g.symbolizer(site, sym, sizeof sym))
    n += format(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, " <%s>", sym);
  return n;
}

bool slab_debug_lookup(const void* p, SlabDebugObject* out) {
  Guard guard;
  Where w;
  DebugHeader* h = debug_header_of(p, &w);
  if (!h || user_of(h) != p) return false;
  fill_object(out, h);
  return true;
}

size_t slab_debug_for_each_live(SlabDebugVisitor fn, void* context) {
  // Visited under the lock: fn must not allocate through kheap.
  Guard guard;
  size_t n = 0;
  for (const DebugHeader* h = g.live.head; h; h = h->next) {
    Where w = locate(h);
    if (w.kind == Where::None || !header_ok(h, w.usable)) break;  // validate() reports it
    SlabDebugObject o;
    fill_object(&o, h);
    ++n;
    if (!fn(context, o)) break;
  }
  return n;
}

SlabDebugStats slab_debug_stats() {
  Guard guard;
  return SlabDebugStats{g.live.count,           g.live.bytes,           g.quarantine.count,
                        g.quarantine.bytes,     g.max_quarantine_objects, g.max_quarantine_bytes,
                        g.seq,                  g.problems};
}

size_t slab_debug_validate() {
  Guard guard;
  size_t before = g.problems;
  validate_list(g.live, kLiveMagic, "live");
  validate_list(g.quarantine, kQuarantinedMagic, "quarantined");
  return g.problems - before;
}

size_t slab_debug_print_leaks(uint32_t since_seq) {
  Guard guard;
  size_t n = 0, bytes = 0;
  for (const DebugHeader* h = g.live.head; h; h = h->next) {
    Where w = locate(h);
    if (w.kind == Where::None || !header_ok(h, w.usable)) {
      print("  (list cut short: a debug header is overwritten; run validate)\n");
      break;
    }
    if (h->seq <= since_seq) continue;
    char site[128];
    slab_debug_format_site(site, sizeof site, h->alloc_site);
    print("  %p %8zu bytes  %-16s seq %-6u allocated at %s\n", static_cast<const void*>(user_of(h)), h->size,
          kmalloc_name(h->cache), h->seq, site);
    ++n;
    bytes += h->size;
  }
  print("leaks: %zu live debug object%s, %zu bytes (seq > %u)\n", n, n == 1 ? "" : "s", bytes, since_seq);
  return n;
}

/* --- The hooks ------------------------------------------------------------------- */

void* slab_debug_kmalloc(size_t size, const void* site) {
  return debug_kmalloc(size, kMinAlign, site, Fill::AllocPoison);
}

void* slab_debug_kzalloc(size_t size, const void* site) {
  return debug_kmalloc(size, kMinAlign, site, Fill::Zero);
}

void* slab_debug_kmalloc_aligned(size_t size, size_t align, const void* site) {
  if (!is_power_of_two(align)) {
    report_bug(BugClass::BadArgument, "kmalloc_aligned(%zu, %zu): alignment is not a power of two\n", size, align);
    return nullptr;
  }
  return debug_kmalloc(size, align < kMinAlign ? kMinAlign : align, site, Fill::AllocPoison);
}

void* slab_debug_krealloc(void* p, size_t new_size, const void* site) {
  if (!p) return debug_kmalloc(new_size, kMinAlign, site, Fill::AllocPoison);
  size_t old;
  {
    Guard guard;
    if (!live_size_locked(p, "krealloc", true, &old, site)) return nullptr;
    if (new_size == 0) {
      free_locked(p, nullptr, "krealloc", site);
      update_active();
      return nullptr;
    }
  }
  // Always moves: a stale pointer to the old object is then a use after free.
  void* q = debug_kmalloc(new_size, kMinAlign, site, Fill::AllocPoison);
  if (!q) return nullptr;  // p stays valid
  memcpy(q, p, old < new_size ? old : new_size);
  Guard guard;
  free_locked(p, nullptr, "krealloc", site);
  update_active();
  return q;
}

void slab_debug_kfree(const void* p, const void* site) {
  if (!p) return;
  Guard guard;
  free_locked(p, nullptr, "kfree", site);
  update_active();
}

size_t slab_debug_ksize(const void* p) {
  if (!p) return 0;
  Guard guard;
  size_t size;
  return live_size_locked(p, "ksize", false, &size, nullptr) ? size : 0;
}

KmemCache* slab_debug_cache_create(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor) {
  Guard guard;
  flags &= ~SLAB_DEBUG_OBJECTS;
  uint32_t checks = 0;
  if (g.config.checks && config_selects(g.config, name)) checks = g.config.checks;
  if (flags & kSlabDebugCreateFlags) {
    checks |= kSlabDebugSanity;
    if (flags & SLAB_RED_ZONE) checks |= kSlabDebugRedzone;
    if (flags & SLAB_POISON) checks |= kSlabDebugPoison;
    if (flags & SLAB_STORE_USER) checks |= kSlabDebugUser;
  }
  size_t a = align ? align : kMinAlign;
  if (!checks || size == 0 || !g_slab.ready || !is_power_of_two(a) || a > kPageSize)
    return create_cache(name, size, align, flags, ctor);  // plain (and its reports)
  if ((flags & SLAB_HWCACHE_ALIGN) && a < 64) a = 64;
  if (a < kMinAlign) a = kMinAlign;
  size_t prefix = align_up(kHeaderBytes + kRedzone, a), total, slot;
  SlabLayout layout;
  if (!checked_add(prefix, size, &total) || !checked_add(total, kRedzone, &total) ||
      !checked_align_up(total, a, &slot) || !compute_layout(slot, a, &layout))
    return create_cache(name, size, align, flags, ctor);  // too big to debug: plain (or its report)
  DebugCacheInfo* info = nullptr;
  for (auto& i : g.caches)
    if (!i.cache) {
      info = &i;
      break;
    }
  if (!info) {
    print("kheap: slub_debug: more than %zu debug caches; cache %s is not debugged\n", kMaxDebugCaches,
          name ? name : "(unnamed)");
    return create_cache(name, size, align, flags, ctor);
  }
  KmemCache* c = create_cache(name, total, a, flags | SLAB_DEBUG_OBJECTS, nullptr);
  if (!c) return nullptr;
  *info = DebugCacheInfo{c, size, prefix, checks, ctor};
  ++g.cache_count;
  update_active();
  return c;
}

namespace {

void* cache_alloc_impl(KmemCache* c, const void* site, bool zero) {
  if (c->magic != kCacheMagic) {
    report_bug(BugClass::InvalidHandle, "%s(%p): not a live cache\n", zero ? "kmem_cache_zalloc" : "kmem_cache_alloc",
               static_cast<void*>(c));
    return nullptr;
  }
  void* user;
  KmemCtor ctor;
  {
    Guard guard;
    DebugCacheInfo* info = find_cache_info(c);
    KHEAP_ASSERT(info != nullptr);
    char* block = static_cast<char*>(alloc_object(c));
    if (!block) return nullptr;
    user = make_object(block, c->size, info->prefix, info->object_size, c, info->checks, site,
                       zero ? Fill::Zero : Fill::AllocPoison);
    ctor = zero ? nullptr : info->ctor;
  }
  if (ctor) ctor(user);  // outside the lock: a constructor may allocate
  return user;
}

}  // namespace

void* slab_debug_cache_alloc(KmemCache* c, const void* site) {
  return cache_alloc_impl(c, site, false);
}
void* slab_debug_cache_zalloc(KmemCache* c, const void* site) {
  return cache_alloc_impl(c, site, true);
}

void slab_debug_cache_free(KmemCache* c, void* p, const void* site) {
  if (!p) return;
  if (!cache_is_live(c)) {
    report_bug(BugClass::InvalidHandle, "kmem_cache_free(%p): not a live cache\n", static_cast<void*>(c));
    return;
  }
  Guard guard;
  free_locked(p, c, "kmem_cache_free", site);
  update_active();
}

bool slab_debug_cache_destroy(KmemCache* c) {
  if (!cache_is_live(c)) {
    report_bug(BugClass::InvalidHandle, "kmem_cache_destroy(%p): not a live cache\n", static_cast<void*>(c));
    return false;
  }
  {
    Guard guard;
    flush_quarantine_locked(c);
  }
  // The normal destroy, with the hook's flag off for the call (nobody else
  // may use a cache being destroyed).
  c->flags &= ~SLAB_DEBUG_OBJECTS;
  bool ok = kmem_cache_destroy(c);
  Guard guard;
  if (!ok) {
    c->flags |= SLAB_DEBUG_OBJECTS;
  } else if (DebugCacheInfo* info = find_cache_info(c)) {
    *info = {};
    --g.cache_count;
  }
  update_active();
  return ok;
}

}  // namespace kheap
