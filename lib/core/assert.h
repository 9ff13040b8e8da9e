// lib/core/assert.h — invariants as code, at three levels (as in mimalloc):
//
//   KHEAP_ASSERT(c)           always on: cheap checks whose failure means the
//                             allocator itself is broken. Panics.
//   KHEAP_ASSERT_INTERNAL(c)  debug builds only (KHEAP_INTERNAL_CHECKS=1).
//   KHEAP_CHECK_EXPENSIVE(c)  whole-structure walks; only when
//                             kheap::g_expensive_checks is set at run time.
//
// Misuse by a *caller* (double free, bad pointer) is not an assertion: it is
// reported through core/report.h and refused.
#pragma once

namespace kheap {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* func);
extern bool g_expensive_checks;
}  // namespace kheap

#define KHEAP_ASSERT(cond) \
  (__builtin_expect(!!(cond), 1) ? (void)0 : ::kheap::assert_failed(#cond, __FILE__, __LINE__, __func__))

#if defined(KHEAP_INTERNAL_CHECKS) && KHEAP_INTERNAL_CHECKS
#define KHEAP_ASSERT_INTERNAL(cond) KHEAP_ASSERT(cond)
#else
#define KHEAP_ASSERT_INTERNAL(cond) ((void)0)
#endif

#define KHEAP_CHECK_EXPENSIVE(cond) \
  ((!::kheap::g_expensive_checks || (cond)) ? (void)0 : ::kheap::assert_failed(#cond, __FILE__, __LINE__, __func__))
