// kernel/idt.cpp — the IDT and the exception handler.
//
// Every CPU exception is fatal here: the handler prints the exception's name,
// error code, EIP and registers — for a page fault also CR2, the decoded cause
// (read/write/execute, not-present/protection) and the region the address is
// in — then leaves QEMU with a failing status. Never a silent hang or reboot.
#include "idt.h"

#include "core/format.h"
#include "qemu_exit.h"
#include "io.h"

extern "C" void* isr_stub_table[];

namespace kheap::kernel {

namespace {

struct [[gnu::packed]] IdtEntry {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t zero;
  uint8_t type_attributes;
  uint16_t offset_high;
};

struct [[gnu::packed]] IdtDescriptor {
  uint16_t limit;
  uint32_t base;
};

IdtEntry g_idt[256];

constexpr const char* kExceptionNames[32] = {
    "divide error",          "debug",                  "non-maskable interrupt", "breakpoint",
    "overflow",              "bound range exceeded",   "invalid opcode",         "device not available",
    "double fault",          "coprocessor segment overrun", "invalid TSS",      "segment not present",
    "stack-segment fault",   "general protection fault", "page fault",          "reserved (15)",
    "x87 floating-point error", "alignment check",     "machine check",          "SIMD floating-point error",
    "virtualization exception", "control protection",  "reserved (22)",          "reserved (23)",
    "reserved (24)",         "reserved (25)",          "reserved (26)",          "reserved (27)",
    "hypervisor injection",  "VMM communication",      "security exception",     "reserved (31)",
};

}  // namespace

void idt_init() {
  for (int i = 0; i < 32; ++i) {
    auto handler = reinterpret_cast<uint32_t>(isr_stub_table[i]);
    g_idt[i] = {static_cast<uint16_t>(handler & 0xFFFF), 0x08, 0, 0x8E, static_cast<uint16_t>(handler >> 16)};
  }
  IdtDescriptor d{sizeof(g_idt) - 1, reinterpret_cast<uint32_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(d));
}

}  // namespace kheap::kernel

extern "C" void exception_handler(kheap::kernel::ExceptionFrame* f) {
  using namespace kheap::kernel;
  const char* name = f->vector < 32 ? kExceptionNames[f->vector] : "unknown";
  kheap::print("\n*** CPU exception %u: %s ***\n", f->vector, name);
  kheap::print("  error code 0x%x   EIP 0x%08x   CS 0x%x   EFLAGS 0x%08x\n", f->error_code, f->eip, f->cs, f->eflags);
  if (f->vector == 14) {
    uint32_t cr2 = read_cr2();
    uint32_t e = f->error_code;
    const char* access = (e & 0x10) ? "execute" : (e & 0x2) ? "write" : "read";
    const char* cause = (e & 0x1) ? "protection violation" : "page not present";
    kheap::print("  page fault at CR2 0x%08x: %s, %s, %s mode%s\n", cr2, access, cause, (e & 0x4) ? "user" : "kernel",
                 (e & 0x8) ? ", reserved bit set" : "");
    kheap::print("  address region: %s\n", describe_fault_region(cr2));
  }
  kheap::print("  EAX 0x%08x EBX 0x%08x ECX 0x%08x EDX 0x%08x\n", f->eax, f->ebx, f->ecx, f->edx);
  kheap::print("  ESI 0x%08x EDI 0x%08x EBP 0x%08x ESP 0x%08x CR3 0x%08x\n", f->esi, f->edi, f->ebp,
               f->esp_at_pusha + 20, read_cr3());
  kheap::print("kheap: stopping after CPU exception (QEMU exit status %u)\n", kFailureExitCode * 2 + 1);
  qemu_exit(kFailureExitCode);
}
