// host_tests/core_test.cpp — lib/core on the host: the formatter against libc's
// snprintf (as a reference model), number parsing, lists, checked arithmetic,
// and the report machinery.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/list.h"
#include "core/report.h"
#include "core/string_util.h"

using namespace kheap;

TEST(Format, MatchesSnprintfOnRandomIntegerSpecs) {
  std::mt19937_64 rng(42);
  const char* convs[] = {"d", "u", "x", "X", "o", "lld", "llu", "llx", "zu", "ld"};
  const char* flags[] = {"", "-", "0", "+", " ", "#", "-#", "08", "-+"};
  for (int i = 0; i < 20000; ++i) {
    std::string spec = "%";
    spec += flags[rng() % 9];
    if (rng() % 2) spec += std::to_string(rng() % 25);
    if (rng() % 4 == 0) spec += "." + std::to_string(rng() % 12);
    std::string conv = convs[rng() % 10];
    spec += conv;
    std::string fmt = "<" + spec + ">";
    char ours[128], ref[128];
    unsigned long long v = rng();
    if (rng() % 3 == 0) v &= 0xFFFF;
    if (rng() % 5 == 0) v = 0;
    size_t n_ours, n_ref;
    if (conv == "lld") {
      n_ours = format(ours, sizeof ours, fmt.c_str(), static_cast<long long>(v));
      n_ref = snprintf(ref, sizeof ref, fmt.c_str(), static_cast<long long>(v));
    } else if (conv == "llu" || conv == "llx") {
      n_ours = format(ours, sizeof ours, fmt.c_str(), v);
      n_ref = snprintf(ref, sizeof ref, fmt.c_str(), v);
    } else if (conv == "zu") {
      n_ours = format(ours, sizeof ours, fmt.c_str(), static_cast<size_t>(v));
      n_ref = snprintf(ref, sizeof ref, fmt.c_str(), static_cast<size_t>(v));
    } else if (conv == "ld") {
      n_ours = format(ours, sizeof ours, fmt.c_str(), static_cast<long>(v));
      n_ref = snprintf(ref, sizeof ref, fmt.c_str(), static_cast<long>(v));
    } else {
      int iv = static_cast<int>(v);
      n_ours = format(ours, sizeof ours, fmt.c_str(), iv);
      n_ref = snprintf(ref, sizeof ref, fmt.c_str(), iv);
    }
    ASSERT_STREQ(ours, ref) << "format " << fmt << " value " << v;
    ASSERT_EQ(n_ours, n_ref) << fmt;
  }
}

TEST(Format, StringsCharsPointersAndTruncation) {
  char buf[64];
  format(buf, sizeof buf, "[%s|%-6s|%6s|%.2s|%c|%%]", "abc", "ab", "ab", "abcdef", 'z');
  EXPECT_STREQ(buf, "[abc|ab    |    ab|ab|z|%]");
  format(buf, sizeof buf, "%p", reinterpret_cast<void*>(0xdeadbeef));
  EXPECT_STREQ(buf, "0xdeadbeef");
  const char* volatile null_string = nullptr;
  format(buf, sizeof buf, "%s", null_string);
  EXPECT_STREQ(buf, "(null)");
  EXPECT_EQ(format(buf, 5, "%d", 123456), 6u);
  EXPECT_STREQ(buf, "1234");
  EXPECT_EQ(format(nullptr, 0, "%d", 42), 2u);
}

TEST(Format, PrintGoesToTheSink) {
  std::string captured;
  set_print_sink([](void* ctx, const char* t, size_t n) { static_cast<std::string*>(ctx)->append(t, n); }, &captured);
  print("hello %d\n", 7);
  std::string long_text(1000, 'x');
  print("%s", long_text.c_str());
  set_print_sink(nullptr, nullptr);
  EXPECT_EQ(captured, "hello 7\n" + long_text);
}

TEST(ParseNumber, AcceptsDecimalHexSignAndSuffix) {
  int64_t v;
  EXPECT_TRUE(parse_number("0", &v) && v == 0);
  EXPECT_TRUE(parse_number("4096", &v) && v == 4096);
  EXPECT_TRUE(parse_number("0xC0000000", &v) && v == 0xC0000000ll);
  EXPECT_TRUE(parse_number("-8192", &v) && v == -8192);
  EXPECT_TRUE(parse_number("+16k", &v) && v == 16384);
  EXPECT_TRUE(parse_number("400M", &v) && v == 400ll << 20);
  EXPECT_TRUE(parse_number("-9223372036854775808", &v) && v == INT64_MIN);
}

TEST(ParseNumber, RejectsGarbageAndOverflow) {
  int64_t v = 77;
  for (const char* bad : {"", "-", "0x", "12q", "0x1g", "1kk", "9223372036854775808", "0x10000000000000000",
                          "99999999999999999999k", " 1"})
    EXPECT_FALSE(parse_number(bad, &v)) << bad;
  EXPECT_EQ(v, 77);
}

TEST(Checked, DetectsOverflow) {
  size_t out;
  EXPECT_TRUE(checked_add(1, 2, &out) && out == 3);
  EXPECT_FALSE(checked_add(SIZE_MAX, 1, &out));
  EXPECT_FALSE(checked_mul(SIZE_MAX / 3 + 1, 3, &out));
  EXPECT_TRUE(checked_align_up(4097, 4096, &out) && out == 8192);
  EXPECT_FALSE(checked_align_up(SIZE_MAX - 10, 4096, &out));
}

TEST(Bitops, Basics) {
  EXPECT_EQ(ilog2(1), 0u);
  EXPECT_EQ(ilog2(4095), 11u);
  EXPECT_EQ(ceil_log2(4097), 13u);
  EXPECT_TRUE(is_power_of_two(1u << 20));
  EXPECT_FALSE(is_power_of_two(0));
  EXPECT_EQ(pages_for(1), 1u);
  EXPECT_EQ(pages_for(8192), 2u);
}

namespace {
struct Node {
  int v;
  ListNode link;
};
}  // namespace

TEST(List, BehavesLikeADequeUnderRandomOperations) {
  std::mt19937 rng(7);
  std::vector<Node> nodes(64);
  for (int i = 0; i < 64; ++i) nodes[i].v = i;
  List<Node, &Node::link> list;
  std::vector<int> model;
  for (int step = 0; step < 20000; ++step) {
    Node& n = nodes[rng() % 64];
    bool in = n.link.is_linked();
    int op = rng() % 3;
    if (!in && op == 0) {
      list.push_front(&n);
      model.insert(model.begin(), n.v);
    } else if (!in && op == 1) {
      list.push_back(&n);
      model.push_back(n.v);
    } else if (in) {
      list.remove(&n);
      model.erase(std::find(model.begin(), model.end(), n.v));
    }
    std::vector<int> seen;
    for (Node* x : list) seen.push_back(x->v);
    ASSERT_EQ(seen, model);
    ASSERT_EQ(list.size(), model.size());
  }
}

TEST(Report, CountsNamesAndRecordsTheLastReport) {
  reset_reports();
  set_report_echo(false);
  report_bug(BugClass::InvalidFree, "  address %p in cache %s\n", reinterpret_cast<void*>(0x1234), "kmalloc-64");
  set_report_echo(true);
  EXPECT_EQ(report_count(), 1u);
  EXPECT_EQ(last_report().bug_class, BugClass::InvalidFree);
  EXPECT_STREQ(last_report().text, "kheap: invalid free\n  address 0x1234 in cache kmalloc-64\n");
  for (int c = 0; c < static_cast<int>(BugClass::Count); ++c)
    EXPECT_STRNE(bug_class_name(static_cast<BugClass>(c)), "unknown");
}

TEST(ReportDeathTest, PanicActionAborts) {
  EXPECT_DEATH(
      {
        set_report_action(ReportAction::Panic);
        report_bug(BugClass::DoubleFree, "  in a death test\n");
      },
      "kheap: double free");
}

TEST(Report, HexBytes) {
  unsigned char bytes[] = {0xde, 0xad, 0x00, 0x7f};
  char buf[32];
  format_hex_bytes(buf, sizeof buf, bytes, 4);
  EXPECT_STREQ(buf, "de ad 00 7f");
}
