// Writing a whole file the way everything fdwatch writes is written: created
// (or truncated) with mode 0600, whatever the umask.
#pragma once

#include <string>

#include "util/result.h"

namespace fdw {

// "cannot write PATH: <strerror>" on failure.
Result<void> write_private_file(const std::string& path, const std::string& text);

}  // namespace fdw
