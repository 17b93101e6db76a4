// Number formatting shared by every view (report, status line, top): one
// spelling of durations, rates and counts across fdwatch.
#pragma once

#include <cstdint>
#include <cstddef>
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include "core/snapshot.h"

namespace fdw {

// snprintf into a std::string (at most 127 characters: one cell or line part).
template <typename... Args>
std::string fmt(const char* f, Args... args) {
  char buf[128];
  int n = std::snprintf(buf, sizeof buf, f, args...);
  if (n < 0) return {};
  return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Durations: "0.1s" (< 10 s, truncated to tenths), "12s", "4m03s", "2h10m",
// "3d04h", "123d"; "" for NaN.  Negative counts as 0.
std::string format_duration(double s);
// Rates: "0", "3.2" (< 10), "123", "12345", "123k", "12M"; sign kept.
std::string format_rate(double v);
// A count in at most `width` characters: "1017", then "1234k", "12M", "3G";
// UINT64_MAX (RLIM_INFINITY) is "inf".
std::string format_count(uint64_t v, size_t width);

// Net growth for prose: "+40.0/s", "-1.2/s"; "0/s" below 0.05 in magnitude.
std::string format_growth(double per_s);
// A suspect's site for people: its call site (escaped: util/escape.h);
// "open before attach" for a group open before tracing began; "" when unknown.
std::string suspect_site_text(const Suspect& s);
// The fds that joined a call-site group by target (core/suspects.h):
// "+867 opened before attach to the same endpoint", or "".  Views show
// `count - unattributed` beside the site, then this.
std::string suspect_unattributed_text(const Suspect& s);

// A rate that may be unknown (too short a window): "?" then.
std::string format_rate(const std::optional<double>& v);
std::string format_growth(const std::optional<double>& per_s);

// Names and paths cut to `width` characters keep the part that tells two
// apart: the end.  fit_middle cuts the middle ("kworker/u16:3-events" ->
// "kwork~s:3-events"); fit_path keeps the last component whole when it fits
// ("/var/log/app/2026-12-01.log" -> "/var/l~/2026-12-01.log").  "~" marks
// the cut; strings that fit are returned as they are.
std::string fit_middle(const std::string& s, size_t width);
std::string fit_path(const std::string& s, size_t width);

}  // namespace fdw
