// lib/host/malloc_shim.cpp — kheap as the process's malloc: the C/POSIX
// malloc family of build/host/libkheap.so (LD_PRELOAD=build/host/libkheap.so),
// on kmalloc/kfree/krealloc/ksize/kmalloc_aligned (lib/slab) over a page heap
// in a LazyWindow (lib/host/lazy_window.h).
//
// Compiled only into libkheap.so (mk/malloc.mk defines KHEAP_MALLOC_SHIM):
// in the ordinary host build this file is empty, so no test binary gets its
// malloc replaced by accident.
//
// Contracts (C17 7.22.3, POSIX, and glibc where they leave a choice):
//   malloc(0)             a unique pointer (16 usable bytes)
//   calloc(n, m)          n*m overflowing: NULL, errno ENOMEM; memory zeroed
//   realloc(NULL, n)      malloc(n);  realloc(p, 0): frees p, returns NULL (glibc)
//   realloc failing       NULL, errno ENOMEM, p untouched
//   reallocarray(p, n, m) overflow: NULL, errno ENOMEM, p untouched
//   posix_memalign        EINVAL unless alignment is a power of two multiple of
//                         sizeof(void*); ENOMEM; errno never changed
//   aligned_alloc         alignment not a power of two: NULL, errno EINVAL (C17: "shall fail")
//   memalign              alignment rounded up to a power of two (glibc); > SIZE_MAX/2+1: EINVAL
//   valloc / pvalloc      page aligned; pvalloc rounds the size up to pages
//   malloc_usable_size    ksize: >= the size asked for; 0 for NULL
//   every failure         errno = ENOMEM (EINVAL for a bad alignment)
// A pointer kheap did not hand out (free, realloc, malloc_usable_size) is
// reported by lib/slab (stderr: "kheap: invalid free" naming the address and
// what is there) and refused; then the process aborts, like glibc's
// "free(): invalid pointer" — unless KHEAP_ON_ERROR=continue, which refuses
// the call and goes on (free does nothing, realloc returns NULL).
//
// Initialisation: lazily on the first call, under an init lock, with no
// allocation (mmap only; getenv, which works even before libc has set environ
// up). A constructor then reads the environment again and registers the
// pthread_atfork handlers (pthread_atfork may itself call malloc, so not from
// inside malloc). KHEAP_STATS=1 prints one line at exit (a destructor) to stderr:
//   kheap: stats: <prog>[<pid>]: A allocations, F frees, R reallocs, peak P pages (X KiB), ...
// KHEAP_LIMIT_MB=N caps the pages mapped at once (for failure tests).
//
// Threads: the shim takes no lock. lib/slab serves small blocks from the
// calling thread's cache (no lock) and serializes everything else with its
// own lock (slab_lock(), which also covers the page heap and this window).
// fork(): slab_fork_prepare/parent/child as pthread_atfork handlers, so the
// child never inherits a held lock, and the caches of the threads that did
// not come along are given back in the child. Thread exit returns the
// thread's cache (lib/host/linux_platform.cpp's pthread key). The counters
// behind KHEAP_STATS are only kept (atomically) when it is set, and then every
// call takes the slow paths (route_to_slow_paths), where the counting is: the
// inline paths of malloc and free carry no counter.
#if defined(__linux__) && defined(KHEAP_MALLOC_SHIM)

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/bitops.h"
#include "core/format.h"
#include "core/report.h"
#include "core/spinlock.h"
#include "host/lazy_window.h"
#include "slab/fast_path.h"
#include "debug/slab_debug.h"
#include "slab/slab.h"

#define KHEAP_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" char* program_invocation_short_name;

namespace {

using namespace kheap;

// Large calloc blocks (whole pages, page aligned) are zeroed by giving their
// pages back to the kernel rather than by writing them: no RSS until touched.
constexpr size_t kCallocDiscardMin = size_t{256} << 10;

constinit host::LazyWindow g_window;

constinit RecursiveSpinlock g_init_lock;

struct Settings {
  bool stats;
  bool continue_on_error;
  size_t limit_pages;
  size_t window_gib;  // 0: the default
};
constinit Settings g_settings{};
bool g_ready = false;
bool g_init_failed = false;

struct Counters {
  uint64_t allocations;  // malloc, calloc, the aligned family, realloc(NULL, n)
  uint64_t frees;        // free(p != NULL), realloc(p, 0)
  uint64_t reallocs;     // realloc(p != NULL, n != 0)
  uint64_t failures;     // NULL returned for want of memory
  uint64_t bad_pointers; // refused: pointers kheap did not hand out
};
constinit Counters g_count{};

// Count an event (only when KHEAP_STATS asked for the numbers).
inline void count(uint64_t Counters::*which) {
  if (__builtin_expect(g_settings.stats, 0)) __atomic_add_fetch(&(g_count.*which), 1, __ATOMIC_RELAXED);
}

void write_err(const char* text) { ::write(2, text, strlen(text)); }

size_t parse_size(const char* s) {
  size_t v = 0;
  for (; s && *s >= '0' && *s <= '9'; ++s) v = v * 10 + static_cast<size_t>(*s - '0');
  return v;
}

void read_settings() {
  const char* s = getenv("KHEAP_STATS");
  g_settings.stats = s && *s && *s != '0';
  if (g_settings.stats && slab_page_heap()) route_to_slow_paths(true);  // (init_once does it once the slab layer is up)
  const char* e = getenv("KHEAP_ON_ERROR");
  g_settings.continue_on_error = e && strcmp(e, "continue") == 0;
  g_settings.limit_pages = parse_size(getenv("KHEAP_LIMIT_MB")) << (20 - kPageShift);
  g_settings.window_gib = parse_size(getenv("KHEAP_WINDOW_GB"));
}

// Bring the stack up (once; a second thread waits for the first).
__attribute__((noinline, cold)) bool init_once() {
  RecursiveGuard guard(g_init_lock);
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) return true;
  if (g_init_failed) return false;
  int saved = errno;
  read_settings();
  host::LazyWindowConfig config;
  config.frame_limit = g_settings.limit_pages;
  if (g_settings.window_gib) config.window_bytes = g_settings.window_gib << 30;
  if (!g_window.create(config) || !slab_init(&g_window.page_heap())) {
    write_err("kheap: could not reserve its window; every allocation will fail\n");
    g_init_failed = true;
    errno = saved;
    return false;
  }
  set_report_action(ReportAction::Refuse);  // the shim decides (see bad_pointer)
  if (g_settings.stats) route_to_slow_paths(true);  // counted there
  // Debug mode (lib/debug/slab_debug.h): KHEAP_DEBUG=1 or a slub_debug-style spec.
  if (const char* d = getenv("KHEAP_DEBUG")) slab_debug_configure(d);
  __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
  errno = saved;
  return true;
}

inline bool ready() { return __builtin_expect(__atomic_load_n(&g_ready, __ATOMIC_RELAXED), 1) || init_once(); }

// After a refused call: abort, or count and go on.
__attribute__((noinline, cold)) void bad_pointer(const char* op) {
  if (g_settings.continue_on_error) return;
  char msg[200];
  format(msg, sizeof msg, "kheap: %s of a pointer kheap did not hand out: aborting (KHEAP_ON_ERROR=continue refuses and goes on)\n", op);
  write_err(msg);
  abort();
}

inline bool too_big(size_t n) { return n > g_window.window_bytes(); }

void* fail_nomem() {
  errno = ENOMEM;
  return nullptr;
}

void* alloc(size_t n) {
  if (__builtin_expect(too_big(n), 0)) return nullptr;
  return kmalloc(n);
}

// An aligned allocation; align is a power of two.
void* aligned_alloc_impl(size_t align, size_t n) {
  if (!ready()) return fail_nomem();
  void* p = too_big(n) ? nullptr : kmalloc_aligned(n, align);
  if (!p) {
    count(&Counters::failures);
    return fail_nomem();
  }
  count(&Counters::allocations);
  return p;
}

void print_stats() {
  Counters c;
  host::LazyWindowStats w;
  size_t pages_in_use;
  {
    if (!g_ready) return;
    RecursiveGuard guard(slab_lock());
    c = g_count;
    w = g_window.stats();
    pages_in_use = g_window.page_heap().stats().pages_in_use;
  }
  char line[512];
  format(line, sizeof line,
         "kheap: stats: %s[%d]: %llu allocations, %llu frees, %llu reallocs, peak %zu pages (%zu KiB), "
         "%zu pages mapped at exit (%zu in runs), %llu failed, %llu bad pointers; %zu madvise calls for %zu pages\n",
         program_invocation_short_name ? program_invocation_short_name : "?", static_cast<int>(getpid()),
         static_cast<unsigned long long>(c.allocations), static_cast<unsigned long long>(c.frees),
         static_cast<unsigned long long>(c.reallocs), w.peak_frames, w.peak_frames * (kPageSize >> 10),
         w.frames_in_use, pages_in_use, static_cast<unsigned long long>(c.failures),
         static_cast<unsigned long long>(c.bad_pointers), w.discard_calls, w.discarded_pages);
  write_err(line);
}

void fork_prepare() {
  g_init_lock.lock();
  slab_fork_prepare();
}
void fork_parent() {
  slab_fork_parent();
  g_init_lock.unlock();
}
void fork_child() {
  g_init_lock.reset_after_fork();
  slab_fork_child();
}

__attribute__((constructor)) void shim_constructor() {
  if (ready()) read_settings();  // environ is certainly set up now
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void heap_damaged(const char* op);

// At exit, one last look at what is free: objects waiting in the thread
// caches and free objects in the kmalloc slabs must still carry their free
// mark (slab_free_marks_check), and in debug mode every live and
// quarantined block its redzones and poison. A use-after-free write found
// here is reported, and aborts like any other.
__attribute__((destructor)) void shim_destructor() {
  if (g_settings.stats) print_stats();
  if (!g_ready) return;
  uint32_t reports = report_count();
  thread_caches_check();
  slab_free_marks_check();
  if (g_slab_debug_active) slab_debug_validate();
  if (report_count() != reports) heap_damaged("the exit check");
}

}  // namespace

/* --- The malloc family ---------------------------------------------------------- */

namespace {

// A report while allocating (a use-after-free write found at reuse): abort,
// or go on with KHEAP_ON_ERROR=continue (the damaged object is out of use).
__attribute__((noinline, cold)) void heap_damaged(const char* op) {
  if (g_settings.continue_on_error) return;
  char msg[160];
  format(msg, sizeof msg, "kheap: %s found the heap damaged: aborting (KHEAP_ON_ERROR=continue goes on)\n", op);
  write_err(msg);
  abort();
}

__attribute__((noinline)) void* malloc_slow(size_t n, const void* site) {
  if (n <= slab::kSmallMax) {
    if (void* p = slab::magazine_reload_pop(n)) {  // the thread's own frees (thread_cache.h)
      count(&Counters::allocations);
      return p;
    }
  }
  if (!ready()) return fail_nomem();
  uint32_t reports = report_count();
  void* p = __builtin_expect(g_slab_debug_active, 0) ? (too_big(n) ? nullptr : slab_debug_kmalloc(n, site)) : alloc(n);
  if (__builtin_expect(report_count() != reports, 0)) heap_damaged("malloc");
  if (__builtin_expect(p == nullptr, 0)) {
    count(&Counters::failures);
    return fail_nomem();
  }
  count(&Counters::allocations);
  return p;
}

__attribute__((noinline)) void free_slow(void* p, const void* site) {
  if (!p || !ready()) return;
  uint32_t reports = report_count();
  if (__builtin_expect(g_slab_debug_active, 0))
    slab_debug_kfree(p, site);
  else
    kfree(p);
  if (__builtin_expect(report_count() == reports, 1)) {
    count(&Counters::frees);
    return;
  }
  count(&Counters::bad_pointers);
  bad_pointer("free");
}

}  // namespace

// The thread cache's pop and push, inline (fast_path.h); anything else in
// the _slow functions above.
KHEAP_EXPORT KHEAP_FAST_ENTRY void* malloc(size_t n) noexcept {
  if (__builtin_expect(n <= slab::kSmallMax, 1)) {  // (in debug mode the pop always misses: route_to_debug)
    if (void* p = slab::kmalloc_small_fast(n)) return p;  // (KHEAP_STATS: never; it is counted in malloc_slow)
  }
  return malloc_slow(n, __builtin_return_address(0));
}

KHEAP_EXPORT KHEAP_FAST_ENTRY void free(void* p) noexcept {
  if (__builtin_expect(slab::kfree_fast(p), 1)) return;  // (KHEAP_STATS: never; it is counted in free_slow)
  free_slow(p, __builtin_return_address(0));
}

KHEAP_EXPORT void* calloc(size_t n, size_t m) noexcept {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) return fail_nomem();
  if (!ready()) return fail_nomem();
  void* p = alloc(total);
  if (!p) {
    count(&Counters::failures);
    return fail_nomem();
  }
  count(&Counters::allocations);
  // Large blocks are whole pages at a page-aligned start, in a private
  // anonymous mapping: MADV_DONTNEED makes them read as zeros.
  if (total >= kCallocDiscardMin && is_aligned(reinterpret_cast<uintptr_t>(p), kPageSize) &&
      ::madvise(p, align_up(total, kPageSize), MADV_DONTNEED) == 0)
    return p;
  memset(p, 0, total);
  return p;
}

KHEAP_EXPORT void* realloc(void* p, size_t n) noexcept {
  if (!p) return malloc(n);
  if (n == 0) {  // glibc: frees, returns NULL
    free(p);
    return nullptr;
  }
  if (!ready()) return fail_nomem();
  if (too_big(n)) {
    count(&Counters::failures);
    return fail_nomem();
  }
  uint32_t reports = report_count();
  void* q = krealloc(p, n);
  if (q) {
    count(&Counters::reallocs);
    return q;
  }
  if (report_count() != reports) {
    count(&Counters::bad_pointers);
    bad_pointer("realloc");
  } else {
    count(&Counters::failures);
  }
  return fail_nomem();
}

KHEAP_EXPORT void* reallocarray(void* p, size_t n, size_t m) noexcept {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) return fail_nomem();
  return realloc(p, total);
}

KHEAP_EXPORT int posix_memalign(void** out, size_t align, size_t n) noexcept {
  if (align < sizeof(void*) || !is_power_of_two(align)) return EINVAL;
  int saved = errno;
  void* p = aligned_alloc_impl(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

KHEAP_EXPORT void* aligned_alloc(size_t align, size_t n) noexcept {
  if (align == 0 || !is_power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return aligned_alloc_impl(align, n);
}

KHEAP_EXPORT void* memalign(size_t align, size_t n) noexcept {
  if (align <= kKmallocMinAlign) return malloc(n);
  if (align > (~size_t{0} >> 1) + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (!is_power_of_two(align)) align = size_t{1} << (64 - __builtin_clzll(align));  // glibc rounds up
  return aligned_alloc_impl(align, n);
}

KHEAP_EXPORT void* valloc(size_t n) noexcept { return aligned_alloc_impl(kPageSize, n); }

KHEAP_EXPORT void* pvalloc(size_t n) noexcept {
  size_t rounded;
  if (n > ~size_t{0} - (kPageSize - 1)) return fail_nomem();
  rounded = align_up(n ? n : 1, kPageSize);
  return aligned_alloc_impl(kPageSize, rounded);
}

KHEAP_EXPORT size_t malloc_usable_size(void* p) noexcept {
  if (!p || !ready()) return 0;
  uint32_t reports = report_count();
  size_t n = ksize(p);
  if (report_count() == reports) return n;
  count(&Counters::bad_pointers);
  bad_pointer("malloc_usable_size");
  return 0;
}

// glibc extension: give free memory back. kheap: empty slabs and the queue of pages.
KHEAP_EXPORT int malloc_trim(size_t) noexcept {
  if (!g_ready) return 0;
  RecursiveGuard guard(slab_lock());
  size_t pages = slab_shrink_all();
  g_window.flush();
  return pages != 0;
}

#endif  // __linux__ && KHEAP_MALLOC_SHIM
