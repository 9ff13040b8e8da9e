// kernel/idt.h — the interrupt descriptor table and the CPU exception report.
#pragma once

#include <cstdint>

namespace kheap::kernel {

// What isr.S pushes, lowest address first.
struct ExceptionFrame {
  uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
  uint32_t vector, error_code;
  uint32_t eip, cs, eflags;
};

void idt_init();

// Says which region of the address space `addr` lies in (null page, identity
// area, kernel break mapped/unmapped, past the break, ...), for the page-fault report.
const char* describe_fault_region(uint32_t addr);

}  // namespace kheap::kernel
