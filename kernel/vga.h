// kernel/vga.h — the VGA text screen (80x25 at 0xB8000), a mirror of the serial console.
#pragma once

namespace kheap::kernel {

void vga_init();
void vga_write_char(char c);

}  // namespace kheap::kernel
