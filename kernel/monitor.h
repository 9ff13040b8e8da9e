// kernel/monitor.h — the serial command console and its command table.
//
// Commands register themselves with MONITOR_COMMAND in any kernel .cpp file;
// the linker collects them into one table (section .kheap_commands, bounded by
// __start_kheap_commands/__stop_kheap_commands), so adding a command never
// means editing a central list. `help` prints them sorted by name.
//
// A command gets argc/argv (argv[0] is its name) and returns 0 on success,
// nonzero on failure (the monitor prints nothing extra either way: commands
// print their own errors). Numeric arguments: use parse_arg() so every
// command takes decimal, 0x hex, a sign, and k/M suffixes alike.
#pragma once

#include "core/types.h"

namespace kheap::kernel {

struct MonitorCommand {
  const char* name;
  const char* usage;  // e.g. "ADDR [COUNT]"
  const char* help;   // one line
  int (*run)(int argc, char** argv);
};

#define KHEAP_CONCAT_(a, b) a##b
#define KHEAP_CONCAT(a, b) KHEAP_CONCAT_(a, b)

// MONITOR_COMMAND(name, "usage", "help") { ...body using argc, argv...; return 0; }
#define MONITOR_COMMAND(cmd_name, usage_text, help_text)                                                   \
  static int KHEAP_CONCAT(monitor_cmd_, cmd_name)(int argc, char** argv);                                  \
  [[gnu::used, gnu::section("kheap_commands"), gnu::aligned(sizeof(void*))]] static const ::kheap::kernel:: \
      MonitorCommand KHEAP_CONCAT(monitor_entry_, cmd_name) = {#cmd_name, usage_text, help_text,              \
                                                                KHEAP_CONCAT(monitor_cmd_, cmd_name)};       \
  static int KHEAP_CONCAT(monitor_cmd_, cmd_name)([[maybe_unused]] int argc, [[maybe_unused]] char** argv)

// Parse argv[i] as a number (decimal, 0x hex, sign, k/M suffix). Prints
// "<cmd>: bad number '<text>'" and returns false on failure.
bool parse_arg(const char* cmd, const char* text, int64_t* out);

// Run one command line (as typed at the prompt). Returns the command's status,
// or -1 for an unknown command / empty line.
int monitor_execute(char* line);

// Run a ';'-separated list of commands (from the multiboot command line).
void monitor_run_script(const char* script);

// The interactive loop: prompt "kheap> ", read a line from serial, execute. Never returns.
[[noreturn]] void monitor_loop();

}  // namespace kheap::kernel
