// Command-line surface (DESIGN.md "Command line", stable).  One file per
// subcommand: setup_X registers options into an options struct, run_X does
// the work and returns the exit status.  Parsing is testable on its own.
#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "util/result.h"

namespace fdw {

enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitLeaks = 3 };

struct WatchOptions {
  std::vector<uint32_t> pids;
  bool all = false;
  bool children = false;
  double duration_s = 0;  // 0 = until stopped or every target exited
  double interval_s = 1;
  bool json = false;
  bool quiet = false;
  bool fail_on_leak = false;
  // --stacks / --no-stacks; unset: on for -p and -- CMD, off for -a.
  std::optional<bool> stacks;
  uint32_t stack_bytes = 8192;  // user stack copied per fd-creating call
  std::vector<std::string> command;  // after "--"
};

// Whether call stacks are captured for these options.
bool watch_stacks(const WatchOptions& o);

void setup_watch(CLI::App& app, WatchOptions& o);
// Checks combinations CLI11 cannot express; a usage Error (exit 2) if wrong.
Result<void> validate_watch(const WatchOptions& o);
int run_watch(const WatchOptions& o);

// Splits argv at the first "--": fdwatch's own arguments, then the command.
void split_command(int argc, char** argv, std::vector<std::string>* own,
                   std::vector<std::string>* command);

// Prints "fdwatch: <message>" and "hint: <hint>" to stderr; returns exit code.
int report_error(const Error& e);

// Set by SIGINT/SIGTERM (installed by install_stop_signals).
extern volatile sig_atomic_t g_stop_signal;
void install_stop_signals();

}  // namespace fdw
