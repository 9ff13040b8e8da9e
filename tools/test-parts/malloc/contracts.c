/* tools/test-parts/malloc/contracts.c — the C/POSIX contracts of the malloc
 * family, checked in-process. Run under LD_PRELOAD=build/host/libkheap.so by
 * tools/test-parts/malloc.sh (and under glibc, which must pass the same checks
 * except the two marked kheap-only: glibc 2.36 accepts aligned_alloc(3, n)
 * and sets errno in posix_memalign). Prints each failed check and, last,
 * "contracts: N checks, M failed"; exit status 1 if any failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int checks, failed;
#define CHECK(cond)                                                     \
  do {                                                                  \
    ++checks;                                                           \
    if (!(cond)) {                                                      \
      ++failed;                                                         \
      printf("FAILED line %d: %s\n", __LINE__, #cond);                  \
    }                                                                   \
  } while (0)

static int aligned(void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

int main(void) {
  /* malloc(0): a unique, freeable pointer */
  void* z1 = malloc(0);
  void* z2 = malloc(0);
  CHECK(z1 && z2 && z1 != z2);
  free(z1);
  free(z2);

  /* every block is aligned for max_align_t, usable size >= asked */
  for (size_t n = 1; n < 70000; n = n * 3 / 2 + 1) {
    char* p = malloc(n);
    CHECK(p && aligned(p, 16) && malloc_usable_size(p) >= n);
    memset(p, 0xAB, malloc_usable_size(p));
    free(p);
  }
  CHECK(malloc_usable_size(NULL) == 0);

  /* failures: errno ENOMEM */
  errno = 0;
  CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(SIZE_MAX / 2) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM); /* overflow */
  errno = 0;
  CHECK(calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);

  /* calloc zeroes, also memory that was dirty before (small and large) */
  size_t sizes[] = {24, 1000, 9000, 300000, 5 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    for (int round = 0; round < 3; ++round) {
      unsigned char* d = malloc(sizes[i]);
      memset(d, 0x5A, sizes[i]);
      free(d);
      unsigned char* c = calloc(sizes[i], 1);
      int zero = c != NULL;
      for (size_t k = 0; zero && k < sizes[i]; ++k) zero = c[k] == 0;
      CHECK(zero);
      free(c);
    }
  }
  CHECK(calloc(0, 5) != NULL);

  /* realloc */
  char* r = realloc(NULL, 10); /* == malloc */
  CHECK(r != NULL);
  strcpy(r, "kheap-123");
  for (size_t n = 16; n < (4u << 20); n *= 2) {
    r = realloc(r, n);
    CHECK(r && strcmp(r, "kheap-123") == 0);
  }
  r = realloc(r, 5); /* shrink keeps the prefix */
  CHECK(r && memcmp(r, "kheap", 5) == 0);
  errno = 0;
  CHECK(realloc(r, SIZE_MAX - 100) == NULL && errno == ENOMEM);
  CHECK(memcmp(r, "kheap", 5) == 0); /* untouched after the failure */
  CHECK(realloc(r, 0) == NULL);      /* glibc: frees */
  void* rn = realloc(NULL, 0);       /* malloc(0) */
  CHECK(rn != NULL);
  free(rn);

  /* reallocarray */
  char* ra = reallocarray(NULL, 10, 10);
  CHECK(ra != NULL);
  ra[99] = 7;
  errno = 0;
  CHECK(reallocarray(ra, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
  CHECK(ra[99] == 7);
  ra = reallocarray(ra, 1000, 8);
  CHECK(ra && ra[99] == 7);
  free(ra);

  /* posix_memalign: EINVAL for bad alignment, errno untouched */
  void* pm = (void*)1;
  errno = 1234;
  CHECK(posix_memalign(&pm, 3, 10) == EINVAL && pm == (void*)1);
  CHECK(posix_memalign(&pm, 4, 10) == EINVAL); /* < sizeof(void*) */
  CHECK(posix_memalign(&pm, 0, 10) == EINVAL);
  CHECK(posix_memalign(&pm, 24, 10) == EINVAL);
  CHECK(errno == 1234);
  for (size_t a = sizeof(void*); a <= ((size_t)1 << 22); a *= 2) {
    size_t ns[] = {0, 1, a - 1, a + 1, 3 * a + 7, 100000};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; ++i) {
      void* q = NULL;
      CHECK(posix_memalign(&q, a, ns[i]) == 0 && q && aligned(q, a) && malloc_usable_size(q) >= ns[i]);
      if (q) memset(q, 1, ns[i]);
      free(q);
    }
  }
  CHECK(posix_memalign(&pm, 64, SIZE_MAX - 10) == ENOMEM && errno == 1234); /* kheap-only: glibc sets errno */

  /* aligned_alloc: C17 "shall fail" for an unsupported alignment (glibc >= 2.38 too) */
  void* aa = aligned_alloc(64, 100);
  CHECK(aa && aligned(aa, 64));
  free(aa);
  errno = 0;
  aa = aligned_alloc(3, 100);
  CHECK(aa == NULL && errno == EINVAL); /* kheap-only: glibc 2.36 accepts it */
  if (aa) free(aa);
  aa = aligned_alloc(8192, 8192);
  CHECK(aa && aligned(aa, 8192));
  free(aa);

  /* memalign (glibc rounds a non-power-of-two alignment up), valloc, pvalloc */
  void* ma = memalign(48, 10);
  CHECK(ma && aligned(ma, 64));
  free(ma);
  ma = memalign(1, 10);
  CHECK(ma && aligned(ma, 16));
  free(ma);
  errno = 0;
  CHECK(memalign(SIZE_MAX / 2 + 2, 10) == NULL && errno == EINVAL);
  long page = sysconf(_SC_PAGESIZE);
  void* va = valloc(10);
  CHECK(va && aligned(va, (size_t)page));
  free(va);
  void* pv = pvalloc(page + 1);
  CHECK(pv && aligned(pv, (size_t)page) && malloc_usable_size(pv) >= 2 * (size_t)page);
  free(pv);
  pv = pvalloc(0);
  CHECK(pv && aligned(pv, (size_t)page));
  free(pv);
  errno = 0;
  CHECK(pvalloc(SIZE_MAX - 10) == NULL && errno == ENOMEM);

  /* many live blocks, all distinct and intact */
  enum { N = 20000 };
  static unsigned* live[N];
  for (unsigned i = 0; i < N; ++i) {
    live[i] = malloc(sizeof(unsigned) * (1 + i % 50));
    live[i][0] = i;
    live[i][i % 50] = ~i;
  }
  int intact = 1;
  for (unsigned i = 0; i < N; ++i) intact &= live[i][0] == (i % 50 ? i : ~i) && live[i][i % 50] == ~i;
  CHECK(intact);
  for (unsigned i = 0; i < N; ++i) free(live[i]);

  /* fork: the child has a working heap */
  void* before = malloc(100);
  pid_t pid = fork();
  if (pid == 0) {
    void* a = malloc(1000);
    free(before);
    free(a);
    _exit(malloc(50) != NULL ? 0 : 1);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  free(before);

  printf("contracts: %d checks, %d failed\n", checks, failed);
  return failed != 0;
}
