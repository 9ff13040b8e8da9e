// kernel/ktest.cpp — the in-kernel test runner behind `selftest`.
#include "ktest.h"

#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "monitor.h"

extern "C" const kheap::kernel::KernelTest __start_kheap_tests[];
extern "C" const kheap::kernel::KernelTest __stop_kheap_tests[];

namespace kheap::kernel {

namespace {
bool g_failed = false;

bool contains(const char* haystack, const char* needle) {
  for (; *haystack; ++haystack) {
    const char *h = haystack, *n = needle;
    while (*n && *h == *n) ++h, ++n;
    if (!*n) return true;
  }
  return !*needle;
}
}  // namespace

void ktest_fail(const char* file, int line, const char* expr) {
  print("    FAILED at %s:%d: %s\n", file, line, expr);
  g_failed = true;
}

void ktest_fail_eq(const char* file, int line, const char* a_expr, const char* b_expr, int64_t a, int64_t b) {
  print("    FAILED at %s:%d: %s == %s\n      left:  %lld (0x%llx)\n      right: %lld (0x%llx)\n", file, line, a_expr,
        b_expr, static_cast<long long>(a), static_cast<unsigned long long>(a), static_cast<long long>(b),
        static_cast<unsigned long long>(b));
  g_failed = true;
}

bool ktest_current_failed() { return g_failed; }

int run_kernel_tests(const char* filter) {
  int passed = 0, failed = 0;
  for (const KernelTest* t = __start_kheap_tests; t != __stop_kheap_tests; ++t) {
    if (filter && !contains(t->name, filter)) continue;
    print("[ RUN  ] %s\n", t->name);
    g_failed = false;
    // Tests provoke misuse on purpose: keep the report action at "refuse" while they run.
    ReportAction saved = report_action();
    set_report_action(ReportAction::Refuse);
    t->run();
    set_report_action(saved);
    if (g_failed) {
      ++failed;
      print("[ FAIL ] %s\n", t->name);
    } else {
      ++passed;
      print("[  OK  ] %s\n", t->name);
    }
  }
  print("%d passed, %d failed\n", passed, failed);
  return failed;
}

MONITOR_COMMAND(selftest, "[FILTER]", "run the in-kernel tests (those whose name contains FILTER)") {
  return run_kernel_tests(argc > 1 ? argv[1] : nullptr) == 0 ? 0 : 1;
}

}  // namespace kheap::kernel
