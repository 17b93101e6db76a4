#include "core/hints.h"

#include <algorithm>

namespace fdw {

const std::vector<HintRule>& hint_rules() {
  static const std::vector<HintRule> table = {
      {"go", {Kind::Socket}, {"net/http.(*Transport).dialConn"},
       "responses whose Body is never closed keep their connection: "
       "`defer resp.Body.Close()` (also when the body is not read)"},
      // database/sql dials when no idle connection is free: a pool that
      // keeps growing is one whose connections stay held.  Before os.Open's
      // rule: a driver may open files.
      {"go", {Kind::Socket, Kind::File}, {"database/sql.(*DB).conn"},
       "database/sql connections stay held by Rows never closed (or a Tx never committed or "
       "rolled back, a Conn never closed): `defer rows.Close()` once the error is checked"},
      {"go", {Kind::File, Kind::Dir}, {"os.OpenFile"},
       "files from os.Open/os.Create are never closed: `defer f.Close()` once the error is checked"},
      {"c", {Kind::File}, {"fopen", "fopen64", "_IO_new_fopen", "__fopen_internal"},
       "`fopen` without `fclose`: close the FILE on every path out of its owner"},
      {"c", {Kind::Socket}, {"socket", "__socket", "accept", "accept4", "__libc_accept"},
       "`socket`/`accept` without `close`: close the fd when the connection is done, "
       "also on error paths"},
      // CPython 3.11's open(): _io_open calls the FileIO type through
      // PyObject_CallFunction (exported names, also where _io_open's own
      // is not); os.open, io.FileIO() and library code take other paths.
      {"python", {Kind::File}, {}, "files from open() outside a `with` block are never closed: "
       "`with open(...) as f:` closes them, also on exceptions",
       {"_PyObject_MakeTpCall", "_PyObject_CallFunction_SizeT"}},
  };
  return table;
}

std::string_view frame_function(std::string_view text) {
  if (!text.empty() && text.back() == ')')
    if (auto p = text.rfind(" ("); p != std::string_view::npos) return text.substr(0, p);
  return text;
}

namespace {

bool python_frame(std::string_view text) {
  auto p = text.rfind(".py:");
  return p != std::string_view::npos && text.back() == ')' && text.rfind(" (") < p;
}

// r.python_call, in order, among the frames inside the site, a Python frame.
bool python_call_matches(const HintRule& r, const std::vector<std::string>& stack, std::string_view site) {
  if (!python_frame(site)) return false;
  size_t want = 0;
  for (const std::string& f : stack) {
    if (f == site) return want == r.python_call.size();
    if (python_frame(f)) return false;  // another Python frame called it
    if (want < r.python_call.size() && frame_function(f) == r.python_call[want]) ++want;
  }
  return false;
}

}  // namespace

std::string suspect_hint(Kind kind, const std::vector<std::string>& stack, std::string_view site) {
  for (const HintRule& r : hint_rules()) {
    if (std::find(r.kinds.begin(), r.kinds.end(), kind) == r.kinds.end()) continue;
    if (!r.python_call.empty() && python_call_matches(r, stack, site)) return std::string(r.hint);
    for (const std::string& f : stack)
      if (std::find(r.frames.begin(), r.frames.end(), frame_function(f)) != r.frames.end())
        return std::string(r.hint);
  }
  return "";
}

}  // namespace fdw
