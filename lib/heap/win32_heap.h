// lib/heap/win32_heap.h — the Win32 heap API, over the slab allocator and page heap.
//
// Windows' names, types, flags and return conventions, declared here (never
// from a Windows header) inside kheap::win32, so a Windows build can compare
// against the real thing side by side. See DESIGN.md "Semantics worth getting
// exactly right" for the conventions. How a heap holds its memory is in
// heap/heap_internal.h.
//
// Conventions, beyond Windows' documentation:
//  * Every failure sets the last error (GetLastError), also where Windows
//    leaves it unspecified: ERROR_INVALID_HANDLE (not a live heap),
//    ERROR_INVALID_PARAMETER (a pointer that is not a live block of that heap,
//    lpMem == NULL for HeapReAlloc/HeapSize, bad HeapCreate sizes),
//    ERROR_NOT_ENOUGH_MEMORY (out of memory, the fixed maximum, sizes near
//    SIZE_MAX, an impossible HEAP_REALLOC_IN_PLACE_ONLY). Success does not
//    clear it. There is one last-error value (no per-thread storage here).
//  * Misuse is reported (core/report.h) and refused: a handle that is not a
//    live heap -> InvalidHandle; a block of another heap -> WrongHeap; a block
//    freed twice -> DoubleFree; a pointer that was never a block (interior,
//    foreign, unaligned) -> InvalidFree; a block whose header was overwritten
//    -> RedzoneOverwritten; lpMem == NULL to HeapReAlloc/HeapSize, destroying
//    the process heap, HeapUnlock without HeapLock -> BadArgument.
//    HeapValidate(h, 0, p) of a p that is not a live block returns FALSE
//    without a report (it is a question, not misuse); corruption is reported.
//  * Blocks are aligned to 2*sizeof(void*). Running out of memory is not
//    misuse: it returns NULL (or runs the failure handler) without a report.
//  * HeapCreate with dwMaximumSize != 0 and dwInitialSize > dwMaximumSize
//    fails with ERROR_INVALID_PARAMETER. Both sizes are rounded up to pages.
//  * The heap lock is recursive per thread (HeapLock, then heap calls on the
//    same thread, nest). Destroying a heap another thread is using is
//    undefined, as on Windows.
#pragma once

#include "core/types.h"

namespace kheap::win32 {

using HANDLE = void*;
using SIZE_T = size_t;
using BOOL = int;
using DWORD = uint32_t;
using WORD = uint16_t;
using BYTE = uint8_t;
using LPVOID = void*;
using LPCVOID = const void*;
using PHANDLE = HANDLE*;

inline constexpr BOOL TRUE = 1;
inline constexpr BOOL FALSE = 0;

inline constexpr DWORD HEAP_NO_SERIALIZE = 0x00000001;
inline constexpr DWORD HEAP_GROWABLE = 0x00000002;
inline constexpr DWORD HEAP_GENERATE_EXCEPTIONS = 0x00000004;
inline constexpr DWORD HEAP_ZERO_MEMORY = 0x00000008;
inline constexpr DWORD HEAP_REALLOC_IN_PLACE_ONLY = 0x00000010;

inline constexpr DWORD ERROR_SUCCESS = 0;
inline constexpr DWORD ERROR_INVALID_HANDLE = 6;
inline constexpr DWORD ERROR_NOT_ENOUGH_MEMORY = 8;
inline constexpr DWORD ERROR_INVALID_PARAMETER = 87;
inline constexpr DWORD ERROR_NO_MORE_ITEMS = 259;
inline constexpr DWORD ERROR_NOT_OWNER = 288;

inline constexpr DWORD STATUS_NO_MEMORY = 0xC0000017;
inline constexpr DWORD STATUS_ACCESS_VIOLATION = 0xC0000005;

inline constexpr WORD PROCESS_HEAP_REGION = 0x0001;
inline constexpr WORD PROCESS_HEAP_UNCOMMITTED_RANGE = 0x0002;
inline constexpr WORD PROCESS_HEAP_ENTRY_BUSY = 0x0004;

struct PROCESS_HEAP_ENTRY {
  LPVOID lpData;
  DWORD cbData;
  BYTE cbOverhead;
  BYTE iRegionIndex;
  WORD wFlags;
  // (Windows has a union of Block/Region here; kheap reports regions as whole runs.)
  LPVOID regionFirstBlock;
  DWORD regionCommittedSize;
};

// Bring the heap layer up (creates the process heap). Call after slab_init.
bool heap_init();

HANDLE GetProcessHeap();
DWORD GetProcessHeaps(DWORD count, PHANDLE heaps);
HANDLE HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize);
BOOL HeapDestroy(HANDLE hHeap);
LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
LPVOID HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes);
BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
SIZE_T HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
BOOL HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
BOOL HeapWalk(HANDLE hHeap, PROCESS_HEAP_ENTRY* lpEntry);
SIZE_T HeapCompact(HANDLE hHeap, DWORD dwFlags);
BOOL HeapLock(HANDLE hHeap);
BOOL HeapUnlock(HANDLE hHeap);
DWORD GetLastError();
void SetLastError(DWORD error);
// The system message for an error code, as FormatMessage would give it
// (what Irvine's WriteWindowsMsg prints after "Error N: ").
const char* heap_error_text(DWORD error);

// Where Windows would raise an exception (HEAP_GENERATE_EXCEPTIONS), kheap calls
// this handler with the status code. The default reports the status and stops
// (kheap_platform_panic). Returns the previous handler.
using HeapFailureHandler = void (*)(DWORD status, HANDLE heap, SIZE_T requested);
HeapFailureHandler set_heap_failure_handler(HeapFailureHandler handler);

// For the `heaps` monitor command and the gdb extension.
struct HeapStats {
  HANDLE handle;
  DWORD flags;
  SIZE_T committed_bytes;
  SIZE_T maximum_bytes;    // 0 = growable
  SIZE_T blocks_in_use;
  SIZE_T bytes_in_use;     // sum of requested sizes
  SIZE_T free_bytes;       // committed but not in use
  bool is_process_heap;
  // Where the committed bytes are (they add up to committed_bytes).
  SIZE_T reserve_bytes;    // the initial commit still held
  SIZE_T large_run_bytes;  // large blocks with runs of their own
  SIZE_T slab_bytes;       // slabs of the heap's size-class caches
  SIZE_T large_blocks;     // of blocks_in_use, how many are large (page runs)
  SIZE_T bookkeeping_bytes;  // pages holding the heap object and large-block records (not in committed)
};
// False (and no report) if `heap` is not a live heap.
bool heap_stats(HANDLE heap, HeapStats* out);
// One line per heap: handle, flags, committed, maximum, blocks in use, bytes in use, free.
void print_heaps();

// Blocks whose header + size exceed this many bytes are "large": page runs
// whose metadata lives outside them, so n pages of bytes take exactly n pages.
inline constexpr SIZE_T kHeapLargeBlockThreshold = 16384;

// How the heap lock tells threads apart. The default is the x86-64 thread
// pointer (%fs:0) on the host and a constant in the (single-CPU) kernel.
using ThreadTokenSource = uintptr_t (*)();
ThreadTokenSource set_heap_thread_token_source(ThreadTokenSource source);

}  // namespace kheap::win32
