# mk/malloc.mk — kheap as a drop-in malloc on the Linux host (issue 8).
# Included at the end of the Makefile (uses LIB_SRCS, HOSTB, WARN, CXX_HOST from there).
#
#   make malloc-lib      build/host/libkheap.so (LD_PRELOAD=build/host/libkheap.so your-program)
#   make check-malloc    real programs under it (the `malloc` part of `make test`)
#   make bench-malloc    the workload program under glibc, mimalloc, jemalloc, tcmalloc and kheap
#
# libkheap.so is built from its own position-independent objects (build/host/pic/),
# with hidden visibility: it exports only the malloc family. lib/host/malloc_shim.cpp
# is compiled with -DKHEAP_MALLOC_SHIM here; in the ordinary host build it is empty,
# so no test binary gets its malloc replaced. Linked with the C driver: lib/ needs no libstdc++.

PICB         := $(HOSTB)/pic
KHEAP_SO     := $(HOSTB)/libkheap.so
PIC_CXXFLAGS := -std=c++20 -O2 -g -fno-omit-frame-pointer $(WARN) -Ilib -MMD -MP -fPIC -fvisibility=hidden \
  -fvisibility-inlines-hidden -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-builtin-malloc \
  -fno-builtin-calloc -fno-builtin-free -fno-builtin-realloc -DKHEAP_MALLOC_SHIM -flto=auto
SHIM_SRCS    := lib/host/malloc_shim.cpp lib/host/lazy_window.cpp lib/host/linux_platform.cpp lib/host/host_panic.cpp
PIC_LIB_OBJS := $(patsubst %.cpp,$(PICB)/%.o,$(LIB_SRCS))
PIC_SHIM_OBJS := $(patsubst %.cpp,$(PICB)/%.o,$(SHIM_SRCS))
PIC_LIB_A    := $(PICB)/libkheap_pic.a

$(PICB)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [pic]    $<"
	@$(CXX_HOST) $(PIC_CXXFLAGS) -c $< -o $@

$(PIC_LIB_A): $(PIC_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(KHEAP_SO): $(PIC_SHIM_OBJS) $(PIC_LIB_A)
	@echo "  LD  [so]     $@"
	@gcc -shared -flto=auto -O2 -o $@ $(PIC_SHIM_OBJS) $(PIC_LIB_A) -Wl,--no-undefined -Wl,-z,now \
	  -Wl,--gc-sections -lc

# Measurement only (make bench): the same library built with KHEAP_NO_FREE_CHECKS
# (lib/slab/kmalloc.cpp says what that drops), so the workload table can put a
# number on what the always-on checks cost. Never used by the tests.
PICNB              := $(HOSTB)/pic-nochecks
KHEAP_NOCHECKS_SO  := $(HOSTB)/libkheap_nochecks.so
PICN_OBJS          := $(patsubst %.cpp,$(PICNB)/%.o,$(LIB_SRCS) $(SHIM_SRCS))

$(PICNB)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [pic, no checks] $<"
	@$(CXX_HOST) $(PIC_CXXFLAGS) -DKHEAP_NO_FREE_CHECKS -c $< -o $@

$(KHEAP_NOCHECKS_SO): $(PICN_OBJS)
	@echo "  LD  [so]     $@"
	@gcc -shared -flto=auto -O2 -o $@ $(PICN_OBJS) -Wl,--no-undefined -Wl,-z,now -Wl,--gc-sections -lc

# The workload program (plain C++, linked with nothing of kheap: the allocator comes by LD_PRELOAD),
# and three copies whose measured loops sit 16, 32 and 48 bytes further into their cache line
# (WORKLOAD_LAYOUT_SHIFT; tools/bench-malloc.sh rotates through all four).
$(HOSTB)/malloc_workload: bench/workloads/workload.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX          $@"
	@$(CXX_HOST) -std=c++20 -O2 -g $(WARN) -pthread -o $@ $<
$(HOSTB)/malloc_workload_shift%: bench/workloads/workload.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX          $@"
	@$(CXX_HOST) -std=c++20 -O2 -g $(WARN) -pthread -DWORKLOAD_LAYOUT_SHIFT=$* -o $@ $<
WORKLOAD_LAYOUTS := $(HOSTB)/malloc_workload $(addprefix $(HOSTB)/malloc_workload_shift,16 32 48)

.PHONY: malloc-lib check-malloc bench-malloc
malloc-lib: $(KHEAP_SO)
check-malloc: $(KHEAP_SO)
	@bash tools/test-parts/malloc.sh
bench-malloc: $(KHEAP_SO) $(KHEAP_NOCHECKS_SO) $(WORKLOAD_LAYOUTS)
	@tools/bench-malloc.sh

# `make test` runs every tools/test-parts/*.sh: the malloc part needs the library.
test: $(KHEAP_SO)
# `make bench` runs the workload table last (see the bench recipe in the Makefile).
