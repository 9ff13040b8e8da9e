// lib/host/windows_platform.cpp — the platform hooks of lib/ on a Windows host
// (the mingw-w64 build, run under Wine by `make test`): console output goes to
// the process's standard error handle, a panic aborts — the same contract as
// lib/host/linux_platform.cpp. abort() ends the process with exit code 3 (the
// Microsoft C runtime's convention), which is what death tests look for.
#if defined(_WIN32)

#include <windows.h>

#include "platform/platform.h"

extern "C" void kheap_platform_write(const char* text, size_t len) {
  HANDLE err = ::GetStdHandle(STD_ERROR_HANDLE);
  if (err == nullptr || err == INVALID_HANDLE_VALUE) return;
  while (len > 0) {
    DWORD chunk = len > 0x10000 ? 0x10000 : static_cast<DWORD>(len);
    DWORD written = 0;
    if (!::WriteFile(err, text, chunk, &written, nullptr) || written == 0) return;
    text += written;
    len -= written;
  }
}

// kheap_platform_panic: lib/host/host_panic.cpp (shared by both hosts).

extern "C" void kheap_platform_yield() { ::SwitchToThread(); }

extern "C" void kheap_platform_populate(void*, size_t) {}  // (committed views: nothing to fault in lazily)

namespace {
DWORD g_exit_slot = FLS_OUT_OF_INDEXES;
void (*g_exit_fn)(void*);  // one callback for the process (lib/slab's thread-cache release)
void WINAPI run_exit_fn(void* arg) {
  if (arg && g_exit_fn) g_exit_fn(arg);
}
}  // namespace

// A fiber-local slot's callback runs when the thread exits (FlsAlloc).
extern "C" void kheap_platform_at_thread_exit(void (*fn)(void*), void* arg) {
  if (g_exit_slot == FLS_OUT_OF_INDEXES) g_exit_slot = ::FlsAlloc(run_exit_fn);
  if (g_exit_slot == FLS_OUT_OF_INDEXES) return;
  g_exit_fn = fn;
  ::FlsSetValue(g_exit_slot, arg);
}

#endif  // _WIN32
