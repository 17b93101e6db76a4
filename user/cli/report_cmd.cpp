// fdwatch report FILE: replay an event log and print the watch report.
#include <cstdio>

#include "cli/cli.h"
#include "cli/numeric.h"
#include "pipeline/replay.h"
#include "util/private_file.h"
#include "views/format.h"
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
  if (auto d = drop_capabilities(); !d) return report_error(d.error());
  ReplayOptions ro;
  if (o.pid) ro.pid = o.pid;
  if (o.until_s >= 0) ro.until_s = o.until_s;
  ro.series = !o.html.empty();
  auto r = replay_file(o.file, ro);
  if (!r) return report_error(r.error());
  const ReplayFileResult& res = r.value();
  if (o.pid && !res.pid_seen)
    return report_error(Error{"pid " + std::to_string(o.pid) + ": not in " + o.file, "", 0, 1});
  if (o.until_s >= 0 && !res.stopped_at_until && o.until_s > res.span_s)
    return report_error(Error{"--until " + fmt("%g", o.until_s) + ": past the end of " + o.file +
                                  " (it covers " + fmt("%.1f", res.span_s) + " s)", "", 0, 1});
  size_t shown = 0;
  for (const LogProblem& e : res.errors) {
    if (shown == kMaxErrorsShown) break;
    // LogProblem messages start with "line N: "; the file:line form replaces it
    std::string msg = e.message;
    std::string pre = "line " + std::to_string(e.line) + ": ";
    if (msg.rfind(pre, 0) == 0) msg = msg.substr(pre.size());
    fprintf(stderr, "fdwatch: %s:%llu: %s\n", o.file.c_str(), (unsigned long long)e.line, msg.c_str());
    ++shown;
  }
  if (res.errors_total > shown)
    fprintf(stderr, "fdwatch: %s: %llu more bad lines\n", o.file.c_str(),
            (unsigned long long)(res.errors_total - shown));
  const bool complete = res.end.has_value();  // a rotated file is whole too
  if (!complete)
    fprintf(stderr, "fdwatch: %s: the log ends without its closing record (recording killed, disk "
            "full, or still running); replayed up to its last complete record\n", o.file.c_str());
  std::string text;
  if (o.json) {
    nlohmann::json j = report_json(res.snapshot);
    j["log"] = {{"complete", complete}, {"lines", res.lines}};
    text = json_text(j, 2) + "\n";
  } else {
    text = render_report_text(res.snapshot);
  }
  if (!write_stdout(text))
    return signal_exit_status(SIGPIPE);
  if (!o.html.empty())
    if (auto w = write_private_file(o.html, render_html(res.html)); !w) return report_error(w.error());
  if (res.events == 0) return report_error(Error{o.file + ": no events could be read", "", 0, 1});
  return kExitOk;
}

}  // namespace fdw
