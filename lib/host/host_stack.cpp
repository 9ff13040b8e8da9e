// lib/host/host_stack.cpp — a whole allocator stack on a fresh HostMachine.
// Its own file so that programs which only use the machine (vm tests,
// benchmarks of the lower layers) do not pull in the slab and heap layers.
#include "heap/win32_heap.h"
#include "host/host_machine.h"
#include "slab/slab.h"

namespace kheap::host {

bool bring_up_stack(HostMachine* machine, const HostMachineConfig& config) {
  if (!machine->create(config)) return false;
  return slab_init(&machine->page_heap()) && win32::heap_init();
}

}  // namespace kheap::host
