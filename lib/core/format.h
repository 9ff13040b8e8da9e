// lib/core/format.h — a small printf for a freestanding world.
//
// Supports %d %i %u %x %X %o %c %s %p %% with the length modifiers hh h l ll z j t,
// flags '-' '0' '+' ' ' '#', a width and a precision (also '*'). Output is always
// NUL-terminated when cap > 0; the return value is the length the full output
// would have had (like snprintf), so truncation is detectable.
#pragma once

#include <cstdarg>

#include "core/types.h"

namespace kheap {

size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t vformat(char* buf, size_t cap, const char* fmt, va_list args);

// Format and write to the current print sink (by default kheap_platform_write).
// One call writes at most 2 KiB; print more in several calls.
void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char* fmt, va_list args);

// Where print() goes. The default writes to kheap_platform_write; tests and the
// kernel monitor may redirect it (e.g. to capture a command's output).
using PrintSink = void (*)(void* context, const char* text, size_t len);
void set_print_sink(PrintSink sink, void* context);
void print_raw(const char* text, size_t len);

}  // namespace kheap
