# kheap — build, run and test. `make help` lists the targets.
#
# Two builds of the same lib/ sources:
#   kernel: i386, freestanding (g++ -m32), linked with boot/ and kernel/ into build/kheap.elf
#   host:   x86-64, linked with lib/host and GoogleTest into build/host/*_test
# Everything generated goes under build/.

SHELL := /bin/bash
.DEFAULT_GOAL := all
# Keep intermediate objects (the test and bench objects are otherwise deleted after linking).
.SECONDARY:

BUILD     := build
HOSTB     := $(BUILD)/host
KERNB     := $(BUILD)/kernel

CXX_KERNEL ?= g++
CXX_HOST   ?= g++

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers

KERNEL_CXXFLAGS := -std=c++20 -m32 -march=i686 -ffreestanding -fno-exceptions -fno-rtti -nostdlib \
  -fno-pic -fno-pie -fno-stack-protector -mgeneral-regs-only -fno-threadsafe-statics -fno-use-cxa-atexit \
  -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -O2 -g $(WARN) -Ilib -Ikernel -MMD -MP
KERNEL_ASFLAGS  := -m32 -fno-pic -fno-pie -g -MMD -MP
KERNEL_LDFLAGS  := -m32 -nostdlib -no-pie -static -T linker.ld -Wl,-m,elf_i386 -Wl,--build-id=none -Wl,-z,noexecstack

HOST_OPT      ?= -O2
HOST_CXXFLAGS := -std=c++20 $(HOST_OPT) -g -fno-omit-frame-pointer $(WARN) -Ilib -Ihost_tests -MMD -MP -pthread
HOST_LDLIBS   := -pthread

# --- Sources --------------------------------------------------------------
LIB_LAYERS   := core pmm vm slab heap debug
LIB_SRCS     := $(foreach l,$(LIB_LAYERS),$(wildcard lib/$(l)/*.cpp))
HOSTLIB_SRCS := $(wildcard lib/host/*.cpp)
KERNEL_SRCS  := $(wildcard kernel/*.cpp)
KERNEL_ASM   := $(wildcard boot/*.S kernel/*.S)
TEST_SRCS    := $(wildcard host_tests/*_test.cpp)
TEST_SUPPORT := $(wildcard host_tests/support/*.cpp)
BENCH_SRCS   := $(wildcard bench/*_bench.cpp)

KERNEL_OBJS := $(patsubst %.cpp,$(KERNB)/%.o,$(LIB_SRCS) $(KERNEL_SRCS)) $(patsubst %.S,$(KERNB)/%.o,$(KERNEL_ASM))
KLIB_OBJS   := $(patsubst %.cpp,$(KERNB)/%.o,$(LIB_SRCS))
HOSTLIB_OBJS := $(patsubst %.cpp,$(HOSTB)/obj/%.o,$(LIB_SRCS) $(HOSTLIB_SRCS))
SUPPORT_OBJS := $(patsubst %.cpp,$(HOSTB)/obj/%.o,$(TEST_SUPPORT))
TEST_BINS    := $(patsubst host_tests/%.cpp,$(HOSTB)/%,$(TEST_SRCS))
BENCH_BINS   := $(patsubst bench/%.cpp,$(HOSTB)/%,$(BENCH_SRCS))
# Instruction-count drivers (a main() each), run under callgrind by bench/<name>_callgrind.sh.
CALLGRIND_SRCS := $(wildcard bench/*_callgrind.cpp)
CALLGRIND_BINS := $(patsubst bench/%.cpp,$(HOSTB)/%,$(CALLGRIND_SRCS))

KERNEL_ELF := $(BUILD)/kheap.elf
KERNEL_ISO := $(BUILD)/kheap.iso
HOST_LIB_A := $(HOSTB)/libkheap_host.a

# --- Dependencies (installed from Debian's packages when missing) ---------
DEPS_STAMP := $(BUILD)/.deps-checked
.PHONY: deps
deps:
	@tools/install-deps.sh kernel host

# --- Kernel ---------------------------------------------------------------
$(KERNB)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [i386]   $<"
	@$(CXX_KERNEL) $(KERNEL_CXXFLAGS) -c $< -o $@

$(KERNB)/%.o: %.S | deps
	@mkdir -p $(dir $@)
	@echo "  AS  [i386]   $<"
	@$(CXX_KERNEL) $(KERNEL_ASFLAGS) -c $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJS) linker.ld
	@echo "  LD           $@"
	@$(CXX_KERNEL) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) -lgcc
	@grub-file --is-x86-multiboot $@ || { echo "error: $@ has no valid multiboot header" >&2; exit 1; }

$(KERNEL_ISO): $(KERNEL_ELF) iso/boot/grub/grub.cfg tools/make-iso.sh
	@tools/make-iso.sh $@

.PHONY: kernel iso
kernel: $(KERNEL_ELF)
iso: $(KERNEL_ISO)

# --- Host library and tests -----------------------------------------------
$(HOSTB)/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [host]   $<"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -c $< -o $@

$(HOST_LIB_A): $(HOSTLIB_OBJS)
	@rm -f $@
	@echo "  AR           $@"
	@ar rcs $@ $^

$(HOSTB)/%_test: $(HOSTB)/obj/host_tests/%_test.o $(SUPPORT_OBJS) $(HOST_LIB_A)
	@echo "  LD  [host]   $@"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -o $@ $< $(SUPPORT_OBJS) $(HOST_LIB_A) -lgtest -lgtest_main $(HOST_LDLIBS)

# Benchmarks name extra libraries in a first-lines comment: // bench-libs: -lmimalloc
$(HOSTB)/%_bench: $(HOSTB)/obj/bench/%_bench.o $(HOST_LIB_A)
	@echo "  LD  [host]   $@"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -o $@ $< $(HOST_LIB_A) -lbenchmark \
	  $$(sed -n 's|^// bench-libs:||p' bench/$*_bench.cpp) $(HOST_LDLIBS)

$(HOSTB)/%_callgrind: $(HOSTB)/obj/bench/%_callgrind.o $(HOST_LIB_A)
	@echo "  LD  [host]   $@"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -o $@ $< $(HOST_LIB_A) \
	  $$(sed -n 's|^// bench-libs:||p' bench/$*_callgrind.cpp) $(HOST_LDLIBS)

# A small program to study the allocator in gdb (make debug-host; the gdb test part).
$(HOSTB)/gdb_target: $(HOSTB)/obj/host_tests/gdb_target.o $(HOST_LIB_A)
	@echo "  LD  [host]   $@"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -o $@ $< $(HOST_LIB_A) $(HOST_LDLIBS)

# The slab benchmark once more, with lib/slab built without its always-on free
# checks (-DKHEAP_NO_FREE_CHECKS): `make bench` runs both, so the checks' cost is a ratio.
NOCHECK_SLAB_OBJS := $(patsubst %.cpp,$(HOSTB)/nochecks/%.o,$(wildcard lib/slab/*.cpp))
$(HOSTB)/nochecks/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [host, no free checks] $<"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -DKHEAP_NO_FREE_CHECKS -c $< -o $@
$(HOSTB)/slab_nochecks_bench: $(HOSTB)/obj/bench/slab_bench.o $(NOCHECK_SLAB_OBJS) $(HOST_LIB_A)
	@echo "  LD  [host]   $@"
	@$(CXX_HOST) $(HOST_CXXFLAGS) -o $@ $< $(NOCHECK_SLAB_OBJS) $(HOST_LIB_A) -lbenchmark \
	  $$(sed -n 's|^// bench-libs:||p' bench/slab_bench.cpp) $(HOST_LDLIBS)
BENCH_BINS += $(HOSTB)/slab_nochecks_bench

.PHONY: host-tests check-host benches
host-tests: $(TEST_BINS)
check-host: host-tests
	@tools/run-host-tests.sh $(TEST_BINS)
benches: $(BENCH_BINS) $(CALLGRIND_BINS)

# --- Running --------------------------------------------------------------
# make run [CMDS="selftest; exit"] [MEM=128M]
MEM ?= 128M
CMDS ?=
.PHONY: run
run: $(KERNEL_ISO)
	@tools/qemu-run.sh --mem $(MEM) --interactive $(if $(CMDS),--cmds "$(CMDS)")

# make debug [CMDS="..."] [MEM=128M]: QEMU stopped with a gdb stub + gdb with tools/gdb/kheap.py
.PHONY: debug
debug: $(KERNEL_ISO)
	@tools/debug.sh --mem $(MEM) $(if $(CMDS),--cmds "$(CMDS)")

# make debug-host [PROG=build/host/slab_test] [ARGS=--gtest_filter=...]: gdb on a host binary,
# with tools/gdb/kheap.py loaded (default: build/host/gdb_target, stopped in gdb_checkpoint).
PROG ?= $(HOSTB)/gdb_target
.PHONY: debug-host
debug-host: $(TEST_BINS) $(HOSTB)/gdb_target
	@gdb -q -x tools/gdb/kheap.py -ex "break gdb_checkpoint" -ex "kheap help" --args $(PROG) $(ARGS)

# --- Tests ----------------------------------------------------------------
.PHONY: test check-lib-symbols kernel-tests
check-lib-symbols: $(KLIB_OBJS)
	@tools/check-lib-symbols.sh $(KLIB_OBJS)

kernel-tests: $(KERNEL_ISO)
	@tools/kernel-tests.sh

test: $(KERNEL_ISO) $(TEST_BINS) $(KLIB_OBJS) $(HOSTB)/gdb_target
	@tools/test-all.sh $(TEST_BINS) -- $(KLIB_OBJS)

# --- Benchmarks -----------------------------------------------------------
.PHONY: bench
bench:
	@tools/install-deps.sh kernel host bench
	@$(MAKE) --no-print-directory benches
	@tools/run-benches.sh $(BENCH_BINS)
	@python3 tools/bench-ratios.py build/bench
	@$(MAKE) --no-print-directory bench-malloc
	@for s in bench/*_callgrind.sh; do echo "=== $$s (instruction counts under callgrind)"; bash $$s; done

# --- Misc -----------------------------------------------------------------
.PHONY: all clean help
all: $(KERNEL_ISO) $(TEST_BINS)

clean:
	rm -rf $(BUILD)

help:
	@echo "make run [CMDS='selftest; exit'] [MEM=128M]  boot the ISO in QEMU (serial console on this terminal)"
	@echo "make test                                    host tests + kernel tests in QEMU + lib symbol check"
	@echo "make bench                                   benchmarks, side by side with other allocators"
	@echo "make debug [CMDS=...]                        QEMU stopped with a gdb stub + gdb with kheap's commands"
	@echo "make debug-host [PROG=... ARGS=...]          gdb with kheap's commands on a host program"
	@echo "make check-windows                           the suites cross-built with mingw-w64, run under Wine"
	@echo "make kernel | iso | host-tests | check-host | kernel-tests | clean"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
include mk/windows.mk
include mk/malloc.mk
include mk/fuzz.mk
include mk/sanitize.mk
include mk/misuse.mk
