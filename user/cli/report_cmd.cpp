// fdwatch report FILE: replay an event log and print the watch report.
#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "cli/numeric.h"
#include "cli/replay.h"
#include "util/file.h"
#include "views/html_report.h"
#include "views/report.h"

namespace fdw {

void setup_report(CLI::App& app, ReportCmdOptions& o) {
  app.add_option("file", o.file, "Event log written by fdwatch record (plain or .zst)")->required();
  app.add_flag("--json", o.json, "Print the report as fdwatch.report.v1 JSON");
  app.add_option("-p,--pid", o.pid, "Only this process")->check(pid_value());
  app.add_option("--until", o.until_s, "Stop at this many seconds after the log start")
      ->check(seconds_value(0, kMaxDuration));
  app.add_option("--html", o.html, "Also write a one-file HTML report (timeline) to this path");
  app.footer(
      "Examples:\n"
      "  fdwatch report app.jsonl.zst\n"
      "  fdwatch report app.jsonl -p 1234 --until 600 --json\n"
      "  fdwatch report app.jsonl --html app.html\n"
      "Exit status: 0 if any event was read (bad lines are reported on stderr), 1 otherwise.");
}

namespace {
constexpr size_t kMaxErrorsShown = 20;
}

int run_report(const ReportCmdOptions& o) {
  ReplayOptions ro;
  if (o.pid) ro.pid = o.pid;
  if (o.until_s >= 0) ro.until_s = o.until_s;
  ro.series = !o.html.empty();
  auto r = replay_file(o.file, ro);
  if (!r) return report_error(r.error());
  const ReplayFileResult& res = r.value();
  size_t shown = 0;
  for (const LogError& e : res.errors) {
    if (shown == kMaxErrorsShown) break;
    // LogError messages start with "line N: "; the file:line form replaces it
    std::string msg = e.message;
    std::string pre = "line " + std::to_string(e.line) + ": ";
    if (msg.rfind(pre, 0) == 0) msg = msg.substr(pre.size());
    fprintf(stderr, "fdwatch: %s:%llu: %s\n", o.file.c_str(), (unsigned long long)e.line, msg.c_str());
    ++shown;
  }
  if (res.errors_total > shown)
    fprintf(stderr, "fdwatch: %s: %llu more bad lines\n", o.file.c_str(),
            (unsigned long long)(res.errors_total - shown));
  if (o.json) std::cout << report_json(res.snapshot).dump(2) << "\n";
  else std::cout << render_report_text(res.snapshot);
  std::cout.flush();
  if (!o.html.empty()) {
    if (auto w = write_private_file(o.html, render_html(res.html)); !w) return report_error(w.error());
  }
  if (res.events == 0) return report_error(Error{o.file + ": no events could be read", "", 0, 1});
  return kExitOk;
}

}  // namespace fdw
