// kernel/selftest_core.cpp — in-kernel tests of lib/core as built for i386.
#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/list.h"
#include "core/report.h"
#include "core/string_util.h"
#include "ktest.h"

namespace kheap::kernel {

namespace {
// A global with a constructor that has side effects: it only holds its value
// if kernel_entry ran the .init_array before anything else.
struct ConstructedAtBoot {
  uint32_t value;
  ConstructedAtBoot() : value(0xC0FFEE) {}
};
ConstructedAtBoot g_constructed_at_boot;
}  // namespace

KTEST(core_global_constructors_ran) { KCHECK_EQ(g_constructed_at_boot.value, 0xC0FFEEu); }

KTEST(core_format_numbers) {
  char buf[64];
  format(buf, sizeof buf, "%d|%5u|%-4x|%08X|%lld", -42, 7u, 0xabu, 0xBEEFu, -1234567890123ll);
  KCHECK(str_equal(buf, "-42|    7|ab  |0000BEEF|-1234567890123"));
  size_t n = format(buf, 8, "%s", "truncated text");
  KCHECK_EQ(n, 14u);
  KCHECK(str_equal(buf, "truncat"));
  format(buf, sizeof buf, "%p %zu %c%%", reinterpret_cast<void*>(0x1000), sizeof(uint64_t), 'x');
  KCHECK(str_equal(buf, "0x1000 8 x%"));
}

KTEST(core_parse_number) {
  int64_t v = 0;
  KCHECK(parse_number("0x1F", &v) && v == 31);
  KCHECK(parse_number("-4096", &v) && v == -4096);
  KCHECK(parse_number("+2M", &v) && v == 2 * 1024 * 1024);
  KCHECK(!parse_number("12abc", &v));
  KCHECK(!parse_number("", &v));
  KCHECK(!parse_number("0x", &v));
  KCHECK(!parse_number("99999999999999999999999", &v));
}

KTEST(core_bitops_and_checked) {
  KCHECK(is_power_of_two(4096) && !is_power_of_two(0) && !is_power_of_two(12));
  KCHECK_EQ(align_up(4097, 4096), 8192u);
  KCHECK_EQ(align_down(4097, 4096), 4096u);
  size_t out = 0;
  KCHECK(!checked_add(SIZE_MAX, 1, &out));
  KCHECK(!checked_mul(SIZE_MAX / 2 + 1, 2, &out));
  KCHECK(checked_mul(1000, 1000, &out) && out == 1000000u);
}

namespace {
struct Item {
  int value;
  ListNode link;
};
}  // namespace

KTEST(core_intrusive_list) {
  List<Item, &Item::link> list;
  Item a{1, {}}, b{2, {}}, c{3, {}};
  KCHECK(list.empty());
  list.push_back(&a);
  list.push_back(&b);
  list.push_front(&c);
  KCHECK_EQ(list.size(), 3u);
  KCHECK_EQ(list.front()->value, 3);
  list.remove(&a);
  KCHECK_EQ(list.back()->value, 2);
  KCHECK(!a.link.is_linked());
  int sum = 0;
  for (Item* i : list) sum += i->value;
  KCHECK_EQ(sum, 5);
}

KTEST(core_report_counts_and_names) {
  uint32_t before = report_count();
  set_report_echo(false);
  report_bug(BugClass::DoubleFree, "  test report\n");
  set_report_echo(true);
  KCHECK_EQ(report_count(), before + 1);
  KCHECK(last_report().bug_class == BugClass::DoubleFree);
  KCHECK(str_equal(bug_class_name(BugClass::InvalidFree), "invalid free"));
}

}  // namespace kheap::kernel
