// kernel/cxx_new.cpp — every form of operator new and delete, on the kmalloc
// family: plain, array, nothrow, aligned (C++17 align_val_t), sized delete.
//
// The kernel has no exceptions, so the throwing forms cannot throw
// std::bad_alloc; returning nullptr would silently break callers that (rightly)
// do not check. They report "out of memory in operator new" with the size and
// alignment and stop the machine via kheap_platform_panic. The nothrow forms
// return nullptr. new(0) returns a unique pointer (kmalloc(0) does). Delete
// ignores the size and alignment hints: kfree finds the block itself, and
// checks it (a bad delete is reported and refused like a bad kfree).
#include <new>

#include "core/format.h"
#include "platform/platform.h"
#include "slab/slab.h"

// The kernel links no libsupc++: the std::nothrow tag object lives here.
namespace std {
const nothrow_t nothrow{};
}  // namespace std

namespace {

void* allocate(size_t size, size_t align) {
  return align <= kheap::kKmallocMinAlign ? kheap::kmalloc(size) : kheap::kmalloc_aligned(size, align);
}

[[noreturn]] void out_of_memory(const char* form, size_t size, size_t align) {
  kheap::print("kheap: out of memory in %s (%zu bytes, alignment %zu); the kernel has no exceptions\n", form, size,
               align);
  kheap_platform_panic("out of memory in operator new");
}

void* allocate_or_panic(const char* form, size_t size, size_t align) {
  void* p = allocate(size, align);
  if (!p) out_of_memory(form, size, align);
  return p;
}

}  // namespace

// --- new -----------------------------------------------------------------------
void* operator new(size_t size) { return allocate_or_panic("operator new", size, 0); }
void* operator new[](size_t size) { return allocate_or_panic("operator new[]", size, 0); }
void* operator new(size_t size, std::align_val_t align) {
  return allocate_or_panic("operator new (aligned)", size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align) {
  return allocate_or_panic("operator new[] (aligned)", size, static_cast<size_t>(align));
}
void* operator new(size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return allocate(size, 0); }
void* operator new(size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<size_t>(align));
}

// --- delete --------------------------------------------------------------------
void operator delete(void* p) noexcept { kheap::kfree(p); }
void operator delete[](void* p) noexcept { kheap::kfree(p); }
void operator delete(void* p, size_t) noexcept { kheap::kfree(p); }
void operator delete[](void* p, size_t) noexcept { kheap::kfree(p); }
void operator delete(void* p, std::align_val_t) noexcept { kheap::kfree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { kheap::kfree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { kheap::kfree(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { kheap::kfree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { kheap::kfree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { kheap::kfree(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { kheap::kfree(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { kheap::kfree(p); }
