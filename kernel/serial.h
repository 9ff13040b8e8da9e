// kernel/serial.h — COM1 (0x3F8), 115200 8N1, polled. The main console.
#pragma once

namespace kheap::kernel {

void serial_init();
void serial_write_char(char c);
// Blocks until a byte arrives.
char serial_read_char();

}  // namespace kheap::kernel
