// Command-line surface (DESIGN.md "Command line", stable).  One file per
// subcommand: setup_X registers options into an options struct, run_X does
// the work and returns the exit status.  Parsing is testable on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/live.h"
#include "util/result.h"
#include "util/stop_signals.h"

namespace fdw {

enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitLeaks = 3 };

// What watch and record trace, and for how long (their shared options).
struct TargetOptions {
  std::vector<uint32_t> pids;
  bool all = false;
  bool children = false;
  double duration_s = 0;  // 0 = until stopped or every target exited
  // --stacks / --no-stacks; unset: on for -p and -- CMD, off for -a and --cgroup.
  std::optional<bool> stacks;
  uint32_t stack_bytes = 8192;  // user stack copied per fd-creating call
  std::vector<std::string> command;  // after "--"
  std::string cgroup;  // --cgroup: only processes in it and below ("" = no filter)
};

// Whether call stacks are captured for these options.
bool trace_stacks(const TargetOptions& o);

// -p, -a, --cgroup, -c, -d, --stacks, --no-stacks, --stack-bytes; `verb` is
// what the command does to a process ("watch", "record").
void add_target_options(CLI::App& app, TargetOptions& o, const std::string& verb);
// The combinations CLI11 cannot express; a usage Error (exit 2) naming
// `help` ("fdwatch --help") if wrong.
Result<void> validate_targets(const TargetOptions& o, const std::string& verb, const std::string& help);
// The live loop's options for these targets: pids checked to exist and
// --cgroup resolved, before any BPF work.
Result<LiveOptions> live_options(const TargetOptions& o);
// "3 processes and their children", "all processes", "CMD (pid N) and its
// children", "cgroup X", ...: what the attached line says is traced.
std::string describe_targets(const TargetOptions& o, const LiveOptions& lo, int command_pid);

struct WatchOptions : TargetOptions {
  double interval_s = 1;
  bool json = false;
  bool quiet = false;
  bool fail_on_leak = false;
};

void setup_watch(CLI::App& app, WatchOptions& o);
// Checks combinations CLI11 cannot express; a usage Error (exit 2) if wrong.
Result<void> validate_watch(const WatchOptions& o);
int run_watch(const WatchOptions& o);

struct TopOptions {
  bool batch = false;
  uint64_t iterations = 0;  // batch: 0 = until stopped
  double delay_s = 2;
  std::string sort;         // "" = fds
  bool json = false;
  size_t rows = 0;
  // Batch text width (-w); unset: $COLUMNS, else the terminal's, else 80.
  // 0: every column, nothing cut.
  std::optional<uint64_t> width;
  std::string cgroup;  // --cgroup: only processes in it and below ("" = every process)
};

// The width batch frames are rendered at, as top(1) picks it: -w, then
// $COLUMNS, then the terminal's width, then 80.  0 means unlimited.
int top_batch_width(const std::optional<uint64_t>& width, const char* columns_env, int tty_columns);

void setup_top(CLI::App& app, TopOptions& o);
int run_top(const TopOptions& o);

struct ReportCmdOptions {
  std::string file;
  bool json = false;
  uint32_t pid = 0;      // 0 = every process
  double until_s = -1;   // < 0 = to the end of the log
  std::string html;      // "" = no HTML report
};

void setup_report(CLI::App& app, ReportCmdOptions& o);
int run_report(const ReportCmdOptions& o);

struct RecordOptions : TargetOptions {
  std::string output;               // log file, or bundle directory with --ring
  uint64_t max_size = 0;            // rotate at this size (bytes); 0 = never
  int keep = 5;                     // rotated files kept
  std::string ring;                 // flight recorder window ("10m"); "" = plain log
  std::vector<std::string> triggers;  // emfile, pct:N
  bool quiet = false;
  std::vector<std::string> argv;    // the command line, for the log header
};

void setup_record(CLI::App& app, RecordOptions& o);
Result<void> validate_record(const RecordOptions& o);
int run_record(const RecordOptions& o);

struct DoctorOptions {
  bool json = false;
};

void setup_doctor(CLI::App& app, DoctorOptions& o);
int run_doctor(const DoctorOptions& o);

struct ExporterOptions {
  std::string listen = "127.0.0.1:9464";
  bool all = false;                 // the default when no -p is given
  std::vector<uint32_t> pids;
  size_t max_processes = 200;
  double grace_s = 60;              // series of exited processes stay this long
  double interval_s = 1;            // snapshot published this often
  std::string cgroup;               // --cgroup: only processes in it and below
};

struct ListenAddr {
  std::string host;  // as given: "127.0.0.1", "[::1]"
  uint16_t port = 0;
};
// "ADDR:PORT" with a numeric IPv4 or bracketed IPv6 address; nullopt if not.
std::optional<ListenAddr> parse_listen(const std::string& s);

void setup_exporter(CLI::App& app, ExporterOptions& o);
Result<void> validate_exporter(const ExporterOptions& o);
int run_exporter(const ExporterOptions& o);

// Splits argv at the first "--": fdwatch's own arguments, then the command.
void split_command(int argc, char** argv, std::vector<std::string>* own,
                   std::vector<std::string>* command);

// "no such process: N" for the first pid that does not exist.  Checked
// before the BPF object is loaded, so a typo fails at once.
Result<void> check_pids_exist(const std::vector<uint32_t>& pids);

// The help line of --cgroup (watch, top, record, exporter).
extern const char kCgroupHelp[];

// --cgroup PATH (when not ""), before any BPF work: resolves it into `so`
// (kernel filter and seeding), which then traces every process in the cgroup
// and below, or only so.pids, each of which must be in it.
Result<void> apply_cgroup(const std::string& arg, SessionOptions& so);

// Prints "fdwatch: <message>" and "hint: <hint>" to stderr; returns exit code.
int report_error(const Error& e);
// "fdwatch: note: NOTE" on stderr.  report_error and print_note escape their
// text (util/escape.h): messages quote paths and names traced processes chose.
void print_note(std::string_view note);

// Gives up every capability for good (effective, permitted, inheritable,
// ambient; no_new_privs so none comes back): `report` reads a file and
// needs none, even when run as root.
Result<void> drop_capabilities();

// Prints the final report (watch, report): the whole of `text` on stdout,
// or nothing when a stop signal arrived after `stops_seen` (g_stop_count at
// the end of the loop) while it was being made.  kExitOk, or the quiet exit
// status of that signal or of a vanished reader (SIGPIPE).
int print_final(const std::string& text, int stops_seen);

}  // namespace fdw
