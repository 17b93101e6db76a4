// The one table of language runtimes a call stack can run through, and what
// each means for choosing a leak's site: the innermost frame that is the
// program's own code.
//
// A row says how to recognise the runtime on a stack (`detect_*`), which
// frames are the runtime's own and never a site (`skip_*`: the C library
// under everything, Go's runtime, syscall and standard-library wrappers,
// CPython's interpreter), and which library entries own the fd where the
// program's code is not on the stack by design (`entries`: Go net/http dials
// on the transport's own goroutine, so the caller of client.Do never is).
// Prefixes match the start of a module's basename or a function name;
// `skip_files` and `keep_files` match anywhere in a frame's source file.
#pragma once

#include <string_view>
#include <vector>

#include "stacks/symbolizer.h"

namespace fdw {

struct Runtime {
  std::string_view name;                                // "c", "go", "python"
  std::vector<std::string_view> detect_modules = {};    // any frame's module starts so: on the stack
  std::vector<std::string_view> detect_functions = {};  // any frame's function starts so: on the stack
  std::vector<std::string_view> skip_modules = {};      // frames in these modules are the runtime's
  std::vector<std::string_view> skip_functions = {};    // functions starting so are the runtime's
  std::vector<std::string_view> skip_files = {};        // source files containing one of these are the
                                                        // runtime's (its standard library) ...
  std::vector<std::string_view> keep_files = {};        // ... unless they contain one of these
  std::vector<std::string_view> entries = {};           // exact function names that are named as the site
  bool always = false;                                  // on every stack (the C runtime)
};

// Every row, the C runtime first.
const std::vector<Runtime>& runtimes();

// The rows present on `frames` (always at least the C runtime).
std::vector<const Runtime*> runtimes_on(const std::vector<Frame>& frames);

// How a frame counts for the site, given the runtimes on its stack.
enum class FrameRole { Program, Runtime, Entry };
FrameRole frame_role(const Frame& f, const std::vector<const Runtime*>& on);

}  // namespace fdw
