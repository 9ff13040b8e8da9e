// kernel/vga.cpp — a write-only VGA text console with scrolling. Understands
// '\n', '\r', '\b' and '\t'; everything else is drawn as is.
#include "vga.h"

#include <cstdint>

namespace kheap::kernel {

namespace {
constexpr int kColumns = 80;
constexpr int kRows = 25;
constexpr uint16_t kAttribute = 0x07 << 8;  // light grey on black
volatile uint16_t* const kScreen = reinterpret_cast<volatile uint16_t*>(0xB8000);
int g_row = 0, g_column = 0;

void scroll() {
  for (int i = 0; i < (kRows - 1) * kColumns; ++i) kScreen[i] = kScreen[i + kColumns];
  for (int i = (kRows - 1) * kColumns; i < kRows * kColumns; ++i) kScreen[i] = kAttribute | ' ';
  g_row = kRows - 1;
}
}  // namespace

void vga_init() {
  for (int i = 0; i < kRows * kColumns; ++i) kScreen[i] = kAttribute | ' ';
  g_row = g_column = 0;
}

void vga_write_char(char c) {
  switch (c) {
    case '\n':
      g_column = 0;
      ++g_row;
      break;
    case '\r':
      g_column = 0;
      break;
    case '\b':
      if (g_column > 0) --g_column;
      break;
    case '\t':
      g_column = (g_column + 8) & ~7;
      break;
    default:
      kScreen[g_row * kColumns + g_column] = kAttribute | static_cast<uint8_t>(c);
      ++g_column;
  }
  if (g_column >= kColumns) {
    g_column = 0;
    ++g_row;
  }
  if (g_row >= kRows) scroll();
}

}  // namespace kheap::kernel
