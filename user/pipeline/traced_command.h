// `-- CMD` for watch and record: run a command traced from its first syscall.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "pipeline/session.h"
#include "util/result.h"

namespace fdw {

// A command started under the session.  It is forked stopped before exec
// (waiting on a pipe) until its pid is in the kernel's target set, so its
// very first syscall is traced.
struct TracedCommand {
  pid_t pid = -1;
};

// Forks CMD, registers it with `s` (opened with follow_children), lets it exec.
// An exec failure is "cannot run 'CMD': <strerror>" with exit code 127.
Result<TracedCommand> start_traced_command(Session& s, const std::vector<std::string>& cmd);

// The exit status fdwatch passes on: CMD's own, 128 + signal if it was
// killed, or 128 + stop_signal if it is still running after fdwatch was
// stopped by that signal (waits for it otherwise).
int command_exit_status(const TracedCommand& c, int stop_signal);

}  // namespace fdw
