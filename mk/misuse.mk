# mk/misuse.mk — the heap-misuse suite (issue 9): tools/misuse/misuse.c, ~50
# numbered cases (double free, invalid free, free-list hijack, overflow, size
# overflow ...), each run as its own process under glibc, glibc's check
# tunable, LLVM's Scudo, kheap and kheap with KHEAP_DEBUG=1 by tools/misuse.sh.
# Included at the end of the Makefile (uses BUILD, KHEAP_SO from mk/malloc.mk).
# Not part of `make test`: it runs other allocators, and a table, not a test.
#
#   make misuse                    build libkheap.so and the program, print the table
#                                  (also build/misuse/table.md; runs in build/misuse/runs/)
#   tools/misuse.sh CASE...        only those cases (name or number)
#   build/misuse/misuse list       the cases

MISUSEB   := $(BUILD)/misuse
MISUSE_BIN := $(MISUSEB)/misuse
# -O1 -fno-builtin: the compiler must keep every malloc/free call as written.
MISUSE_CFLAGS := -std=gnu11 -O1 -g -fno-builtin -Wall -Wextra -Werror -pthread

$(MISUSE_BIN): tools/misuse/misuse.c | misuse-deps
	@mkdir -p $(dir $@)
	@echo "  CC           $@"
	@gcc $(MISUSE_CFLAGS) -o $@ $<

.PHONY: misuse misuse-deps
misuse-deps:
	@tools/install-deps.sh misuse
misuse: $(KHEAP_SO) $(MISUSE_BIN)
	@tools/misuse.sh
