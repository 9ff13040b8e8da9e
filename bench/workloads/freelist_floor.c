/* bench/workloads/freelist_floor.c — a reference point for the workload
 * table, not an allocator to use: about the least work a malloc/free pair can
 * be, so that a target like "2x faster than glibc" can be checked against
 * what any allocator could reach on the machine at hand.
 *
 * One LIFO free list per size class and thread (16-byte classes up to 4 KiB,
 * powers of two above), the class in a 16-byte header in front of each
 * block, blocks carved from one big mapping under a spinlock and never
 * returned to it. A free goes onto the freeing thread's list, whoever
 * allocated the block. No checks of any kind. Pointers it did not hand out
 * (the dynamic loader's, before this library was loaded) are ignored by
 * free. Compiled with -fno-builtin: GCC would otherwise turn calloc's
 * malloc + memset into a call to calloc.
 *
 * Built as build/host/libfreelist_floor.so (mk/malloc.mk) and run by
 * tools/bench-malloc.sh as the column "floor". */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HEADER 16
#define SMALL_CLASSES 256 /* 16-byte classes: 16 .. 4096 */
#define CLASSES (SMALL_CLASSES + 48)
#define ARENA_BYTES ((size_t)64 << 30) /* reserved, not committed */

static char* g_arena;
static char* g_bump;
static __thread void* t_free[CLASSES + 1] __attribute__((tls_model("initial-exec")));
static volatile int g_lock;

static void lock(void) {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
}
static void unlock(void) { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }

/* Class of a request of n bytes, and the bytes that class holds. */
static size_t class_of(size_t n) {
  if (n <= 16) return 1;
  if (n <= 4096) return (n + 15) >> 4;
  size_t c = SMALL_CLASSES + 1, size = 8192;
  while (size < n) size <<= 1, ++c;
  return c;
}
static size_t class_bytes(size_t c) { return c <= SMALL_CLASSES ? c << 4 : (size_t)4096 << (c - SMALL_CLASSES); }

void* malloc(size_t n) {
  if (n > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t c = class_of(n);
  void* p = t_free[c];
  if (p) {
    t_free[c] = *(void**)p;
    return p;
  }
  lock();
  if (!g_arena) {
    g_arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_arena == MAP_FAILED) g_arena = NULL;
    g_bump = g_arena;
  }
  size_t total = HEADER + class_bytes(c);
  if (!g_arena || (size_t)(g_arena + ARENA_BYTES - g_bump) < total) {
    unlock();
    errno = ENOMEM;
    return NULL;
  }
  char* b = g_bump;
  g_bump += total;
  unlock();
  *(size_t*)b = c;
  return b + HEADER;
}

static int ours(void* p) { return g_arena && (char*)p >= g_arena + HEADER && (char*)p < g_arena + ARENA_BYTES; }

void free(void* p) {
  if (!p || !ours(p)) return;
  size_t c = *(size_t*)((char*)p - HEADER);
  *(void**)p = t_free[c];
  t_free[c] = p;
}

void* calloc(size_t a, size_t b) {
  size_t n;
  if (__builtin_mul_overflow(a, b, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  void* p = malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

size_t malloc_usable_size(void* p) { return p && ours(p) ? class_bytes(*(size_t*)((char*)p - HEADER)) : 0; }

void* realloc(void* p, size_t n) {
  if (!p) return malloc(n);
  if (!n) {
    free(p);
    return NULL;
  }
  size_t have = malloc_usable_size(p);
  if (have >= n) return p;
  void* q = malloc(n);
  if (q) {
    memcpy(q, p, have);
    free(p);
  }
  return q;
}

int posix_memalign(void** out, size_t align, size_t n) {
  if (align <= HEADER) {
    *out = malloc(n);
    return *out ? 0 : ENOMEM;
  }
  return ENOMEM; /* the workloads never ask */
}
void* aligned_alloc(size_t align, size_t n) { return align <= HEADER ? malloc(n) : NULL; }
void* memalign(size_t align, size_t n) { return aligned_alloc(align, n); }
