// kernel/ktest.h — a tiny in-kernel test framework.
//
//   KTEST(pmm_alloc_all_frames) {
//     KCHECK(x != 0);
//     KCHECK_EQ(a, b);        // prints both values on failure
//   }
//
// Tests register themselves into section kheap_tests; the `selftest` monitor
// command runs them all (or those whose name contains its argument), prints
// each test's name and result, and closes with exactly "N passed, M failed".
// A failed check prints file:line and the values, marks the test failed and
// continues with the test's next statement (use KREQUIRE to return early).
#pragma once

#include "core/types.h"

namespace kheap::kernel {

struct KernelTest {
  const char* name;
  const char* file;
  void (*run)();
};

void ktest_fail(const char* file, int line, const char* expr);
void ktest_fail_eq(const char* file, int line, const char* a_expr, const char* b_expr, int64_t a, int64_t b);
bool ktest_current_failed();
int run_kernel_tests(const char* filter);  // returns the number failed

}  // namespace kheap::kernel

#define KTEST(test_name)                                                                                   \
  static void KHEAP_KTEST_FN_##test_name();                                                                \
  [[gnu::used, gnu::section("kheap_tests"), gnu::aligned(sizeof(void*))]] static const ::kheap::kernel::   \
      KernelTest KHEAP_KTEST_ENTRY_##test_name = {#test_name, __FILE__, KHEAP_KTEST_FN_##test_name};        \
  static void KHEAP_KTEST_FN_##test_name()

#define KCHECK(cond) \
  ((cond) ? (void)0 : ::kheap::kernel::ktest_fail(__FILE__, __LINE__, #cond))

#define KCHECK_EQ(a, b)                                                                                  \
  do {                                                                                                   \
    auto kcheck_a_ = (a);                                                                                \
    auto kcheck_b_ = (b);                                                                                \
    if (!(kcheck_a_ == kcheck_b_))                                                                       \
      ::kheap::kernel::ktest_fail_eq(__FILE__, __LINE__, #a, #b, static_cast<int64_t>(kcheck_a_),        \
                                     static_cast<int64_t>(kcheck_b_));                                   \
  } while (0)

#define KREQUIRE(cond)                                   \
  do {                                                   \
    if (!(cond)) {                                       \
      ::kheap::kernel::ktest_fail(__FILE__, __LINE__, #cond); \
      return;                                            \
    }                                                    \
  } while (0)
