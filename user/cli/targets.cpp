// The options watch and record share: what to trace, how long, with stacks.
#include "cli/cli.h"
#include "cli/numeric.h"
#include "util/escape.h"

namespace fdw {

// Off by default when many processes are traced (-a, --cgroup without -p).
bool trace_stacks(const TargetOptions& o) {
  return o.stacks.value_or(!o.all && (o.cgroup.empty() || !o.pids.empty()));
}

void add_target_options(CLI::App& app, TargetOptions& o, const std::string& verb) {
  std::string Verb = verb;
  Verb[0] = char(toupper(Verb[0]));
  app.add_option("-p,--pid", o.pids, "Process to " + verb + " (repeatable)")->check(pid_value());
  app.add_flag("-a,--all", o.all, Verb + " every process on the host");
  app.add_option("--cgroup", o.cgroup, kCgroupHelp);
  app.add_flag("-c,--children", o.children, "Also " + verb + " children the processes start");
  app.add_option("-d,--duration", o.duration_s, "Stop after this many seconds")
      ->check(seconds_value(0, kMaxDuration));
  auto* on = app.add_flag_callback("--stacks", [&o] { o.stacks = true; },
                                   "Record where each fd was created (default for -p and -- CMD)");
  auto* off = app.add_flag_callback("--no-stacks", [&o] { o.stacks = false; },
                                    "Do not record call stacks (default for -a and --cgroup)");
  on->excludes(off);
  app.add_option("--stack-bytes", o.stack_bytes, "User stack bytes copied per call for unwinding (default 8192)")
      ->check(count_value(0, 16384, "bytes"));
}

Result<void> validate_targets(const TargetOptions& o, const std::string& verb, const std::string& help) {
  int modes = (!o.pids.empty()) + o.all + (!o.command.empty());
  if (modes == 0 && o.cgroup.empty())
    return Error{"nothing to " + verb + ": give -p PID, -a, --cgroup PATH, or -- CMD", "see " + help, 0, kExitUsage};
  if (modes > 1) return Error{"-p, -a and -- CMD are exclusive", "see " + help, 0, kExitUsage};
  if (!o.cgroup.empty() && !o.command.empty())
    return Error{"--cgroup and -- CMD are exclusive", "the command starts in fdwatch's own cgroup", 0, kExitUsage};
  if (o.all && o.children)
    return Error{"--children has no meaning with -a (every process is " + verb + "ed)", "", 0, kExitUsage};
  return {};
}

Result<LiveOptions> live_options(const TargetOptions& o) {
  if (auto r = check_pids_exist(o.pids); !r) return r.error();
  LiveOptions lo;
  lo.session.pids = o.pids;
  lo.session.all = o.all;
  lo.session.follow_children = o.children || !o.command.empty();
  lo.session.stacks = trace_stacks(o);
  lo.session.stack_bytes = o.stack_bytes;
  if (auto r = apply_cgroup(o.cgroup, lo.session); !r) return r.error();
  lo.command = o.command;
  lo.duration_s = o.duration_s;
  lo.on_note = print_note;
  return lo;
}

std::string describe_targets(const TargetOptions& o, const LiveOptions& lo, int command_pid) {
  if (command_pid > 0) return escape_text(o.command[0]) + " (pid " + std::to_string(command_pid) + ") and its children";
  const std::string cg = escape_text(lo.session.cgroup_path);
  if (o.pids.empty() && !cg.empty()) return "cgroup " + cg;
  if (o.all) return "all processes";
  std::string what = std::to_string(o.pids.size()) + (o.pids.size() == 1 ? " process" : " processes");
  if (o.children) what += " and their children";
  return cg.empty() ? what : what + " of cgroup " + cg;
}

}  // namespace fdw
