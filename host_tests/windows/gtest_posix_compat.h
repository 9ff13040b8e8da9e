// host_tests/windows/gtest_posix_compat.h — force-included (-include) into every
// host test compiled for Windows by mk/windows.mk, so the Linux suites build
// unchanged. Nothing here on other systems.
//
// GoogleTest has no KilledBySignal on Windows: a process there does not die of
// a signal but of an unhandled exception (exit code = the exception code) or
// of abort() (exit code 3). This predicate maps the signals the suites use to
// those exit codes, so `EXPECT_EXIT(..., KilledBySignal(SIGSEGV), "")` checks
// the same thing: an access violation killed the child.
#pragma once
#if defined(_WIN32)
#include <csignal>

namespace testing {
class KilledBySignal {
 public:
  explicit KilledBySignal(int signum) : signum_(signum) {}
  bool operator()(int exit_status) const {
    unsigned code = static_cast<unsigned>(exit_status);
    switch (signum_) {
      case SIGSEGV: return code == 0xC0000005u;  // STATUS_ACCESS_VIOLATION
      case SIGILL: return code == 0xC000001Du;   // STATUS_ILLEGAL_INSTRUCTION
      case SIGABRT: return code == 3u;           // abort() in the Microsoft C runtime
      default: return false;
    }
  }

 private:
  int signum_;
};
}  // namespace testing
#endif
