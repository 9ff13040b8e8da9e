// kernel/qemu_exit.h — leaving QEMU through the isa-debug-exit device
// (-device isa-debug-exit,iobase=0xf4,iosize=0x04): QEMU exits with status
// code*2+1. Without the device (real hardware) the CPU halts instead.
#pragma once

#include <cstdint>

namespace kheap::kernel {

// The status a failure (panic, CPU exception) leaves with: QEMU status 2*0x7E+1 = 253.
inline constexpr uint32_t kFailureExitCode = 0x7E;

[[noreturn]] void qemu_exit(uint32_t code);

}  // namespace kheap::kernel
