// Ring-buffer bytes -> typed records.  The only reader of the ring's bytes
// (struct fdw_event and the side-channel records of bpf/fdwatch_abi.h); the
// layouts are checked against the ABI header at compile time.  The session
// routes each record on its type.
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "core/event.h"
#include "fdwatch_abi.h"
#include "stacks/sample.h"
#include "util/result.h"

namespace fdw {

// An fd or process event, with the call stack it refers to.
struct EventRecord {
  Event event;
  // The key of the call's USTACK record, or a stack memo id when
  // stack_memo; -1 = none (OPEN/DUP records only).
  int32_t stack_id = -1;
  bool stack_memo = false;
};
// An event record.  An Error for a record that is too short, claims a size it
// does not have, or has an unknown type.
Result<Event> decode_event(const void* data, size_t len);

// --- call-stack side channel (bpf/fdwatch_abi.h "Call stacks") -------------

// The record type (enum fdw_ev_type) of raw bytes; 0 when too short to tell.
uint16_t record_type(const void* data, size_t len);
// The tgid a record's header names; 0 when too short to tell.
uint32_t record_tgid(const void* data, size_t len);
// stack_id of an OPEN/DUP record (EventRecord::stack_id); -1 when too short.
int32_t record_stack_id(const void* data, size_t len);

// A USTACK record: registers and stack bytes at an fd-creating call, read in
// place: `stack` points into `data` (no copy), so the view is only valid
// while the record is (inside the ring-buffer callback).
struct UStackView {
  uint32_t pid = 0, tid = 0;
  UserRegs regs;
  const uint8_t* stack = nullptr;
  size_t stack_len = 0;
  uint64_t ts_ns = 0;
  int32_t key = -1;        // matches EventRecord::stack_id of the call's OPEN/DUP record
  uint16_t sys = 0;
  bool truncated = false;  // less stack than asked for could be read

  // A copy that outlives the record, for the unwinder.
  StackSample sample() const { return StackSample{pid, tid, regs, std::vector<uint8_t>(stack, stack + stack_len)}; }
};
Result<UStackView> decode_ustack(const void* data, size_t len);

// A UMAP record: one mapped ELF file of a process.
struct UMap {
  uint32_t pid = 0;
  uint64_t start = 0, end = 0, pgoff = 0, ino = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  std::string path;
  // The /proc/PID/maps line this mapping stands for (with the newline).
  std::string maps_line() const;
};
Result<UMap> decode_umap(const void* data, size_t len);

// A PYSTACK record: the CPython frames of a thread at an fd-creating call.
struct PyStack {
  uint32_t pid = 0, tid = 0;
  int32_t key = -1;        // the USTACK record's key
  bool truncated = false;  // more frames than the record holds
  bool no_thread = false;  // the caller's thread state was not found
  std::vector<fdw_pyframe> frames;  // innermost first
};
Result<PyStack> decode_pystack(const void* data, size_t len);

// A PYCODE record: one code object of a CPython process.
struct PyCode {
  uint32_t pid = 0;
  uint64_t code = 0;
  std::string function, file;  // co_qualname, co_filename (UTF-8)
  int firstlineno = 0;
  std::string linetable;       // co_linetable (its first FDW_PY_TABLE_MAX bytes)
};
Result<PyCode> decode_pycode(const void* data, size_t len);
// A str object's characters as stored (`kind` bytes each: 1 ASCII/Latin-1,
// 2, 4), as UTF-8.
std::string python_str(const char* data, size_t len, unsigned kind);

// Any record, by its type.  Valid only while the ring-buffer record is (a
// UStackView points into it).
using Record = std::variant<EventRecord, UStackView, UMap, PyStack, PyCode>;
Result<Record> decode(const void* data, size_t len);

}  // namespace fdw
