# mk/fuzz.mk — the libFuzzer harness (host_tests/fuzz/heap_fuzz.cpp) over the
# whole allocator stack, built with Debian's clang (-fsanitize=fuzzer,address,
# undefined). Included at the end of the Makefile (uses LIB_SRCS and WARN).
# Everything goes to build/fuzz/.
#
#   make fuzz [FUZZ_SECONDS=600] [FUZZ_ARGS=...]   fuzz for that long (corpus: build/fuzz/corpus,
#                                                  crashes: build/fuzz/artifacts/crash-*)
#   make fuzz-build                                only build build/fuzz/heap_fuzz
#   KHEAP_FUZZ_TRACE=1 build/fuzz/heap_fuzz FILE   replay one input, printing every operation
#
# `make test` runs it for a bounded time (tools/test-parts/fuzz.sh).
# lib/ is compiled into the binary directly, with clang and the same warnings
# (-Werror), and instrumented for coverage (fuzzer-no-link); lib/host only
# contributes the Linux machine (not the Windows files, nor a malloc shim).

FUZZB        := $(BUILD)/fuzz
FUZZ_CXX     ?= clang++
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CXXFLAGS := -std=c++20 -O2 -g -fno-omit-frame-pointer $(WARN) -Ilib -Ihost_tests $(FUZZ_SAN) -MMD -MP
FUZZ_LIB_SRCS := $(LIB_SRCS) lib/host/host_machine.cpp lib/host/host_machine_common.cpp lib/host/host_stack.cpp lib/host/linux_platform.cpp lib/host/host_panic.cpp
FUZZ_OBJS    := $(patsubst %.cpp,$(FUZZB)/obj/%.o,$(FUZZ_LIB_SRCS) host_tests/fuzz/heap_fuzz.cpp)
FUZZ_BIN     := $(FUZZB)/heap_fuzz
FUZZ_SECONDS ?= 600
FUZZ_MAX_LEN ?= 8192
FUZZ_ARGS    ?=

.PHONY: fuzz fuzz-build fuzz-deps
fuzz-deps:
	@tools/install-deps.sh fuzz

$(FUZZB)/obj/%.o: %.cpp | fuzz-deps
	@mkdir -p $(dir $@)
	@echo "  CXX [fuzz]   $<"
	@$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BIN): $(FUZZ_OBJS)
	@echo "  LD  [fuzz]   $@"
	@$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer -o $@ $^

fuzz-build: $(FUZZ_BIN)

# A few random inputs seed an empty corpus, so long operation sequences run from the start.
fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZB)/corpus $(FUZZB)/artifacts
	@[ -n "$$(ls -A $(FUZZB)/corpus)" ] || for i in 1 2 3 4 5 6 7 8; do \
	  head -c $$((512 * i)) /dev/urandom >$(FUZZB)/corpus/seed-$$i; done
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZB)/artifacts/ $(FUZZ_ARGS) $(FUZZB)/corpus
