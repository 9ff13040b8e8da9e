/* tools/misuse/misuse.c — heap-misuse programs, one case per invocation:
 *   misuse list          every case: "NUMBER NAME KIND DESCRIPTION" (tab-separated)
 *   misuse CASE          run one case (by name or number)
 * Run under any malloc (LD_PRELOAD) by tools/misuse.sh, which decides the cell.
 *
 * The program writes only to stdout (what it does, step by step), so that
 * anything on stderr came from the allocator. If the case runs to its end it
 * prints one line "VERDICT <word>: <why>" and exits 0; <word> is what the
 * program could see for itself:
 *   missed    the misuse went through silently (for a free: no report; any
 *             duplicate or overlapping block it then got is named in <why>;
 *             for a hijack: malloc handed out the attacker's address or a
 *             block that is still live)
 *   defeated  no report, but the misuse had no effect the program could see:
 *             a hijack attempt where no malloc returned the attacker's address
 *             nor a live block; malloc_usable_size answering 0; realloc
 *             refusing with NULL
 *   caught    only for the contract cases (kind "contract"): the call returned
 *             its documented error (NULL + ENOMEM, EINVAL) and left the old
 *             block intact
 * If the process dies instead, the harness classifies the death (SIGABRT or a
 * nonzero exit with a message on stderr = caught; SIGSEGV/SIGBUS = crash).
 *
 * Kinds: "report" cases are misuse an allocator can only handle well by
 * reporting it (double free, invalid free, ...); "hijack" cases try to make
 * malloc return an address of the attacker's choosing; "contract" cases are
 * size/alignment errors with a documented error return.
 *
 * Compiled -O1 -fno-builtin: the compiler must neither drop nor fold the
 * calls; pointers pass through opaque() so it cannot see they are bad.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void* opaque(void* p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}
static char* opaque_c(const void* p) { return (char*)opaque((void*)p); }

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void verdict(const char* word, const char* fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void verdict(const char* word, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("VERDICT %s: ", word);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  // exit, not _exit: the program ends as programs normally do, so an
  // allocator's exit-time checks (atexit handlers, destructors) run too.
  exit(0);
}

static void* xmalloc(size_t n) {
  void* p = malloc(n);
  if (!p) {
    say("setup: malloc(%zu) failed", n);
    _exit(3);
  }
  return p;
}

/* After a bad free went through silently: allocate `count` blocks of size n
 * and say whether any two are the same (a duplicate hand-out) — detail for
 * the verdict only; the verdict is "missed" either way. */
static void missed_after_free(size_t n, int count) {
  void* got[16];
  int dup = 0;
  for (int i = 0; i < count && i < 16; ++i) {
    got[i] = malloc(n);
    for (int j = 0; j < i; ++j)
      if (got[i] && got[i] == got[j]) dup = 1;
  }
  verdict("missed", "no report%s", dup ? "; then malloc handed out the same block twice" : "");
}

/* --- double free ---------------------------------------------------------- */

static void df_size(size_t n) {
  char* p = xmalloc(n);
  memset(p, 0x11, n);
  say("malloc(%zu) = %p; free; free again", n, (void*)p);
  free(p);
  free(opaque(p));
  missed_after_free(n, 3);
}
static void c_df_small(void) { df_size(24); }
static void c_df_medium(void) { df_size(4000); }
static void c_df_large(void) { df_size(256 << 10); }

static void c_df_intervening(void) {
  void* p = xmalloc(64);
  void* q = xmalloc(64);
  say("p = %p, q = %p (64 bytes): free p, free q, free p", p, q);
  free(p);
  free(q);
  free(opaque(p));
  missed_after_free(64, 3);
}

static void c_df_fastbin(void) {
  void* fill[7];
  for (int i = 0; i < 7; ++i) fill[i] = xmalloc(48);
  void* p = xmalloc(48);
  void* q = xmalloc(48);
  say("7 blocks of 48 bytes freed first (fill a per-thread cache), then p, q, p");
  for (int i = 0; i < 7; ++i) free(fill[i]);
  free(p);
  free(q);
  free(opaque(p));
  void* got[10];
  int dup = 0;
  for (int i = 0; i < 10; ++i) {
    got[i] = malloc(48);
    for (int j = 0; j < i; ++j)
      if (got[i] == got[j]) dup = 1;
  }
  verdict("missed", "no report%s", dup ? "; then malloc handed out the same block twice" : "");
}

static void c_df_cache_drained(void) {
  enum { N = 3000 };
  static void* others[N];
  void* p = xmalloc(64);
  for (int i = 0; i < N; ++i) others[i] = xmalloc(64);
  say("free p (64 bytes), then free %d other 64-byte blocks (a per-thread cache overflows and drains), then free p again", N);
  free(p);
  for (int i = 0; i < N; ++i) free(others[i]);
  free(opaque(p));
  missed_after_free(64, 3);
}

static void c_df_realloc_moved(void) {
  char* p = xmalloc(32);
  char* keep = xmalloc(32); /* so p cannot grow in place */
  char* q = realloc(p, 300000);
  say("p = malloc(32) = %p; realloc(p, 300000) = %p; free(p) (already freed by the move)", (void*)p, (void*)q);
  if (q == p) verdict("missed", "setup: realloc did not move the block");
  free(opaque(p));
  (void)keep;
  missed_after_free(32, 3);
}

static void* thread_free(void* p) {
  free(p);
  return NULL;
}
static void c_df_thread(void) {
  void* p = xmalloc(64);
  pthread_t t;
  say("p = malloc(64) = %p in main; thread A frees it and exits; main frees it again", p);
  pthread_create(&t, NULL, thread_free, p);
  pthread_join(t, NULL);
  free(opaque(p));
  missed_after_free(64, 3);
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_stage;
static void* thread_free_and_wait(void* p) {
  free(p);
  pthread_mutex_lock(&g_mu);
  g_stage = 1;
  pthread_cond_broadcast(&g_cv);
  while (g_stage != 2) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  return NULL;
}
static void c_df_thread_live(void) {
  void* p = xmalloc(64);
  pthread_t t;
  say("p = malloc(64) = %p in main; thread A frees it and stays alive (the block may sit in A's cache); main frees it again", p);
  pthread_create(&t, NULL, thread_free_and_wait, p);
  pthread_mutex_lock(&g_mu);
  while (g_stage != 1) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  free(opaque(p));
  say("second free returned");
  pthread_mutex_lock(&g_mu);
  g_stage = 2;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  pthread_join(t, NULL);
  missed_after_free(64, 3);
}

static void c_df_aligned(void) {
  void* p = NULL;
  if (posix_memalign(&p, 256, 100) != 0) verdict("missed", "setup: posix_memalign failed");
  say("posix_memalign(256, 100) = %p; free; free again", p);
  free(p);
  free(opaque(p));
  missed_after_free(100, 3);
}

/* --- free of a pointer never returned ------------------------------------- */

static void free_bad(const char* what, void* p) {
  say("free(%p): %s", p, what);
  free(opaque(p));
  verdict("missed", "free(%s) returned silently", what);
}

static void interior(size_t n, size_t off) {
  char* p = xmalloc(n);
  memset(p, 0, n);
  say("p = malloc(%zu) = %p", n, (void*)p);
  char what[64];
  snprintf(what, sizeof what, "p + %zu", off);
  free_bad(what, p + off);
}
static void c_free_interior1(void) { interior(64, 1); }
static void c_free_interior8(void) { interior(64, 8); }
static void c_free_interior16(void) { interior(64, 16); }
static void c_free_interior_large(void) { interior(1 << 20, 4096); }

static void c_free_fake_chunk(void) {
  /* "House of spirit": a fake glibc-style chunk header inside a block. */
  size_t* p = xmalloc(128);
  memset(p, 0, 128);
  p[1] = 0x41;  /* a plausible size field (0x40 | PREV_INUSE) */
  p[9] = 0x41;  /* and the next chunk's */
  say("p = malloc(128) = %p with a fake chunk header at p+8 (size 0x41); free(p + 16), then malloc(0x30)", (void*)p);
  free(opaque(p + 2));
  void* q = malloc(0x30);
  if (q == (void*)(p + 2)) verdict("missed", "free accepted the fake chunk and malloc(0x30) returned p + 16, inside a live block");
  verdict("missed", "free(p + 16) returned silently");
}

static void c_free_before(void) {
  char* p = xmalloc(64);
  char* q = xmalloc(64);
  memset(p, 0, 64);
  say("p = %p, q = %p; free(q - 16)", (void*)p, (void*)q);
  free_bad("q - 16", q - 16);
}

static void c_free_stack(void) {
  char buf[256];
  memset(buf, 0, sizeof buf);
  free_bad("a stack buffer + 32", opaque_c(buf) + 32);
}

static char g_bss[4096] __attribute__((aligned(64)));
static void c_free_bss(void) { free_bad("a .bss array + 64", opaque_c(g_bss) + 64); }

static const char g_rodata[4096] __attribute__((aligned(64))) = {1, 2, 3};
static void c_free_rodata(void) { free_bad("a .rodata array + 64", opaque_c(g_rodata) + 64); }

static void c_free_literal(void) { free_bad("a string literal", opaque_c("a string literal, never allocated")); }

static void c_free_mmap(void) {
  char* m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) verdict("missed", "setup: mmap failed");
  free_bad("the second page of a 2-page mmap (the memory in front is mapped, zero)", m + 4096);
}

static void c_free_mmap_guarded(void) {
  char* m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) verdict("missed", "setup: mmap failed");
  munmap(m, 4096);
  free_bad("the start of a 1-page mmap whose preceding page is unmapped", m + 4096);
}

static void c_free_unmapped(void) {
  char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) verdict("missed", "setup: mmap failed");
  munmap(m, 3 * 4096);
  free_bad("an unmapped address (page + 16)", m + 4096 + 16);
}

static void c_free_null_small(void) { free_bad("(void*)16, NULL + small", (void*)(uintptr_t)16); }

/* --- realloc / malloc_usable_size of bad pointers -------------------------- */

static void realloc_bad(const char* what, void* p, size_t n) {
  say("realloc(%p, %zu): %s", p, n, what);
  void* q = realloc(opaque(p), n);
  if (!q) verdict("defeated", "realloc(%s) returned NULL without a report", what);
  verdict("missed", "realloc(%s) returned %p", what, q);
}

static void c_realloc_freed(void) {
  char* p = xmalloc(48);
  free(p);
  realloc_bad("a freed 48-byte block", p, 200);
}
static void c_realloc_interior(void) {
  char* p = xmalloc(64);
  memset(p, 0, 64);
  realloc_bad("p + 16 of a 64-byte block", p + 16, 200);
}
static void c_realloc_stack(void) {
  char buf[256];
  memset(buf, 0, sizeof buf);
  realloc_bad("a stack buffer + 32", opaque_c(buf) + 32, 200);
}

static void usable_bad(const char* what, void* p) {
  say("malloc_usable_size(%p): %s", p, what);
  size_t n = malloc_usable_size(opaque(p));
  if (n == 0) verdict("defeated", "malloc_usable_size(%s) = 0 without a report", what);
  verdict("missed", "malloc_usable_size(%s) = %zu", what, n);
}
static void c_mus_freed(void) {
  char* p = xmalloc(48);
  void* keep = xmalloc(48);
  free(p);
  (void)keep;
  usable_bad("a freed 48-byte block", p);
}
static void c_mus_interior(void) {
  char* p = xmalloc(64);
  memset(p, 0, 64);
  usable_bad("p + 16 of a 64-byte block", p + 16);
}
static void c_mus_stack(void) {
  char buf[256];
  memset(buf, 0, sizeof buf);
  usable_bad("a stack buffer + 32", opaque_c(buf) + 32);
}

/* --- use-after-free writes that try to hijack the free list --------------- */

static char g_target[1024] __attribute__((aligned(4096)));

/* Free b then a (a is the head of a LIFO list, its link -> b), let `poison`
 * write into the freed a, then malloc(n) four times: did the attacker's
 * address (or the live block `live`) come back? */
static void hijack(size_t n, const char* what, void (*poison)(char* a, char* b, char* live)) {
  char* live0 = xmalloc(n);
  char* b = xmalloc(n);
  char* a = xmalloc(n);
  char* live = xmalloc(n);
  memset(live, 0x22, n);
  say("a = %p, b = %p, live = %p (%zu bytes), target = %p; free b, free a; then %s; then malloc(%zu) x4", (void*)a,
      (void*)b, (void*)live, n, (void*)g_target, what, n);
  free(b);
  free(a);
  poison(opaque(a), b, live);
  for (int i = 0; i < 4; ++i) {
    char* got = malloc(n);
    say("malloc(%zu) = %p", n, (void*)got);
    if (got && got >= g_target && got < g_target + sizeof g_target)
      verdict("missed", "hijacked: malloc returned the attacker's address %p", (void*)got);
    if (got == live || got == live0)
      verdict("missed", "hijacked: malloc returned the still-live block %p", (void*)got);
  }
  verdict("defeated", "no report, but no malloc returned the attacker's address");
}

static void poison_raw(char* a, char* b, char* live) {
  (void)b, (void)live;
  ((uintptr_t*)a)[0] = (uintptr_t)g_target;
}
static void poison_spray(char* a, char* b, char* live) {
  (void)b, (void)live;
  for (int i = 0; i < 8; ++i) ((uintptr_t*)a)[i] = (uintptr_t)g_target;
}
static void poison_glibc_encoded(char* a, char* b, char* live) {
  (void)b, (void)live;
  ((uintptr_t*)a)[0] = ((uintptr_t)a >> 12) ^ (uintptr_t)g_target;  /* glibc's safe-linking formula */
}
static void poison_delta_global(char* a, char* b, char* live) {
  (void)live;
  ((uintptr_t*)a)[0] ^= (uintptr_t)b ^ (uintptr_t)g_target;  /* defeats any next ^ key encoding */
}
static void poison_delta_live(char* a, char* b, char* live) {
  ((uintptr_t*)a)[0] ^= (uintptr_t)b ^ (uintptr_t)live;
}
static void c_hijack_raw(void) { hijack(64, "write &target into a's first word", poison_raw); }
static void c_hijack_spray(void) { hijack(64, "write &target into a's first 8 words", poison_spray); }
static void c_hijack_encoded(void) {
  hijack(64, "write (a >> 12) ^ &target (glibc's pointer encoding) into a's first word", poison_glibc_encoded);
}
static void c_hijack_delta_global(void) {
  hijack(64, "xor a's first word with b ^ &target (turns next ^ key into &target ^ key)", poison_delta_global);
}
static void c_hijack_delta_live(void) {
  hijack(64, "xor a's first word with b ^ live (points the list at a live block)", poison_delta_live);
}
static void c_hijack_large(void) {
  hijack(4096, "write &target into a's first 4 words (a 4096-byte block)", poison_spray);
}

/* --- use-after-free write in general; overflow; underflow ------------------ */

static void c_uaf_write(void) {
  char* p = xmalloc(64);
  void* keep = xmalloc(64);
  say("p = malloc(64) = %p; free p; write 32 bytes of 0x41 at p + 16; malloc(64) x2; free them", (void*)p);
  free(p);
  memset(opaque(p) + 16, 0x41, 32);
  void* q = malloc(64);
  void* r = malloc(64);
  free(q);
  free(r);
  (void)keep;
  verdict("missed", "no report");
}

static void overflow(size_t n, size_t at, size_t len, int free_next_first) {
  char* a = xmalloc(n);
  char* b = xmalloc(n);
  memset(a, 0, n);
  memset(b, 0, n);
  say("a = malloc(%zu) = %p, b = %p; write %zu bytes of 0x41 at a + %zu; free both; malloc(%zu) x2", n, (void*)a,
      (void*)b, len, at, n);
  memset(opaque(a) + at, 0x41, len);
  if (free_next_first) free(b);
  free(a);
  if (!free_next_first) free(b);
  void* x = malloc(n);
  void* y = malloc(n);
  free(x);
  free(y);
  verdict("missed", "no report");
}
static void c_ovf_1(void) { overflow(20, 20, 1, 0); }
static void c_ovf_8(void) { overflow(24, 24, 8, 0); }
static void c_ovf_next_header(void) {
  char* a = xmalloc(24);
  size_t u = malloc_usable_size(a);
  free(a);
  overflow(24, u, 16, 1);
}
static void c_ovf_large(void) { overflow(200000, 200000, 8, 0); }

static void underflow(size_t len) {
  char* p = xmalloc(64);
  memset(p, 0, 64);
  say("p = malloc(64) = %p; write %zu bytes of 0x41 at p - %zu; free p; malloc(64)", (void*)p, len, len);
  memset(opaque(p) - len, 0x41, len);
  free(p);
  void* q = malloc(64);
  (void)q;
  verdict("missed", "no report");
}
static void c_udf_1(void) { underflow(1); }
static void c_udf_8(void) { underflow(8); }

/* --- size and alignment contracts ----------------------------------------- */

static void expect_null(const char* what, void* p, int err) {
  if (p) verdict("missed", "%s returned %p, not NULL", what, p);
  if (err != ENOMEM) verdict("missed", "%s returned NULL but errno = %d (%s), not ENOMEM", what, err, strerror(err));
  verdict("caught", "%s returned NULL with ENOMEM", what);
}
static void c_malloc_huge(void) {
  say("malloc(SIZE_MAX - 64)");
  errno = 0;
  void* p = malloc((size_t)(uintptr_t)opaque((void*)(SIZE_MAX - 64)));
  expect_null("malloc(SIZE_MAX - 64)", p, errno);
}
static void c_calloc_overflow(void) {
  size_t n = (SIZE_MAX / 16) + 2;
  say("calloc(%zu, 16): the product overflows to 16", n);
  errno = 0;
  void* p = calloc((size_t)(uintptr_t)opaque((void*)n), 16);
  expect_null("calloc(SIZE_MAX/16 + 2, 16)", p, errno);
}
static void check_intact(const char* what, unsigned char* p, void* q, int err) {
  if (q) verdict("missed", "%s returned %p, not NULL", what, q);
  if (err != ENOMEM) verdict("missed", "%s returned NULL but errno = %d, not ENOMEM", what, err);
  for (int i = 0; i < 64; ++i)
    if (p[i] != 0x5a) verdict("missed", "%s returned NULL but the old block changed", what);
  free(p);
  verdict("caught", "%s returned NULL with ENOMEM; the old block intact", what);
}
static void c_reallocarray_overflow(void) {
  unsigned char* p = xmalloc(64);
  memset(p, 0x5a, 64);
  say("reallocarray(p, SIZE_MAX/16 + 2, 16): the product overflows to 16");
  errno = 0;
  void* q = reallocarray(opaque(p), (size_t)(uintptr_t)opaque((void*)(SIZE_MAX / 16 + 2)), 16);
  check_intact("reallocarray(p, SIZE_MAX/16 + 2, 16)", p, q, errno);
}
static void c_realloc_huge(void) {
  unsigned char* p = xmalloc(64);
  memset(p, 0x5a, 64);
  say("realloc(p, SIZE_MAX - 64)");
  errno = 0;
  void* q = realloc(opaque(p), (size_t)(uintptr_t)opaque((void*)(SIZE_MAX - 64)));
  check_intact("realloc(p, SIZE_MAX - 64)", p, q, errno);
}
static void c_memalign_huge(void) {
  say("memalign(4096, SIZE_MAX - 100): alignment padding overflows");
  errno = 0;
  void* p = memalign(4096, (size_t)(uintptr_t)opaque((void*)(SIZE_MAX - 100)));
  expect_null("memalign(4096, SIZE_MAX - 100)", p, errno);
}
static void c_posix_memalign_bad(void) {
  void* out = (void*)0x1234;
  say("posix_memalign(&out, 24, 64): 24 is not a power of two");
  int rc = posix_memalign(&out, (size_t)(uintptr_t)opaque((void*)24), 64);
  if (rc != EINVAL) verdict("missed", "returned %d (%s), not EINVAL", rc, strerror(rc));
  if (out != (void*)0x1234) verdict("missed", "returned EINVAL but changed *out");
  verdict("caught", "returned EINVAL, *out untouched");
}

/* --- the table ------------------------------------------------------------ */

struct Case {
  const char* name;
  const char* kind;
  const char* desc;
  void (*run)(void);
};

static const struct Case kCases[] = {
    {"df_small", "report", "double free, 24 bytes", c_df_small},
    {"df_medium", "report", "double free, 4000 bytes", c_df_medium},
    {"df_large", "report", "double free, 256 KiB (mmap-sized)", c_df_large},
    {"df_intervening", "report", "free p, free q, free p (64 bytes)", c_df_intervening},
    {"df_fastbin", "report", "per-thread cache filled first, then free p, q, p", c_df_fastbin},
    {"df_cache_drained", "report", "free p, free 3000 others of its size, free p", c_df_cache_drained},
    {"df_realloc_moved", "report", "free of the old pointer after realloc moved it", c_df_realloc_moved},
    {"df_thread", "report", "freed by a thread that exited, freed again by main", c_df_thread},
    {"df_thread_live", "report", "freed by a live thread, freed again by main", c_df_thread_live},
    {"df_aligned", "report", "double free of a posix_memalign(256) block", c_df_aligned},
    {"free_interior1", "report", "free(p + 1)", c_free_interior1},
    {"free_interior8", "report", "free(p + 8)", c_free_interior8},
    {"free_interior16", "report", "free(p + 16)", c_free_interior16},
    {"free_interior_large", "report", "free(p + 4096) of a 1 MiB block", c_free_interior_large},
    {"free_fake_chunk", "report", "free(p + 16) with a fake chunk header at p + 8", c_free_fake_chunk},
    {"free_before", "report", "free(q - 16), 16 bytes before a block", c_free_before},
    {"free_stack", "report", "free of a stack address", c_free_stack},
    {"free_bss", "report", "free of a .bss address", c_free_bss},
    {"free_rodata", "report", "free of a .rodata address", c_free_rodata},
    {"free_literal", "report", "free of a string literal", c_free_literal},
    {"free_mmap", "report", "free of a page inside a foreign mmap", c_free_mmap},
    {"free_mmap_guarded", "report", "free of a foreign mmap page, unmapped page in front", c_free_mmap_guarded},
    {"free_unmapped", "report", "free of an unmapped address", c_free_unmapped},
    {"free_null_small", "report", "free((void*)16)", c_free_null_small},
    {"realloc_freed", "report", "realloc of a freed block", c_realloc_freed},
    {"realloc_interior", "report", "realloc(p + 16)", c_realloc_interior},
    {"realloc_stack", "report", "realloc of a stack address", c_realloc_stack},
    {"mus_freed", "report", "malloc_usable_size of a freed block", c_mus_freed},
    {"mus_interior", "report", "malloc_usable_size(p + 16)", c_mus_interior},
    {"mus_stack", "report", "malloc_usable_size of a stack address", c_mus_stack},
    {"hijack_raw", "hijack", "UAF: &target written into a freed block's first word", c_hijack_raw},
    {"hijack_spray", "hijack", "UAF: &target written into its first 8 words", c_hijack_spray},
    {"hijack_encoded", "hijack", "UAF: glibc-encoded &target in its first word", c_hijack_encoded},
    {"hijack_delta_global", "hijack", "UAF: first word ^= next ^ &target", c_hijack_delta_global},
    {"hijack_delta_live", "hijack", "UAF: first word ^= next ^ live block", c_hijack_delta_live},
    {"hijack_large", "hijack", "UAF: &target into a freed 4096-byte block", c_hijack_large},
    {"uaf_write", "report", "UAF write into the middle of a freed block, reused", c_uaf_write},
    {"ovf_1", "report", "overflow: 1 byte past malloc(20)", c_ovf_1},
    {"ovf_8", "report", "overflow: 8 bytes past malloc(24)", c_ovf_8},
    {"ovf_next_header", "report", "overflow: 16 bytes past the usable size (next header)", c_ovf_next_header},
    {"ovf_large", "report", "overflow: 8 bytes past malloc(200000)", c_ovf_large},
    {"udf_1", "report", "underflow: 1 byte before a block", c_udf_1},
    {"udf_8", "report", "underflow: 8 bytes before a block", c_udf_8},
    {"malloc_huge", "contract", "malloc(SIZE_MAX - 64): NULL + ENOMEM", c_malloc_huge},
    {"calloc_overflow", "contract", "calloc n*m overflow: NULL + ENOMEM", c_calloc_overflow},
    {"reallocarray_overflow", "contract", "reallocarray overflow: NULL + ENOMEM, block kept", c_reallocarray_overflow},
    {"realloc_huge", "contract", "realloc(p, SIZE_MAX - 64): NULL + ENOMEM, block kept", c_realloc_huge},
    {"memalign_huge", "contract", "memalign(4096, SIZE_MAX - 100): NULL + ENOMEM", c_memalign_huge},
    {"posix_memalign_bad", "contract", "posix_memalign alignment 24: EINVAL", c_posix_memalign_bad},
};
enum { kNumCases = sizeof kCases / sizeof kCases[0] };

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: misuse list | misuse CASE (name or number)\n");
    return 2;
  }
  if (strcmp(argv[1], "list") == 0) {
    for (int i = 0; i < kNumCases; ++i) printf("%d\t%s\t%s\t%s\n", i + 1, kCases[i].name, kCases[i].kind, kCases[i].desc);
    return 0;
  }
  char* end;
  long num = strtol(argv[1], &end, 10);
  for (int i = 0; i < kNumCases; ++i) {
    if ((*end == '\0' && num == i + 1) || strcmp(argv[1], kCases[i].name) == 0) {
      say("case %d %s: %s", i + 1, kCases[i].name, kCases[i].desc);
      kCases[i].run();
      say("setup: case %s fell through", kCases[i].name);
      return 3;
    }
  }
  fprintf(stderr, "misuse: no case '%s' (misuse list)\n", argv[1]);
  return 2;
}
