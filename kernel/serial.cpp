// kernel/serial.cpp — the 16550 UART on COM1, polled (no interrupts).
#include "serial.h"

#include "io.h"

namespace kheap::kernel {

namespace {
constexpr uint16_t kCom1 = 0x3F8;
constexpr uint8_t kLineStatusDataReady = 0x01;
constexpr uint8_t kLineStatusTxEmpty = 0x20;
}  // namespace

void serial_init() {
  outb(kCom1 + 1, 0x00);  // no interrupts
  outb(kCom1 + 3, 0x80);  // DLAB on
  outb(kCom1 + 0, 0x01);  // divisor 1 = 115200 baud
  outb(kCom1 + 1, 0x00);
  outb(kCom1 + 3, 0x03);  // 8N1, DLAB off
  outb(kCom1 + 2, 0xC7);  // FIFO on, cleared, 14-byte threshold
  outb(kCom1 + 4, 0x03);  // DTR + RTS
}

void serial_write_char(char c) {
  while ((inb(kCom1 + 5) & kLineStatusTxEmpty) == 0) {
  }
  outb(kCom1, static_cast<uint8_t>(c));
}

char serial_read_char() {
  while ((inb(kCom1 + 5) & kLineStatusDataReady) == 0) asm volatile("pause");
  return static_cast<char>(inb(kCom1));
}

}  // namespace kheap::kernel
