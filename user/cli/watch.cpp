// fdwatch -p PID | -a | -- CMD: watch processes, print the report at the end.
#include <cstdio>

#include "cli/cli.h"
#include "cli/numeric.h"
#include "views/report.h"
#include "views/status.h"

namespace fdw {

void setup_watch(CLI::App& app, WatchOptions& o) {
  add_target_options(app, o, "watch");
  app.add_option("-i,--interval", o.interval_s, "Seconds between status lines")
      ->check(seconds_value(0.05, 3600));
  app.add_flag("--json", o.json, "Print the report as fdwatch.report.v1 JSON");
  app.add_flag("-q,--quiet", o.quiet, "No status lines on stderr (the attached line stays)");
  app.add_flag("--fail-on-leak", o.fail_on_leak,
               "Exit 3 if a process exited holding fds it opened itself (not stdio, listeners, pollers)");
  app.footer(
      "Examples:\n"
      "  sudo fdwatch -p $(pidof facade)          watch a service, Ctrl-C for the report\n"
      "  sudo fdwatch -p 1234 --children -d 60 --json\n"
      "  sudo fdwatch --fail-on-leak -- ./tests   leak check of a command (exit 3 on leaks)\n"
      "  sudo fdwatch -a --stacks -d 10          system-wide, with call sites\n"
      "  sudo fdwatch --cgroup system.slice/nginx.service -d 60   one service\n"
      "Exit status: 0 ok, 1 failure, 2 usage, 3 leaks (--fail-on-leak); with -- CMD, CMD's own.");
}

Result<void> validate_watch(const WatchOptions& o) { return validate_targets(o, "watch", "fdwatch --help"); }

int run_watch(const WatchOptions& o) {
  auto lo = live_options(o);
  if (!lo) return report_error(lo.error());
  lo->interval_s = o.interval_s;
  install_stop_signals();
  Aggregator agg;
  auto live = LiveDriver::open(*lo, agg);
  if (!live) return report_error(live.error());
  LiveDriver& d = **live;
  for (auto& note : d.session().kernel_notes()) print_note(note);
  if (auto r = d.start(); !r) return report_error(r.error());
  fprintf(stderr, "fdwatch: attached; watching %s%s\n", describe_targets(o, *lo, d.command_pid()).c_str(),
          d.command_pid() > 0 ? "" : "; Ctrl-C for the report");

  int rc = kExitOk;
  auto status = [&](uint64_t now) -> Result<void> {
    if (!o.quiet) fputs(render_status_lines(agg.snapshot(now, SnapshotOptions{false, false, {}})).c_str(), stderr);
    return {};
  };
  if (auto r = d.run(status); !r) rc = report_error(r.error());
  // A signal from now on interrupts the final report itself (print_final).
  const int stops_seen = g_stop_count;
  d.finish();
  Snapshot snap = agg.snapshot(monotonic_ns());
  if (int q = print_final(o.json ? json_text(report_json(snap), 2) + "\n" : render_report_text(snap), stops_seen))
    return q;
  if (std::string note = d.session().stack_note(); !note.empty()) print_note(note);
  if (rc != kExitOk) return rc;
  if (o.fail_on_leak)
    if (std::string leaks = render_exit_leaks(snap); !leaks.empty()) {
      fputs(leaks.c_str(), stderr);
      return kExitLeaks;
    }
  return d.exit_status(rc);
}

}  // namespace fdw
