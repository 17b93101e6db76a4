// Log replay: events from a log (or a flight-recorder window) through the same
// Aggregator as live tracing, ticking once per second of event time so rates
// and the growth slope come out as they did live.  No syscalls, no clock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "core/event.h"
#include "log/reader.h"
#include "util/result.h"
#include "views/html_report.h"

namespace fdw {

struct ReplayOptions {
  std::optional<uint32_t> pid;     // report only this process
  std::optional<double> until_s;   // stop this many seconds after the log start
  bool series = false;             // collect the open-fds series for the HTML view
  double tick_s = 1;               // the live session's default tick
};

class Replay {
 public:
  // `start_ns`: the window start (the log header's start_mono_ns).
  Replay(uint64_t start_ns, ReplayOptions o);

  // Applies one event (in log order); false once the event lies past --until
  // (it is not applied; the caller stops feeding).
  bool feed(const Event& e);
  // The window went on, without events, until ts (a closing record's time).
  void extend_to(uint64_t ts) { end_ns_ = std::max(end_ns_, std::min(ts, stop_ns_)); }
  // Last tick and the final state, as watch prints it at the end.
  Snapshot finish();
  // After finish(): the HTML input (series, EMFILE moments, names).
  HtmlInput html(std::string title) const;

  uint64_t events() const { return events_; }
  uint64_t end_ns() const { return end_ns_; }
  uint64_t start_ns() const { return start_ns_; }
  // Whether any event fed so far concerned pid (as actor, child or snapshot).
  bool saw(uint32_t pid) const { return pids_.count(pid) != 0; }

 private:
  void tick_to(uint64_t ts);
  void sample(uint64_t ts);
  double rel(uint64_t ts) const { return ts > start_ns_ ? double(ts - start_ns_) / 1e9 : 0.0; }

  ReplayOptions o_;
  Aggregator agg_;
  uint64_t start_ns_, tick_ns_, next_tick_, end_ns_, stop_ns_ = UINT64_MAX;
  uint64_t events_ = 0, lost_ = 0;
  std::set<uint32_t> pids_;
  Snapshot final_;
  std::map<uint32_t, std::vector<std::pair<double, uint64_t>>> series_;
  std::map<uint32_t, std::vector<double>> emfile_;
};

struct ReplayFileResult {
  LogHeader header;
  Snapshot snapshot;
  HtmlInput html;               // filled when ReplayOptions::series
  std::vector<LogProblem> errors; // the first ones the reader kept
  uint64_t errors_total = 0;
  uint64_t events = 0;          // events read from the file (before --until)
  std::optional<LogEnd> end;    // the closing record; nullopt: the log was cut
  uint64_t lines = 0;           // lines read, header included
  bool stopped_at_until = false;  // an event past --until was found
  double span_s = 0;            // log start to its last event (or closing record)
  bool pid_seen = false;        // ReplayOptions::pid occurs in the log
};

// Whole-file replay.  An Error only when the file cannot be opened or is not
// an event log; bad lines end up in errors.
Result<ReplayFileResult> replay_file(const std::string& path, const ReplayOptions& o);

}  // namespace fdw
