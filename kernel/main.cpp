// kernel/main.cpp — kernel_entry: from boot.S to the monitor prompt.
//
// Order matters: consoles first (so anything after can report), the IDT
// (so a fault is reported, not a triple fault), then the multiboot check,
// global constructors, the memory stack, the boot-time commands from the
// command line, and finally the interactive monitor.
#include "core/format.h"
#include "core/string_util.h"
#include "idt.h"
#include "monitor.h"
#include "multiboot.h"
#include "qemu_exit.h"
#include "serial.h"
#include "vga.h"

namespace kheap::kernel {
void run_global_constructors();
void memory_init(const MultibootInfo* info);
void debug_boot_options(const char* cmdline, const MultibootInfo* info);  // debug_boot.cpp

namespace {
char g_command_line[1024];

// The part of the command line after " -- " is the boot script. GRUB wraps an
// argument that contains spaces in double quotes (escaping inner quotes with
// a backslash), so a quoted script is unwrapped here.
char g_boot_script[1024];
const char* boot_script(const char* cmdline) {
  const char* p = cmdline;
  for (; *p; ++p)
    if (p[0] == '-' && p[1] == '-' && (p == cmdline || p[-1] == ' ') && (p[2] == ' ' || p[2] == 0)) break;
  if (!*p) return nullptr;
  p += 2;
  while (*p == ' ') ++p;
  size_t n = 0;
  for (; *p && n + 1 < sizeof g_boot_script; ++p) {
    if (*p == '"') continue;  // GRUB's quoting
    if (*p == '\\' && p[1]) ++p;
    g_boot_script[n++] = *p;
  }
  g_boot_script[n] = 0;
  return g_boot_script;
}
}  // namespace

const char* kernel_command_line() { return g_command_line; }

}  // namespace kheap::kernel

extern "C" [[noreturn]] void kernel_entry(uint32_t magic, const kheap::kernel::MultibootInfo* info) {
  using namespace kheap::kernel;
  serial_init();
  vga_init();
  idt_init();
  kheap::print("kheap: booting (i386, multiboot)\n");
  if (magic != kMultibootBootloaderMagic) {
    kheap::print("kheap: bad multiboot magic 0x%08x (expected 0x%08x): not started by a multiboot loader\n", magic,
                 kMultibootBootloaderMagic);
    qemu_exit(kFailureExitCode);
  }
  run_global_constructors();
  if (info->flags & kMultibootInfoCmdline)
    kheap::str_copy(g_command_line, reinterpret_cast<const char*>(info->cmdline), sizeof g_command_line);
  kheap::print("kheap: command line: \"%s\"\n", g_command_line);
  debug_boot_options(g_command_line, info);  // slub_debug, kheap_panic_on_bug, symbols: before any allocation

  memory_init(info);
  kheap::print("kheap: memory ready; type 'help' for commands\n");

  if (const char* script = boot_script(g_command_line)) monitor_run_script(script);
  monitor_loop();
}
