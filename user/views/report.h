// The watch/replay report: text for people, fdwatch.report.v1 JSON for
// scripts (DESIGN.md, stable: extend, never rename).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/snapshot.h"
#include "views/format.h"

namespace fdw {

struct ReportOptions {
  size_t max_groups = 20;  // text: still-open groups listed per process
};

std::string render_report_text(const Snapshot& s, const ReportOptions& o = {});
nlohmann::json report_json(const Snapshot& s);

// JSON as text for stdout or a file.  A string keeps its exact bytes when
// they are UTF-8 (JSON escapes control characters); a byte that is not
// (a path a traced process chose) becomes U+FFFD, which JSON can carry.
std::string json_text(const nlohmann::json& j, int indent = -1);

}  // namespace fdw
