// What fdwatch hands to the commands it starts: the fds it inherited, and
// none of its own.  Libraries open fds without O_CLOEXEC (libdw opens ELF
// and debug files so), and other threads may be doing so at the moment of a
// fork; so the forked child marks every fd fdwatch did not inherit
// close-on-exec itself.
#pragma once

#include <set>
#include <utility>
#include <vector>

namespace fdw {

using FdRange = std::pair<unsigned, unsigned>;  // [first, last]

// Records the fds open now as inherited; call first thing in main().
void note_inherited_fds();

// The fds above 2 that are not in `inherited` (the recorded set without an
// argument), as ranges up to the largest possible fd.
std::vector<FdRange> own_fd_ranges(const std::set<int>& inherited);
std::vector<FdRange> own_fd_ranges();

// Marks every open fd in `ranges` close-on-exec.  Async-signal-safe (system
// calls only): for a child between fork and exec.
void set_cloexec(const std::vector<FdRange>& ranges);

}  // namespace fdw
