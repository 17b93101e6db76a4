// A one-file HTML report: timeline of open fds per process (inline SVG) and
// the summary and suspects tables.  No scripts, stylesheets or fonts are
// fetched: the page is meant to be mailed around or attached to a ticket.
//
// Stable hooks (tests and users' scripts rely on them): the chart is
// <svg id="timeline">, each process a <polyline class="series" data-pid=...>,
// each soft-limit line <line class="rlimit" data-pid=...>, each EMFILE moment a
// <circle class="emfile" data-pid=...>, the suspects <table id="suspects">.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/snapshot.h"

namespace fdw {

struct HtmlInput {
  std::string title;
  Snapshot final;  // state at the end of the window (tables, limits)
  // pid -> (seconds since window start, open fds), in time order
  std::map<uint32_t, std::vector<std::pair<double, uint64_t>>> open_fds_series;
  // pid -> seconds since window start of each failed call with EMFILE
  std::map<uint32_t, std::vector<double>> emfile_times;
  // pid -> name, for processes final does not name (e.g. exited ones)
  std::map<uint32_t, std::string> comm;
  // From the log header: shown under the title; with a start time the time
  // axis also reads as UTC time of day.  "" / 0: unknown, not shown.
  std::string host, kernel;
  int64_t start_unix_ns = 0;
};

// Chart limits: the processes drawn are the kChartMaxProcs with the most open
// fds at their peak (the rest are named in a note).  A soft limit more than
// kLimitHeadroom times the highest curve is only named in the legend, rather
// than squashing the curves to the bottom; a process charted by EMFILEs alone
// always gets its limit line (its markers sit on it).
inline constexpr size_t kChartMaxProcs = 16;
inline constexpr double kLimitHeadroom = 4.0;

std::string render_html(const HtmlInput& in);

// "2026-12-01 20:31:22 UTC" and "20:31:22" for a Unix time in nanoseconds.
std::string utc_datetime(int64_t unix_ns);
std::string utc_time_of_day(int64_t unix_ns);

// &, <, >, ", ' as entities; bytes that are not UTF-8 and control characters
// other than tab and newline become U+FFFD, so the output is also valid XML.
std::string html_escape(std::string_view s);

}  // namespace fdw
