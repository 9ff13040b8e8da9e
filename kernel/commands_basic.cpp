// kernel/commands_basic.cpp — monitor commands that are about the machine, not
// the allocator: exit, crash, touch, echo, cmdline.
#include "core/format.h"
#include "core/string_util.h"
#include "monitor.h"
#include "paging.h"
#include "qemu_exit.h"

namespace kheap::kernel {
const char* kernel_command_line();

MONITOR_COMMAND(exit, "[code]", "leave QEMU via isa-debug-exit (code 0..127); QEMU's exit status is code*2+1") {
  int64_t code = 0;
  if (argc > 1 && !parse_arg("exit", argv[1], &code)) return 1;
  if (code < 0 || code > 127) {
    print("exit: code must be 0..127 (QEMU's status code*2+1 is one byte)\n");
    return 1;
  }
  print("kheap: exit %lld (QEMU status %lld)\n", static_cast<long long>(code), static_cast<long long>(code * 2 + 1));
  qemu_exit(static_cast<uint32_t>(code));
}

MONITOR_COMMAND(crash, "[ud|pf|gp|de]", "trigger a CPU exception to see its report (default: page fault)") {
  const char* kind = argc > 1 ? argv[1] : "pf";
  if (!str_equal(kind, "pf") && !str_equal(kind, "ud") && !str_equal(kind, "gp") && !str_equal(kind, "de")) {
    print("crash: unknown kind '%s' (pf: page fault, ud: invalid opcode, gp: general protection, de: divide error)\n",
          kind);
    return 1;
  }
  if (str_equal(kind, "ud")) asm volatile("ud2");
  if (str_equal(kind, "gp")) asm volatile("mov $0x1234, %%ax; mov %%ax, %%ds" : : : "eax");
  if (str_equal(kind, "de")) asm volatile("xor %%edx, %%edx; xor %%ecx, %%ecx; mov $1, %%eax; div %%ecx" : : : "eax", "ecx", "edx");
  // Default: write to an address inside the break window that is not mapped.
  volatile uint32_t* p = reinterpret_cast<volatile uint32_t*>(0xDFFFF000u);
  *p = 0xDEAD;
  print("crash: no exception happened?\n");
  return 1;
}

MONITOR_COMMAND(touch, "ADDR [w]", "read (or with w, write) the word at ADDR; a bad address shows the fault report") {
  int64_t a;
  if (argc < 2) {
    print("usage: touch ADDR [w]\n");
    return 1;
  }
  if (!parse_arg("touch", argv[1], &a)) return 1;
  auto* p = reinterpret_cast<volatile uint32_t*>(static_cast<uint32_t>(a));
  if (argc > 2 && argv[2][0] == 'w') {
    asm volatile("lock orl $0, (%0)" : : "r"(p) : "memory");  // a write that keeps the value
    print("touch: wrote 0x%08x\n", static_cast<uint32_t>(a));
  } else {
    uint32_t v = *p;
    print("touch: [0x%08x] = 0x%08x\n", static_cast<uint32_t>(a), v);
  }
  return 0;
}

MONITOR_COMMAND(echo, "TEXT...", "print the arguments (handy in boot scripts)") {
  for (int i = 1; i < argc; ++i) print(i + 1 < argc ? "%s " : "%s", argv[i]);
  print("\n");
  return 0;
}

MONITOR_COMMAND(cmdline, "", "print the kernel command line") {
  print("%s\n", kernel_command_line());
  return 0;
}

}  // namespace kheap::kernel
