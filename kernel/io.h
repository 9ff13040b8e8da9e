// kernel/io.h — x86 port I/O and the few privileged instructions the kernel uses.
#pragma once

#include <cstdint>

namespace kheap::kernel {

inline void outb(uint16_t port, uint8_t value) { asm volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t value) { asm volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}
inline uint32_t read_cr2() {
  uint32_t v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline uint32_t read_cr3() {
  uint32_t v;
  asm volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace kheap::kernel
