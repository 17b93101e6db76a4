// --cgroup PATH: the cgroup v2 directory to trace, checked before any BPF
// work so that a typo fails at once with one line.
#pragma once

#include <string>

#include "util/result.h"

namespace fdw {

struct CgroupTarget {
  std::string dir;   // the directory to open ("/sys/fs/cgroup/system.slice/x.service")
  std::string path;  // the same cgroup as /proc/PID/cgroup spells it ("/system.slice/x.service")
};

// Finds the cgroup v2 mount (/proc/self/mountinfo) and resolves `arg` (see
// cgroup_arg_path) to an existing cgroup v2 directory; else an Error naming
// the argument, with a hint.
Result<CgroupTarget> resolve_cgroup(const std::string& arg);

}  // namespace fdw
