#include "stacks/hints.h"

#include <algorithm>

namespace fdw {

const std::vector<HintRule>& hint_rules() {
  static const std::vector<HintRule> table = {
      {"go", {Kind::Socket}, {"net/http.(*Transport).dialConn"},
       "responses whose Body is never closed keep their connection: "
       "`defer resp.Body.Close()` (also when the body is not read)"},
      {"go", {Kind::File, Kind::Dir}, {"os.OpenFile"},
       "files from os.Open/os.Create are never closed: `defer f.Close()` once the error is checked"},
      {"c", {Kind::File}, {"fopen", "fopen64", "_IO_new_fopen", "__fopen_internal"},
       "`fopen` without `fclose`: close the FILE on every path out of its owner"},
      {"c", {Kind::Socket}, {"socket", "__socket", "accept", "accept4", "__libc_accept"},
       "`socket`/`accept` without `close`: close the fd when the connection is done, "
       "also on error paths"},
  };
  return table;
}

std::string_view frame_function(std::string_view text) {
  if (!text.empty() && text.back() == ')')
    if (auto p = text.rfind(" ("); p != std::string_view::npos) return text.substr(0, p);
  return text;
}

std::string suspect_hint(Kind kind, const std::vector<std::string>& stack) {
  for (const HintRule& r : hint_rules()) {
    if (std::find(r.kinds.begin(), r.kinds.end(), kind) == r.kinds.end()) continue;
    for (const std::string& f : stack)
      if (std::find(r.frames.begin(), r.frames.end(), frame_function(f)) != r.frames.end())
        return std::string(r.hint);
  }
  return "";
}

}  // namespace fdw
