# mk/windows.mk — the Windows (x86-64, mingw-w64) cross build of lib/ and the
# host test suites, run under Wine by tools/test-parts/windows.sh.
# Included at the end of the Makefile (it uses LIB_SRCS, HOSTLIB_SRCS,
# TEST_SRCS, TEST_SUPPORT and WARN from there). Everything goes to build/win64/.
#
#   make win-tests       build build/win64/*_test.exe (installs mingw-w64 + Wine if missing)
#   make check-windows   build them and run them under Wine (the `windows` part of `make test`)
#
# The compiler is the POSIX thread model (x86_64-w64-mingw32-g++-posix): the
# win32 model has no std::thread/std::mutex and GoogleTest needs them. Binaries
# are linked -static: Wine finds no libstdc++-6.dll / libwinpthread-1.dll in a
# fresh prefix. GoogleTest itself is built here from Debian's sources
# (/usr/src/googletest, package `googletest`), not downloaded.
# All of lib/host/*.cpp is compiled on both systems: each platform file wraps
# its body in #if defined(__linux__) or #if defined(_WIN32), so the other
# system's files compile to nothing.

WINB        := $(BUILD)/win64
WIN_CXX     ?= x86_64-w64-mingw32-g++-posix
WIN_AR      ?= x86_64-w64-mingw32-ar
GTEST_SRC   ?= /usr/src/googletest/googletest

# _WIN32_WINNT: Windows 10 declarations (memoryapi.h et al.).
# -Wno-format: mingw's g++ reads __attribute__((format(printf, ...))) as the
# MSVCRT archetype (ms_printf: no %zu, %llx...), which is not what
# kheap::format implements; the Linux and i386 builds check those formats.
WIN_CXXFLAGS := -std=c++20 -O2 -fno-omit-frame-pointer $(WARN) -Wno-format -D_WIN32_WINNT=0x0A00 -Ilib -Ihost_tests \
  -isystem $(GTEST_SRC)/include -MMD -MP
WIN_LDFLAGS  := -static -static-libgcc -static-libstdc++
WIN_GTEST_CXXFLAGS := -std=c++20 -O2 -isystem $(GTEST_SRC)/include -I$(GTEST_SRC) -MMD -MP

WIN_TEST_SRCS_ONLY := $(wildcard host_tests/windows/*_test.cpp)
WIN_LIB_OBJS     := $(patsubst %.cpp,$(WINB)/obj/%.o,$(LIB_SRCS) $(HOSTLIB_SRCS))
WIN_SUPPORT_OBJS := $(patsubst %.cpp,$(WINB)/obj/%.o,$(TEST_SUPPORT))
# The same suites as on Linux (one .exe per host_tests/<name>_test.cpp), plus the Windows-only ones.
WIN_TEST_BINS    := $(patsubst host_tests/%.cpp,$(WINB)/%.exe,$(TEST_SRCS))
WIN_ONLY_BINS    := $(patsubst host_tests/windows/%.cpp,$(WINB)/%.exe,$(WIN_TEST_SRCS_ONLY))
WIN_LIB_A        := $(WINB)/libkheap_win64.a
WIN_GTEST_A      := $(WINB)/gtest/libgtest.a
WIN_GTEST_MAIN   := $(WINB)/gtest/gtest_main.o

.PHONY: win-deps win-tests check-windows
win-deps:
	@tools/install-deps.sh windows

$(WINB)/obj/%.o: %.cpp | win-deps
	@mkdir -p $(dir $@)
	@echo "  CXX [win64]  $<"
	@$(WIN_CXX) $(WIN_CXXFLAGS) -c $< -o $@

$(WINB)/gtest/%.o: $(GTEST_SRC)/src/%.cc | win-deps
	@mkdir -p $(dir $@)
	@echo "  CXX [win64]  $<"
	@$(WIN_CXX) $(WIN_GTEST_CXXFLAGS) -c $< -o $@

$(WIN_GTEST_A): $(WINB)/gtest/gtest-all.o
	@rm -f $@
	@$(WIN_AR) rcs $@ $^

$(WIN_LIB_A): $(WIN_LIB_OBJS)
	@rm -f $@
	@echo "  AR           $@"
	@$(WIN_AR) rcs $@ $^

WIN_LINK_DEPS := $(WIN_SUPPORT_OBJS) $(WIN_LIB_A) $(WIN_GTEST_MAIN) $(WIN_GTEST_A)
WIN_LINK = @echo "  LD  [win64]  $@"; \
  $(WIN_CXX) -o $@ $< $(WIN_SUPPORT_OBJS) $(WIN_LIB_A) $(WIN_GTEST_MAIN) $(WIN_GTEST_A) $(WIN_LDFLAGS)

$(WIN_TEST_BINS): $(WINB)/%.exe: $(WINB)/obj/host_tests/%.o $(WIN_LINK_DEPS)
	$(WIN_LINK)

$(WIN_ONLY_BINS): $(WINB)/%.exe: $(WINB)/obj/host_tests/windows/%.o $(WIN_LINK_DEPS)
	$(WIN_LINK)

win-tests: $(WIN_TEST_BINS) $(WIN_ONLY_BINS)

check-windows:
	@bash tools/test-parts/windows.sh

# The Linux suites use KilledBySignal, which GoogleTest lacks on Windows.
$(WINB)/obj/host_tests/%.o: WIN_CXXFLAGS += -include host_tests/windows/gtest_posix_compat.h
