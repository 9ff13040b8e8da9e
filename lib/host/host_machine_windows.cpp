// lib/host/host_machine_windows.cpp — the simulated machine of
// host/host_machine.h on Windows (the mingw-w64 build, tested under Wine).
//
// Resources, created in this order and released in reverse by destroy():
//   section       the machine's RAM: a pagefile-backed section
//                 (CreateFileMapping(INVALID_HANDLE_VALUE, ...)) of ram_bytes
//   direct_map_   one MapViewOfFile of the whole section: frame f is at direct_map_ + f
//   window_base_  a VirtualAlloc(MEM_RESERVE) of window_bytes for the kernel break
//   translation_  one PhysAddr per window page (0 = unmapped), HeapAlloc'd on the process heap
//   resident      one VirtAddr per frame (see below), HeapAlloc'd on the process heap
// The section handle and the resident table live in a slot of a small
// process-wide registry (g_slots); memfd_ holds the slot's index, so
// created() (memfd_ >= 0) means the same as on Linux.
//
// Why frames are not views of the section. Windows maps views of a section
// only at 64 KiB-aligned addresses and 64 KiB-aligned section offsets (the
// allocation granularity): MapViewOfFileEx of one 4 KiB frame at a 4 KiB
// window page fails with ERROR_MAPPED_ALIGNMENT, on Windows and under Wine 8
// alike. The placeholder API (VirtualAlloc2 + MEM_RESERVE_PLACEHOLDER,
// MapViewOfFile3 + MEM_REPLACE_PLACEHOLDER, Windows 10 1803+) would let a view
// replace a page-sized piece of a reservation, but its offsets must still be
// 64 KiB aligned, and Wine 8.0 rejects MEM_RESERVE_PLACEHOLDER
// (ERROR_INVALID_PARAMETER). Freeing one page of a reservation to map over it
// is impossible too: VirtualFree(MEM_RELEASE) releases only whole
// reservations (ERROR_INVALID_PARAMETER / ERROR_INVALID_ADDRESS otherwise).
// AWE (MapUserPhysicalPages) maps 4 KiB pages but needs SeLockMemoryPrivilege.
//
// So a frame's contents live in exactly one place at a time, its "resident"
// page: the direct map (resident == 0) or one window page mapped to it
// (resident == that page). Invariants (all changes under g_lock):
//  * a window page is committed read/write iff it is the resident page of the
//    frame its translation_ entry names; every other window page is only
//    reserved, so touching it raises an access violation;
//  * a frame's direct-map page is read/write iff the frame is resident there,
//    else PAGE_NOACCESS.
// map_page moves the frame into the new page (commit, copy 4 KiB in, protect
// the direct-map page) when it was in the direct map; unmap_page moves it back
// (copy out, decommit). An access to a page that is mapped but not resident —
// the second alias of a frame, or the direct map of a frame that is mapped —
// faults, and a vectored exception handler moves the frame there and resumes
// the access. An access to a page that is not mapped is not ours: the handler
// passes it on and it stays an access violation (exit code 0xC0000005). So
// aliases see each other's writes, as on Linux, for code on one thread.
//
// Limits (vs. the Linux memfd machine):
//  * Aliasing is by migration, not by shared pages: if two threads use one
//    frame through two addresses at the same moment, a write made through the
//    old address while another thread's fault is copying the frame away can be
//    lost. Nothing in lib/ maps a frame twice or touches a mapped frame through
//    the direct map; only tests of the machine itself do, on one thread.
//  * Each map/unmap costs a 4 KiB copy and two system calls; a bounce between
//    aliases costs a fault each time.
//  * Faults raised while this file holds g_lock (a bug here) are not handled
//    (the handler would deadlock), so they stay access violations.
//  * At most kMaxMachines machines at once (create() fails beyond).
// Otherwise not thread-safe by itself, like the page heap and break above it:
// their callers serialize (lib/slab's lock, slab_lock()).
#if defined(_WIN32)

#include "host/host_machine.h"

#include <windows.h>

#include "core/assert.h"
#include "core/bitops.h"
#include "pmm/memory_map.h"

namespace kheap::host {

namespace {

constexpr int kMaxMachines = 64;

struct Slot {
  HostMachine* owner;       // nullptr: free slot
  HANDLE section;
  char* direct_map;
  size_t ram_bytes;
  VirtAddr window_base;
  size_t window_bytes;
  const PhysAddr* translation;  // the machine's translation_
  VirtAddr* resident;           // per frame: the window page holding it, 0 = the direct map
};

Slot g_slots[kMaxMachines];
SRWLOCK g_lock = SRWLOCK_INIT;
DWORD g_lock_owner = 0;  // thread id holding g_lock, 0 = none (read unlocked only by the handler)
PVOID g_handler = nullptr;

class Locked {
 public:
  Locked() {
    ::AcquireSRWLockExclusive(&g_lock);
    __atomic_store_n(&g_lock_owner, ::GetCurrentThreadId(), __ATOMIC_RELAXED);
  }
  ~Locked() {
    __atomic_store_n(&g_lock_owner, 0, __ATOMIC_RELAXED);
    ::ReleaseSRWLockExclusive(&g_lock);
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

// Move frame `frame` of `s` so that its contents are at `to` (a window page,
// or 0 for the direct map). Under g_lock. False if the page could not be
// committed (nothing changed).
bool make_resident(Slot& s, PhysAddr frame, VirtAddr to) {
  VirtAddr& resident = s.resident[frame >> kPageShift];
  VirtAddr from = resident;
  if (from == to) return true;
  char* src = from ? reinterpret_cast<char*>(from) : s.direct_map + frame;
  char* dst = to ? reinterpret_cast<char*>(to) : s.direct_map + frame;
  DWORD old = 0;
  if (to) {
    if (!::VirtualAlloc(dst, kPageSize, MEM_COMMIT, PAGE_READWRITE)) return false;
  } else {
    BOOL ok = ::VirtualProtect(dst, kPageSize, PAGE_READWRITE, &old);  // a view page: cannot fail
    KHEAP_ASSERT(ok);
  }
  memcpy(dst, src, kPageSize);
  BOOL ok = from ? ::VirtualFree(src, kPageSize, MEM_DECOMMIT) : ::VirtualProtect(src, kPageSize, PAGE_NOACCESS, &old);
  KHEAP_ASSERT(ok);
  resident = to;
  return true;
}

// The vectored exception handler: resumes accesses to mapped-but-not-resident
// pages (see the top of the file); everything else is passed on.
LONG CALLBACK on_access_violation(EXCEPTION_POINTERS* info) {
  const EXCEPTION_RECORD* rec = info->ExceptionRecord;
  if (rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || rec->NumberParameters < 2) return EXCEPTION_CONTINUE_SEARCH;
  if (rec->ExceptionInformation[0] == 8) return EXCEPTION_CONTINUE_SEARCH;  // execute: never ours
  if (__atomic_load_n(&g_lock_owner, __ATOMIC_RELAXED) == ::GetCurrentThreadId()) return EXCEPTION_CONTINUE_SEARCH;
  uintptr_t addr = rec->ExceptionInformation[1];
  Locked lock;
  for (Slot& s : g_slots) {
    if (!s.owner) continue;
    if (addr >= s.window_base && addr - s.window_base < s.window_bytes) {
      VirtAddr page = align_down(addr, kPageSize);
      PhysAddr frame = s.translation[(page - s.window_base) >> kPageShift];
      if (frame == 0) return EXCEPTION_CONTINUE_SEARCH;  // really unmapped: a true fault
      return make_resident(s, frame, page) ? EXCEPTION_CONTINUE_EXECUTION : EXCEPTION_CONTINUE_SEARCH;
    }
    uintptr_t dm = reinterpret_cast<uintptr_t>(s.direct_map);
    if (addr >= dm && addr - dm < s.ram_bytes) {
      PhysAddr frame = align_down(addr - dm, kPageSize);
      if (s.resident[frame >> kPageShift] == 0) return EXCEPTION_CONTINUE_SEARCH;  // not our doing
      return make_resident(s, frame, 0) ? EXCEPTION_CONTINUE_EXECUTION : EXCEPTION_CONTINUE_SEARCH;
    }
  }
  return EXCEPTION_CONTINUE_SEARCH;
}

}  // namespace

bool HostMachine::create(const HostMachineConfig& config) {
  destroy();
  if (config.ram_bytes < kFirstUsable + (size_t{1} << 20) || !is_aligned(config.ram_bytes, kPageSize) ||
      config.window_bytes < 4 * kPageSize || !is_aligned(config.window_bytes, kPageSize))
    return false;
  config_ = config;
  size_t window_pages = config.window_bytes >> kPageShift;
  size_t frames = config.ram_bytes >> kPageShift;
  HANDLE heap = ::GetProcessHeap();

  Slot fresh{};
  fresh.owner = this;
  fresh.ram_bytes = config.ram_bytes;
  fresh.window_bytes = config.window_bytes;
  uint64_t ram = config.ram_bytes;
  fresh.section = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_COMMIT,
                                       static_cast<DWORD>(ram >> 32), static_cast<DWORD>(ram), nullptr);
  fresh.direct_map = fresh.section ? static_cast<char*>(::MapViewOfFile(fresh.section, FILE_MAP_READ | FILE_MAP_WRITE,
                                                                        0, 0, config.ram_bytes))
                                   : nullptr;
  void* window = ::VirtualAlloc(nullptr, config.window_bytes, MEM_RESERVE, PAGE_NOACCESS);
  fresh.window_base = reinterpret_cast<VirtAddr>(window);
  auto* table = static_cast<PhysAddr*>(::HeapAlloc(heap, HEAP_ZERO_MEMORY, window_pages * sizeof(PhysAddr)));
  fresh.translation = table;
  fresh.resident = static_cast<VirtAddr*>(::HeapAlloc(heap, HEAP_ZERO_MEMORY, frames * sizeof(VirtAddr)));

  int index = -1;
  if (fresh.direct_map && window && table && fresh.resident) {
    Locked lock;
    if (!g_handler) g_handler = ::AddVectoredExceptionHandler(1, on_access_violation);
    for (int i = 0; i < kMaxMachines && g_handler; ++i) {
      if (!g_slots[i].owner) {
        g_slots[i] = fresh;
        index = i;
        break;
      }
    }
  }
  if (index < 0) {
    if (fresh.resident) ::HeapFree(heap, 0, fresh.resident);
    if (table) ::HeapFree(heap, 0, table);
    if (window) ::VirtualFree(window, 0, MEM_RELEASE);
    if (fresh.direct_map) ::UnmapViewOfFile(fresh.direct_map);
    if (fresh.section) ::CloseHandle(fresh.section);
    return false;
  }
  memfd_ = index;
  direct_map_ = fresh.direct_map;
  window_base_ = fresh.window_base;
  translation_ = table;

  if (!start_stack()) return destroy(), false;
  return true;
}

void HostMachine::destroy() {
  forget_stack();
  if (memfd_ >= 0) {
    Slot s;
    {
      Locked lock;
      s = g_slots[memfd_];
      g_slots[memfd_] = Slot{};
    }
    HANDLE heap = ::GetProcessHeap();
    ::HeapFree(heap, 0, s.resident);
    ::HeapFree(heap, 0, translation_);
    ::VirtualFree(reinterpret_cast<void*>(window_base_), 0, MEM_RELEASE);  // committed pages too
    ::UnmapViewOfFile(direct_map_);
    ::CloseHandle(s.section);
  }
  translation_ = nullptr;
  window_base_ = 0;
  direct_map_ = nullptr;
  memfd_ = -1;
  fail_after_ = -1;
}

/* (FrameSource and the stack over RAM: host_machine_common.cpp, shared with the other platform) */

/* --- Mapper: frames move into the window (see the top of the file) ------------- */

bool HostMachine::map_page(VirtAddr virt, PhysAddr frame) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && virt >= window_base_ && virt - window_base_ < config_.window_bytes);
  KHEAP_ASSERT(is_aligned(frame, kPageSize) && frame != 0 && frame < config_.ram_bytes);
  size_t page = (virt - window_base_) >> kPageShift;
  KHEAP_ASSERT(translation_[page] == 0);
  Locked lock;
  Slot& s = g_slots[memfd_];
  // A frame already mapped elsewhere stays where it is; the first access here moves it.
  // Failure to commit (out of commit charge) changes nothing: like running out
  // of page-table memory in the kernel.
  if (s.resident[frame >> kPageShift] == 0 && !make_resident(s, frame, virt)) return false;
  translation_[page] = frame;
  return true;
}

PhysAddr HostMachine::unmap_page(VirtAddr virt) {
  KHEAP_ASSERT(is_aligned(virt, kPageSize) && virt >= window_base_ && virt - window_base_ < config_.window_bytes);
  size_t page = (virt - window_base_) >> kPageShift;
  Locked lock;
  PhysAddr frame = translation_[page];
  if (frame == 0) return 0;
  Slot& s = g_slots[memfd_];
  // Back to the direct map (the page is decommitted, so later accesses fault).
  if (s.resident[frame >> kPageShift] == virt) {
    bool moved = make_resident(s, frame, 0);  // only re-protects a view page: cannot fail
    KHEAP_ASSERT(moved);
  }
  translation_[page] = 0;
  return frame;
}

PhysAddr HostMachine::translate(VirtAddr virt) const {
  if (!translation_ || virt < window_base_ || virt - window_base_ >= config_.window_bytes) return 0;
  return translation_[(virt - window_base_) >> kPageShift];
}

}  // namespace kheap::host

#endif  // _WIN32
