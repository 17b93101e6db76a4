// The live views of watch on stderr: a status line per busy process per
// interval, and the --fail-on-leak lines at the end.
#pragma once

#include <string>

#include "core/snapshot.h"

namespace fdw {

// One line per live process, busiest first, at most 5, then "... and N more".
std::string render_status_lines(const Snapshot& s);
// "fdwatch: leak: ..." per group a process exited holding (core/exit_leaks.h);
// "" when none.
std::string render_exit_leaks(const Snapshot& s);

}  // namespace fdw
