#include "views/top_batch.h"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace fdw {
namespace {

TopState batch_state(const BatchOptions& opt) {
  TopState st;
  st.sort = opt.sort;
  st.descending = opt.descending.value_or(top_column_descending_by_default(opt.sort));
  st.filter = opt.filter;
  return st;
}

std::vector<const ProcView*> batch_rows(const Snapshot& snap, const TopState& st,
                                        const BatchOptions& opt) {
  auto rows = top_rows(snap, st);
  if (opt.max_rows > 0 && rows.size() > opt.max_rows) rows.resize(opt.max_rows);
  return rows;
}

void append_line(std::string& out, std::string_view line) {
  size_t end = line.find_last_not_of(' ');
  out.append(line.substr(0, end == std::string_view::npos ? 0 : end + 1));
  out.push_back('\n');
}

uint64_t count_of(const ProcView& p, const char* err) {
  auto it = p.failed.find(err);
  return it == p.failed.end() ? 0 : it->second;
}

}  // namespace

std::string render_batch_frame(const Snapshot& snap, const BatchOptions& opt) {
  const TopState st = batch_state(opt);
  const TopLayout lay = top_layout(opt.width);
  // Unlimited width: summary lines are never cut (trailing blanks go anyway).
  const int width = opt.width > 0 ? opt.width : std::max(lay.total, 256);
  std::string out;
  for (const auto& r : top_summary_rows(snap, st, width, /*key_hints=*/false))
    append_line(out, r.text);
  append_line(out, top_fit(top_header_text(lay), width));
  for (const ProcView* p : batch_rows(snap, st, opt))
    append_line(out, top_fit(top_row_text(*p, lay, opt.user_name), width));
  return out;
}

nlohmann::json top_json_frame(const Snapshot& snap, const BatchOptions& opt) {
  using nlohmann::json;
  const TopState st = batch_state(opt);
  uint64_t fds = 0, exited = 0;
  for (const auto& p : snap.processes) {
    fds += p.open_fds;
    exited += p.exited;
  }
  json rows = json::array();
  for (const ProcView* pp : batch_rows(snap, st, opt)) {
    const ProcView& p = *pp;
    json r;
    r["pid"] = p.pid;
    const bool known_uid = p.uid != UINT32_MAX;
    r["uid"] = known_uid ? json(p.uid) : json(nullptr);
    if (!known_uid) {
      r["user"] = nullptr;
    } else {
      std::string name = opt.user_name ? opt.user_name(p.uid) : std::string();
      r["user"] = name.empty() ? std::to_string(p.uid) : name;
    }
    r["comm"] = p.comm;
    r["container"] = p.container;
    r["cgroup"] = p.cgroup;
    r["fds"] = p.open_fds;
    r["limit"] = p.rlimit_nofile ? json(*p.rlimit_nofile) : json(nullptr);
    // Two decimals: enough to compare with 80 %, and stable in diffs.
    auto pct = top_pct_limit(p);
    r["pct_limit"] = pct ? json(std::round(*pct * 100) / 100) : json(nullptr);
    r["open_per_s"] = p.open_per_s;
    r["close_per_s"] = p.close_per_s;
    r["net_per_s"] = p.leak_rate_per_s ? json(*p.leak_rate_per_s) : json(nullptr);
    r["eta_s"] = p.time_to_limit_s ? json(*p.time_to_limit_s) : json(nullptr);
    r["errors"] = p.failed_total();
    r["emfile"] = count_of(p, "EMFILE");
    r["enfile"] = count_of(p, "ENFILE");
    r["oldest_s"] = (!p.exited && p.open_fds > 0) ? json(p.oldest_age_s) : json(nullptr);
    r["exited"] = p.exited;
    r["inexact"] = p.inexact;
    rows.push_back(std::move(r));
  }
  json doc;
  doc["schema"] = "fdwatch.top.v1";
  doc["time"] = snap.elapsed_s;
  doc["totals"] = {{"processes", snap.processes.size()},
                   {"exited", exited},
                   {"fds", fds},
                   {"events_per_s", snap.events_per_s},
                   {"lost_events", snap.lost_events}};
  doc["lost_events"] = snap.lost_events;
  doc["sort"] = top_column_key(st.sort);
  doc["descending"] = st.descending;
  doc["rows"] = std::move(rows);
  return doc;
}

}  // namespace fdw
