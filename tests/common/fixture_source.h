// Lines of the e2e fixtures' sources, found by a marker comment, so a test
// can say which file:line fdwatch must name without hard-coding numbers.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/subprocess.h"

namespace fdw::test {

// Line of tests/e2e/fixtures/`path` that carries `// <marker>` (or, in
// Python and the like, `# <marker>`).
inline int marked_line(const std::string& path, const std::string& marker) {
  std::istringstream src(slurp(std::string(SOURCE_DIR) + "/tests/e2e/fixtures/" + path));
  int n = 0;
  for (std::string l; std::getline(src, l);) {
    ++n;
    if (l.find("// " + marker) != std::string::npos || l.find("# " + marker) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no marker " << marker << " in " << path;
  return -1;
}

// The frame fdwatch names there: "fn (file:line)", file without its directory.
inline std::string site_at(const std::string& fn, const std::string& path, const std::string& marker) {
  return fn + " (" + path.substr(path.rfind('/') + 1) + ":" + std::to_string(marked_line(path, marker)) + ")";
}

}  // namespace fdw::test
