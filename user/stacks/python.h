// CPython frames at fd creation: which processes run a CPython the kernel
// side can walk, where its runtime state is, and how the frames it sends
// (PYSTACK records, bpf/fdwatch_abi.h "CPython frames") become Frames with
// function, file and line.
//
// Everything version-specific is one table of struct offsets per CPython
// minor version (python_layouts()); addresses come from the interpreter's own
// ELF symbols (_PyRuntime, PyCode_Type, Py_Version), never from constants.
// Code objects are described by the kernel side (PYCODE records, once per
// code object and process image), so frames resolve also after the process
// has exited.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "stacks/symbolizer.h"

namespace fdw {

// The struct layout of one CPython minor version (x86_64).
struct PyLayout {
  int major = 0, minor = 0;
  fdw_py_proc kernel{};  // every offset the kernel side and userspace need (runtime = 0 here)
  // The C function that runs a chain of Python frames (one call of it per
  // frame with FDW_PYF_ENTRY).
  std::string_view eval_function;
};

const std::vector<PyLayout>& python_layouts();
const PyLayout* python_layout(int major, int minor);

// The line of code unit `lasti` in a CPython 3.11+ location table
// (co_linetable, Objects/locations.md); co_firstlineno for lasti < 0 (not
// started), -1 for an instruction without a line, 0 when not known: past the
// table (a table cut short), or a line below 1 or past INT32_MAX (a table the
// process forged).  cut: the table may end inside an entry.
int python_line(std::string_view linetable, int firstlineno, int lasti, bool cut = false);

// What an interpreter's ELF file says about itself.
struct PyElf {
  int major = 0, minor = 0;    // from Py_Version, else the file name; 0 = unknown
  uint64_t runtime = 0;        // ELF address of _PyRuntime
  struct Load {
    uint64_t vaddr, offset, filesz;
  };
  std::vector<Load> loads;     // PT_LOAD segments
  uint64_t text_vaddr = 0;     // the lowest executable segment's address (mm->start_code's)
  bool executable = false;     // has PT_INTERP: a program, not a library
  // The address of ELF address `vaddr` in a process that maps the file's
  // offset `pgoff` at `start`; 0 when pgoff is in no segment.
  uint64_t address(uint64_t vaddr, uint64_t start, uint64_t pgoff) const;
};

// An ELF file that may be a CPython interpreter ("python3.X", "libpython3.X.so")
// by its name.
bool python_candidate(std::string_view path);
// Reads the symbols above; nullopt when the file has no _PyRuntime.
std::optional<PyElf> read_python_elf(const std::string& path);

// The module of every Python frame (Frame::module).
inline constexpr std::string_view kPythonModule = "[python]";

// One frame of a PYSTACK record, resolved.
struct PyFrame {
  Frame frame;         // function = co_qualname, file = co_filename, line; module kPythonModule
  bool entry = false;  // FDW_PYF_ENTRY
};

// The Python frames spliced into the C frames (both innermost first): each
// call of the eval function gets the Python frames it ran (up to and with the
// next entry frame) just inside it; Python frames left over go last.
std::vector<Frame> merge_python(const std::vector<Frame>& c, const std::vector<PyFrame>& py,
                                std::string_view eval_function);

// Per-process CPython state of the StackResolver.
class PythonFrames {
 public:
  // A mapping of pid became known.  When it is a CPython interpreter with a
  // known layout, pid's frames can be read; returns what the kernel side
  // needs for pid unless the file is an executable interpreter() handed out
  // (py_bins covers it).  An unknown version adds a note (once per version).
  std::optional<fdw_py_proc> on_mapping(uint32_t pid, const std::string& path, uint64_t start,
                                        uint64_t pgoff);
  // An interpreter executable the kernel side should know before it runs
  // (map py_bins), once per file: path is a known CPython with _PyRuntime.
  std::optional<std::pair<fdw_py_bin, fdw_py_proc>> interpreter(const std::string& path);
  // A PYCODE record.
  void on_code(const PyCode& c);
  // The frames of a PYSTACK record of pid.
  std::vector<PyFrame> resolve(uint32_t pid, const fdw_pyframe* frames, size_t n) const;
  // The eval function of pid's interpreter ("" when it is none known).
  std::string_view eval_function(uint32_t pid) const;
  // pid exec'd or exited: true when it was registered (a py_procs entry may be left).
  bool forget(uint32_t pid);
  // Notes for the user ("fdwatch: note: " + each), taken once.
  std::vector<std::string> take_notes();

 private:
  const PyElf* elf(const std::string& path);

  std::unordered_map<uint32_t, const PyLayout*> procs_;
  std::unordered_map<uint32_t, std::unordered_map<uint64_t, PyCode>> codes_;  // pid -> code address ->
  std::map<std::string, std::optional<PyElf>> elves_;  // by path: read once
  std::set<std::pair<uint64_t, uint64_t>> bins_;       // (dev, ino) handed out by interpreter()
  std::set<std::pair<int, int>> noted_;                // versions already noted
  std::vector<std::string> notes_;
};

}  // namespace fdw
