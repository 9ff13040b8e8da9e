// lib/core/report.h — how every layer tells the world about heap misuse.
//
// A report is one block of text that starts with "kheap: <bug class>" and then
// names where (address), what (cache, heap, frame, object index and size) and,
// when known, the offending bytes. Every layer reports the same way, so a
// report reads alike whether it came from the buddy allocator or a Win32 heap.
//
// After reporting, the default action is to *refuse* the operation (the caller
// returns failure and nothing is changed). set_report_action(Panic) stops the
// machine instead (like slub_debug's panic option, or a host abort()).
//
// Tests observe reports through report_count() / last_report() and may turn
// off the console echo with set_report_echo(false).
#pragma once

#include <cstdarg>

#include "core/types.h"

namespace kheap {

enum class BugClass : uint8_t {
  DoubleFree,
  InvalidFree,          // a pointer the allocator never handed out (interior, foreign, unaligned)
  WrongOrder,           // pmm: freed with a different order than allocated
  ReservedFrame,        // pmm: freeing a reserved frame
  OutOfRange,           // an address outside the memory the layer manages
  Unaligned,            // an address that is not aligned as required
  InvalidHandle,        // a heap/cache handle that is not live
  WrongHeap,            // a block freed through a heap or cache that does not own it
  SizeOverflow,         // a size computation overflowed
  FreeListCorruption,   // a free-list pointer failed its check
  RedzoneOverwritten,
  UseAfterFreeWrite,
  CacheNotEmpty,        // kmem_cache_destroy with live objects
  BadArgument,          // anything else a caller got wrong
  Count
};

const char* bug_class_name(BugClass c);  // "double free", "invalid free", ...

enum class ReportAction : uint8_t { Refuse, Panic };
void set_report_action(ReportAction action);
ReportAction report_action();

// Emit a report: the heading line "kheap: <class>" followed by the formatted
// details (which should end with a newline). Then, if the action is Panic, stop.
void report_bug(BugClass c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vreport_bug(BugClass c, const char* fmt, va_list args);

struct LastReport {
  BugClass bug_class;
  char text[1024];  // the whole report as printed (truncated if longer)
};
uint32_t report_count();            // reports since start (or since reset_reports)
const LastReport& last_report();
void reset_reports();
void set_report_echo(bool echo);    // print reports to the console (default on)

// Write `len` bytes at `addr` as hex into the report being built: a helper
// for the "offending bytes" line. Returns the text length written into buf.
size_t format_hex_bytes(char* buf, size_t cap, const void* addr, size_t len);

}  // namespace kheap
