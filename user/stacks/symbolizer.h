// Where an fd was created: DWARF-CFI unwinding of user stacks copied by the
// BPF side (like `perf record --call-graph=dwarf`), and symbolization of the
// resulting addresses with elfutils libdwfl.
//
// Why CFI and not frame pointers: Debian's glibc (and most distro code) is
// built without frame pointers, so an rbp walk dies inside libc, right where
// socket()/open() are. Unwinding with .eh_frame needs the registers at the
// syscall plus a copy of the top of the user stack, which is what StackSample
// carries.
//
// Per-process state: the first sample (or symbolize call) of a pid reads its
// /proc/PID/maps and opens every mapped ELF file (and the vDSO) right away, so
// samples can still be unwound and symbolized after the process has exited,
// as long as the code was mapped at that first look. A later miss (dlopen)
// re-reads the maps while the process is alive. Call forget() when a process
// exits for good or execs, otherwise its state is kept.
//
// x86_64 only. Not thread-safe: use one Symbolizer from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stacks/sample.h"

namespace fdw {

// One logical frame, innermost first in every returned vector.
// When an address lies in code inlined into its caller, one address yields
// several Frames with the same ip: the inlined functions first (inlined =
// true), then the function they were inlined into (inlined = false).
struct Frame {
  uint64_t ip = 0;          // as unwound: exact for the innermost frame, else a return address
  std::string function;     // demangled; "" if unknown
  std::string file;         // source file as recorded in DWARF; "" without debug info
  int line = 0;             // 0 without debug info
  std::string module;       // basename of the ELF ("libc.so.6", "[vdso]"); "" if unmapped
  uint64_t module_offset = 0;  // ip as an ELF virtual address of module (what addr2line wants)
  bool inlined = false;     // see above

  // "function (file:line)" | "function" | "module+0x1a2b" | "0x7f0012345678"
  std::string text() const;
};

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Unwinds a captured stack with DWARF CFI (.eh_frame, then .debug_frame),
  // reading stack memory only from s.stack, then symbolizes every frame.
  // Return addresses are looked up at ip-1 so the line is the call's, not the
  // next statement's. At most max_frames Frames. Garbage in (bad registers, a
  // short or random stack, an unknown pid) gives an empty or partial result.
  std::vector<Frame> unwind(const StackSample& s, size_t max_frames = 32);

  // Symbolizes addresses of a process without unwinding. Each ip is looked up
  // as an exact instruction address; with call_stack = true, ips[0] is exact
  // and ips[1..] are return addresses (looked up at ip-1), as in a stack trace
  // from bpf_get_stack(). Every ip yields at least one Frame (only ip set when
  // nothing is known about it), more when it lies in inlined code.
  std::vector<Frame> symbolize(uint32_t pid, const std::vector<uint64_t>& ips,
                               bool call_stack = false);

  // Adds mappings given as /proc/PID/maps lines (for instance sent by the
  // kernel side while the process was alive) to what is known of pid, without
  // reading /proc: the process may be gone by now. Files are opened right
  // away. Only lines of ELF files matter; each file's run of lines must start
  // at its first mapping. False when nothing could be added.
  bool add_maps(uint32_t pid, const std::string& maps);

  // The process exited or exec'd: drop its maps, open files and cached frames.
  void forget(uint32_t pid);

  // Number of processes with state held (for tests and diagnostics).
  size_t tracked() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdw
