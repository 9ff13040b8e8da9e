// kernel/qemu_exit.cpp — see qemu_exit.h.
#include "qemu_exit.h"

#include "io.h"

namespace kheap::kernel {

[[noreturn]] void qemu_exit(uint32_t code) {
  outl(0xF4, code);
  halt_forever();  // not under QEMU (or no device): stop here
}

}  // namespace kheap::kernel
