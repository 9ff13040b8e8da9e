# mk/sanitize.mk — the host test suites once more, under AddressSanitizer and
# UndefinedBehaviorSanitizer (g++), in build/host-asan/. Included at the end of
# the Makefile (uses LIB_SRCS, HOSTLIB_SRCS, TEST_SRCS, TEST_SUPPORT and WARN).
#
#   make asan-tests    build build/host-asan/*_test
#   make check-asan    build and run them (the `sanitizers` part of `make test`,
#                      tools/test-parts/sanitizers.sh: it also sets ASAN_OPTIONS)
#
# Same sources and flags as build/host/ (lib/host/malloc_shim.cpp compiles to
# nothing without -DKHEAP_MALLOC_SHIM, so ASan's own malloc stays in place),
# plus -fsanitize=address,undefined with every UBSan finding fatal. -O1 keeps
# the build short; ASan needs no more.

ASANB := $(BUILD)/host-asan
ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_CXXFLAGS := -std=c++20 -O1 -g -fno-omit-frame-pointer $(WARN) -Ilib -Ihost_tests -MMD -MP -pthread $(ASAN_SAN)
ASAN_LIB_OBJS := $(patsubst %.cpp,$(ASANB)/obj/%.o,$(LIB_SRCS) $(HOSTLIB_SRCS))
ASAN_SUPPORT_OBJS := $(patsubst %.cpp,$(ASANB)/obj/%.o,$(TEST_SUPPORT))
ASAN_TEST_BINS := $(patsubst host_tests/%.cpp,$(ASANB)/%,$(TEST_SRCS))
ASAN_LIB_A := $(ASANB)/libkheap_asan.a

$(ASANB)/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@echo "  CXX [asan]   $<"
	@$(CXX_HOST) $(ASAN_CXXFLAGS) -c $< -o $@

$(ASAN_LIB_A): $(ASAN_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(ASANB)/%_test: $(ASANB)/obj/host_tests/%_test.o $(ASAN_SUPPORT_OBJS) $(ASAN_LIB_A)
	@echo "  LD  [asan]   $@"
	@$(CXX_HOST) $(ASAN_CXXFLAGS) -o $@ $< $(ASAN_SUPPORT_OBJS) $(ASAN_LIB_A) -lgtest -lgtest_main $(HOST_LDLIBS)

.PHONY: asan-tests check-asan
asan-tests: $(ASAN_TEST_BINS)
check-asan:
	@bash tools/test-parts/sanitizers.sh
