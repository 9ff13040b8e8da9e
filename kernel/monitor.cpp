// kernel/monitor.cpp — the line-oriented command console on the serial port.
//
// Reads a line with echo and backspace, splits it into words (no quoting),
// looks the first word up in the self-registered command table and runs it.
// Unknown commands get one line naming the command.
#include "monitor.h"

#include "core/format.h"
#include "core/string_util.h"
#include "serial.h"

extern "C" const kheap::kernel::MonitorCommand __start_kheap_commands[];
extern "C" const kheap::kernel::MonitorCommand __stop_kheap_commands[];

namespace kheap::kernel {

namespace {

constexpr int kMaxArgs = 16;
constexpr size_t kMaxLine = 256;

const MonitorCommand* find_command(const char* name) {
  for (const MonitorCommand* c = __start_kheap_commands; c != __stop_kheap_commands; ++c)
    if (str_equal(c->name, name)) return c;
  return nullptr;
}

size_t read_line(char* buf, size_t cap) {
  size_t n = 0;
  for (;;) {
    char c = serial_read_char();
    if (c == '\r' || c == '\n') {
      print("\n");
      buf[n] = 0;
      return n;
    }
    if (c == '\b' || c == 0x7F) {  // backspace / DEL
      if (n > 0) {
        --n;
        print("\b \b");
      }
      continue;
    }
    if (c == 0x15) {  // Ctrl-U: erase the line
      while (n > 0) --n, print("\b \b");
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20) continue;
    if (n + 1 >= cap) {  // full: refuse the character audibly rather than drop it silently
      print("\a");
      continue;
    }
    buf[n++] = c;
    print_raw(&c, 1);
  }
}

}  // namespace

bool parse_arg(const char* cmd, const char* text, int64_t* out) {
  if (parse_number(text, out)) return true;
  print("%s: bad number '%s' (use decimal, 0x hex, optional sign, k/M suffix)\n", cmd, text);
  return false;
}

int monitor_execute(char* line) {
  char* argv[kMaxArgs + 1];
  int argc = 0;
  for (char* p = line; *p;) {
    while (*p == ' ' || *p == '\t') *p++ = 0;
    if (!*p) break;
    if (argc == kMaxArgs) {
      print("monitor: too many arguments (at most %d)\n", kMaxArgs - 1);
      return -1;
    }
    argv[argc++] = p;
    while (*p && *p != ' ' && *p != '\t') ++p;
  }
  argv[argc] = nullptr;
  if (argc == 0) return -1;
  const MonitorCommand* c = find_command(argv[0]);
  if (!c) {
    print("unknown command '%s' (type 'help' for the list)\n", argv[0]);
    return -1;
  }
  return c->run(argc, argv);
}

void monitor_run_script(const char* script) {
  char line[kMaxLine];
  const char* p = script;
  while (*p) {
    size_t n = 0;
    while (*p && *p != ';' && n + 1 < sizeof line) line[n++] = *p++;
    line[n] = 0;
    if (*p && *p != ';') {  // longer than a line: skip it whole rather than run its tail
      while (*p && *p != ';') ++p;
      print("monitor: boot-script command longer than %zu characters skipped: %.40s...\n", sizeof line - 1, line);
      if (*p == ';') ++p;
      continue;
    }
    if (*p == ';') ++p;
    // Trim leading blanks for the echo.
    char* start = line;
    while (*start == ' ') ++start;
    if (*start == 0) continue;
    print("kheap> %s\n", start);
    monitor_execute(start);
  }
}

[[noreturn]] void monitor_loop() {
  char line[kMaxLine];
  for (;;) {
    print("kheap> ");
    read_line(line, sizeof line);
    monitor_execute(line);
  }
}

// --- Built-in commands ----------------------------------------------------

MONITOR_COMMAND(help, "", "list the commands with a one-line description each") {
  // Sorted by name with a simple selection over the (small) table.
  const MonitorCommand* last = nullptr;
  for (;;) {
    const MonitorCommand* next = nullptr;
    for (const MonitorCommand* c = __start_kheap_commands; c != __stop_kheap_commands; ++c) {
      auto after = [](const char* a, const char* b) {  // a > b
        while (*a && *a == *b) ++a, ++b;
        return static_cast<unsigned char>(*a) > static_cast<unsigned char>(*b);
      };
      if ((!last || after(c->name, last->name)) && (!next || after(next->name, c->name))) next = c;
    }
    if (!next) break;
    char name_and_usage[48];
    format(name_and_usage, sizeof name_and_usage, "%s %s", next->name, next->usage);
    print("  %-30s %s\n", name_and_usage, next->help);
    last = next;
  }
  return 0;
}

}  // namespace kheap::kernel
