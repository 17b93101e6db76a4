#include "stacks/runtimes.h"

#include <algorithm>

namespace fdw {

namespace {

bool starts_any(std::string_view s, const std::vector<std::string_view>& prefixes) {
  return !s.empty() && std::any_of(prefixes.begin(), prefixes.end(),
                                   [&](std::string_view p) { return s.substr(0, p.size()) == p; });
}

}  // namespace

const std::vector<Runtime>& runtimes() {
  static const std::vector<Runtime> table = {
      {.name = "c",
       .skip_modules = {"libc.so", "libc-", "ld-linux", "ld-", "[vdso]", "libpthread", "libstdc++",
                        "libgcc_s", "libdl.so", "librt.so"},
       .always = true},
      // Go: the runtime, syscall wrappers and the standard library's own
      // layers (net, os, io, crypto, ...) down to the first frame outside
      // them.  net/http's transport dials on a goroutine of its own.
      {.name = "go",
       .detect_functions = {"runtime.", "runtime/"},
       .skip_functions = {"runtime.", "runtime/", "syscall.", "internal/", "vendor/", "net.", "net/",
                          "os.", "os/", "io.", "io/", "bufio.", "crypto/", "golang.org/x/sys/"},
       .entries = {"net/http.(*Transport).dialConn"}},
      // CPython: the interpreter's C frames (Debian links libpython into
      // the python3.X executable) are never the program's code, nor are
      // Python frames of its standard library (frozen modules, lib/python3.X
      // outside site-packages); the Python frames (module "[python]",
      // stacks/python.h) of everything else are.
      {.name = "python",
       .detect_modules = {"python3", "libpython3", "[python]"},
       .skip_modules = {"python3", "libpython3"},
       .skip_files = {"<frozen ", "/lib/python3."},
       .keep_files = {"/site-packages/", "/dist-packages/"}},
  };
  return table;
}

std::vector<const Runtime*> runtimes_on(const std::vector<Frame>& frames) {
  std::vector<const Runtime*> on;
  for (const Runtime& r : runtimes()) {
    bool present = r.always || std::any_of(frames.begin(), frames.end(), [&](const Frame& f) {
      return starts_any(f.module, r.detect_modules) || starts_any(f.function, r.detect_functions);
    });
    if (present) on.push_back(&r);
  }
  return on;
}

namespace {

bool contains_any(std::string_view s, const std::vector<std::string_view>& parts) {
  return std::any_of(parts.begin(), parts.end(),
                     [&](std::string_view p) { return s.find(p) != std::string_view::npos; });
}

bool runtime_file(const Runtime& r, std::string_view file) {
  return !file.empty() && contains_any(file, r.skip_files) && !contains_any(file, r.keep_files);
}

}  // namespace

FrameRole frame_role(const Frame& f, const std::vector<const Runtime*>& on) {
  for (const Runtime* r : on)
    if (std::find(r->entries.begin(), r->entries.end(), f.function) != r->entries.end())
      return FrameRole::Entry;
  if (f.module.empty()) return FrameRole::Runtime;  // unmapped or JIT code: nobody's file:line
  for (const Runtime* r : on)
    if (starts_any(f.module, r->skip_modules) || starts_any(f.function, r->skip_functions) ||
        runtime_file(*r, f.file))
      return FrameRole::Runtime;
  return FrameRole::Program;
}

}  // namespace fdw
