// fdwatch -p PID | -a | -- CMD: watch processes, print the report at the end.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli/cli.h"
#include "cli/command.h"
#include "cli/numeric.h"
#include "cli/session.h"
#include "core/exit_leaks.h"
#include "util/escape.h"
#include "views/report.h"

namespace fdw {

void setup_watch(CLI::App& app, WatchOptions& o) {
  app.add_option("-p,--pid", o.pids, "Process to watch (repeatable)")->check(pid_value());
  app.add_flag("-a,--all", o.all, "Watch every process on the host");
  app.add_option("--cgroup", o.cgroup, kCgroupHelp);
  app.add_flag("-c,--children", o.children, "Also watch children the processes start");
  app.add_option("-d,--duration", o.duration_s, "Stop after this many seconds")
      ->check(seconds_value(0, kMaxDuration));
  app.add_option("-i,--interval", o.interval_s, "Seconds between status lines")
      ->check(seconds_value(0.05, 3600));
  app.add_flag("--json", o.json, "Print the report as fdwatch.report.v1 JSON");
  app.add_flag("-q,--quiet", o.quiet, "No status lines on stderr");
  app.add_flag("--fail-on-leak", o.fail_on_leak,
               "Exit 3 if a process exited holding fds it opened itself (not stdio, listeners, pollers)");
  add_stack_options(app, o.stacks, o.stack_bytes);
  app.footer(
      "Examples:\n"
      "  sudo fdwatch -p $(pidof facade)          watch a service, Ctrl-C for the report\n"
      "  sudo fdwatch -p 1234 --children -d 60 --json\n"
      "  sudo fdwatch --fail-on-leak -- ./tests   leak check of a command (exit 3 on leaks)\n"
      "  sudo fdwatch -a --stacks -d 10          system-wide, with call sites\n"
      "  sudo fdwatch --cgroup system.slice/nginx.service -d 60   one service\n"
      "Exit status: 0 ok, 1 failure, 2 usage, 3 leaks (--fail-on-leak); with -- CMD, CMD's own.");
}

Result<void> validate_watch(const WatchOptions& o) {
  int modes = (!o.pids.empty()) + o.all + (!o.command.empty());
  if (modes == 0 && o.cgroup.empty())
    return Error{"nothing to watch: give -p PID, -a, --cgroup PATH, or -- CMD", "see fdwatch --help", 0, kExitUsage};
  if (modes > 1)
    return Error{"-p, -a and -- CMD are exclusive", "see fdwatch --help", 0, kExitUsage};
  if (!o.cgroup.empty() && !o.command.empty())
    return Error{"--cgroup and -- CMD are exclusive", "the command starts in fdwatch's own cgroup", 0, kExitUsage};
  if (o.all && o.children)
    return Error{"--children has no meaning with -a (every process is watched)", "", 0, kExitUsage};
  return {};
}

// Off by default when many processes are watched (-a, --cgroup without -p).
bool watch_stacks(const WatchOptions& o) {
  return o.stacks.value_or(!o.all && (o.cgroup.empty() || !o.pids.empty()));
}

void add_stack_options(CLI::App& app, std::optional<bool>& stacks, uint32_t& stack_bytes) {
  auto* on = app.add_flag_callback("--stacks", [&stacks] { stacks = true; },
                                   "Record where each fd was created (default for -p and -- CMD)");
  auto* off = app.add_flag_callback("--no-stacks", [&stacks] { stacks = false; },
                                    "Do not record call stacks (default for -a and --cgroup)");
  on->excludes(off);
  app.add_option("--stack-bytes", stack_bytes, "User stack bytes copied per call for unwinding (default 8192)")
      ->check(count_value(0, 16384, "bytes"));
}

namespace {

void status_line(const Snapshot& s) {
  // one line per live process, busiest first, at most 5
  std::vector<const ProcView*> live;
  for (auto& p : s.processes)
    if (!p.exited) live.push_back(&p);
  std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->open_fds > b->open_fds; });
  for (size_t i = 0; i < live.size() && i < 5; ++i) {
    const ProcView& p = *live[i];
    std::string lim;
    if (p.rlimit_nofile) {
      char b[48];
      snprintf(b, sizeof b, " (%.0f%% of %llu)", 100.0 * double(p.open_fds) / double(std::max<uint64_t>(*p.rlimit_nofile, 1)),
               (unsigned long long)*p.rlimit_nofile);
      lim = b;
    }
    std::string eta = p.time_to_limit_s ? (*p.time_to_limit_s <= 0 ? "  AT LIMIT" : "  limit in " + format_duration(*p.time_to_limit_s)) : "";
    std::string err = p.failed_total() ? "  failed " + std::to_string(p.failed_total()) : "";
    auto em = p.failed.find("EMFILE");
    if (em != p.failed.end()) err += " (EMFILE " + std::to_string(em->second) + ")";
    fprintf(stderr, "[%7s] %u %s: %llu fds%s  open %.0f/s close %.0f/s net %s%s%s%s\n",
            format_duration(s.elapsed_s).c_str(), p.pid, escape_text(p.comm).c_str(),
            (unsigned long long)p.open_fds, lim.c_str(), p.open_per_s, p.close_per_s,
            format_growth(p.leak_rate_per_s).c_str(), eta.c_str(), err.c_str(), p.inexact ? "  (inexact)" : "");
  }
  if (live.size() > 5) fprintf(stderr, "          ... and %zu more processes\n", live.size() - 5);
}

// --fail-on-leak: one line per leak (core/exit_leaks.h), true when any.
bool report_exit_leaks(const Snapshot& s) {
  bool any = false;
  for (auto& p : s.processes) {
    if (!p.exited) continue;
    for (const Suspect& l : exit_leaks(p)) {
      any = true;
      fprintf(stderr, "fdwatch: leak: %s (pid %u) exited holding %llu %s%s%s -> %s\n", escape_text(p.comm).c_str(),
              p.pid, (unsigned long long)l.count, std::string(kind_name(l.kind)).c_str(), l.site.empty() ? "" : " from ",
              escape_text(l.site).c_str(), escape_text(l.targets.distinct > 1 ? l.targets.pattern : l.target).c_str());
    }
  }
  return any;
}

}  // namespace

int run_watch(const WatchOptions& o) {
  if (auto r = check_pids_exist(o.pids); !r) return report_error(r.error());
  SessionOptions so;
  so.pids = o.pids;
  so.all = o.all;
  if (auto r = apply_cgroup(o.cgroup, so); !r) return report_error(r.error());
  install_stop_signals();
  Aggregator agg;
  so.follow_children = o.children || !o.command.empty();
  so.stacks = watch_stacks(o);
  so.stack_bytes = o.stack_bytes;
  set_stop_exits(true);  // Ctrl-C while loading: gone at once
  auto sess = Session::open(so, agg);
  set_stop_exits(false);
  if (!sess) return report_error(sess.error());
  Session& s = **sess;
  for (auto& note : s.kernel_notes()) print_note(note);
  if (auto r = s.start(); !r) return report_error(r.error());

  TracedCommand child;
  if (!o.command.empty()) {
    auto c = start_traced_command(s, o.command);
    if (!c) return report_error(c.error());
    child = c.value();
  }
  if (!o.quiet) {
    if (!o.cgroup.empty() && o.pids.empty())
      fprintf(stderr, "fdwatch: attached; watching cgroup %s; Ctrl-C for the report\n",
              escape_text(so.cgroup_path).c_str());
    else if (o.all) fprintf(stderr, "fdwatch: attached; watching all processes; Ctrl-C for the report\n");
    else if (!o.command.empty()) fprintf(stderr, "fdwatch: attached; watching %s (pid %d) and its children\n",
                                         escape_text(o.command[0]).c_str(), child.pid);
    else fprintf(stderr, "fdwatch: attached; watching %zu process%s%s; Ctrl-C for the report\n", o.pids.size(),
                 o.pids.size() == 1 ? "" : "es", o.children ? " and their children" : "");
  }

  const uint64_t start = monotonic_ns();
  const uint64_t interval_ns = uint64_t(o.interval_s * 1e9);
  uint64_t next_tick = start + interval_ns;
  uint64_t stop_at = 0;  // -- CMD: after a signal, give the child a moment to exit
  int rc = kExitOk;
  while (true) {
    if (auto r = s.poll(); !r) {
      rc = report_error(r.error());
      break;
    }
    uint64_t now = monotonic_ns();
    if (now >= next_tick) {
      s.tick();
      if (!o.quiet) status_line(agg.snapshot(now, SnapshotOptions{false, false, {}}));
      next_tick += interval_ns;
      if (next_tick < now) next_tick = now + interval_ns;
    }
    if (o.duration_s > 0 && now - start >= uint64_t(o.duration_s * 1e9)) break;
    if (s.all_exited()) break;
    if (g_stop_signal) {
      if (child.pid < 0) break;
      if (!stop_at) stop_at = now + 3'000'000'000ull;
      if (now >= stop_at) break;
    }
  }
  // A signal from now on interrupts the final report itself (print_final).
  const int stops_seen = g_stop_count;
  // drain what is left, then one last tick so rates include the tail
  (void)s.drain();
  s.tick();
  Snapshot snap = agg.snapshot(monotonic_ns());
  if (int q = print_final(o.json ? json_text(report_json(snap), 2) + "\n" : render_report_text(snap), stops_seen))
    return q;
  if (std::string note = s.stack_note(); !note.empty()) print_note(note);
  if (rc != kExitOk) return rc;
  if (o.fail_on_leak && report_exit_leaks(snap)) rc = kExitLeaks;
  if (child.pid > 0 && rc != kExitLeaks) return command_exit_status(child, g_stop_signal);
  return rc;
}

}  // namespace fdw
