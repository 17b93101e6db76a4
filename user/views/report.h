// The watch/replay report: text for people, fdwatch.report.v1 JSON for
// scripts (DESIGN.md, stable: extend, never rename).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/snapshot.h"

namespace fdw {

struct ReportOptions {
  size_t max_groups = 20;  // text: still-open groups listed per process
};

std::string render_report_text(const Snapshot& s, const ReportOptions& o = {});
nlohmann::json report_json(const Snapshot& s);

// Shared formatting helpers (also used by the status line).
std::string format_duration(double seconds);  // "850ms", "12.5s", "4m03s", "2h10m"
std::string format_rate(double per_s);        // "+40.0/s", "-1.2/s", "0/s"

}  // namespace fdw
