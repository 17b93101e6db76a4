// Non-interactive `fdwatch top`: `-b` prints text frames like `top -b`, and
// `--json` prints one "fdwatch.top.v1" object per frame (docs/top-json.md).
// Both render one Snapshot with the same columns and order as the screen.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/snapshot.h"
#include "views/top_model.h"

namespace fdw {

struct BatchOptions {
  TopColumn sort = TopColumn::Fds;
  std::optional<bool> descending;  // default: the column's natural direction
  size_t max_rows = 0;             // 0: every process
  int width = 80;                  // text only; <= 0: every column, no truncation
  std::string filter;              // as the screen's '/' filter
  UserNameFn user_name;            // empty: numeric uids
};

// Two summary lines, the column header, then one line per process; every line
// ends in '\n', carries no trailing blanks and no escape codes.
std::string render_batch_frame(const Snapshot& snap, const BatchOptions& opt);

nlohmann::json top_json_frame(const Snapshot& snap, const BatchOptions& opt);

}  // namespace fdw
