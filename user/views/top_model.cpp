#include "views/top_model.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "util/escape.h"
#include "util/utf8.h"

namespace fdw {
namespace {

struct ColInfo {
  std::string_view title;
  std::string_view key;
  std::string_view json;  // the top JSON field, accepted as a sort key too
  int width;              // natural width (COMM: its natural width, see kCommMin)
  bool right;
  bool desc;
};

// Indexed by TopColumn.  Widths fit the widest value format_* produces for
// the column, so values are never cut in the middle.
constexpr std::array<ColInfo, kTopColumnCount> kCols = {{
    {"PID", "pid", "pid", 7, true, false},
    {"USER", "user", "user", 8, false, false},
    {"FDS", "fds", "fds", 7, true, true},
    {"LIMIT", "limit", "limit", 7, true, true},
    {"%LIM", "pct", "pct_limit", 4, true, true},
    {"OPEN/s", "open", "open_per_s", 6, true, true},
    {"CLOSE/s", "close", "close_per_s", 7, true, true},
    {"NET/s", "net", "net_per_s", 6, true, true},
    {"ETA", "eta", "eta_s", 6, true, false},
    {"ERR", "err", "errors", 5, true, true},
    {"OLDEST", "oldest", "oldest_s", 6, true, true},
    {"CONTAINER", "container", "container", 12, false, false},
    {"COMM", "comm", "comm", 15, false, false},
}};
constexpr int kCommMin = 10;

// Order in which columns give way on a narrow terminal.
constexpr std::array<TopColumn, 9> kDropOrder = {
    TopColumn::Container, TopColumn::ClosePerS, TopColumn::Limit,  TopColumn::User,     TopColumn::OpenPerS,
    TopColumn::Oldest,    TopColumn::Errors, TopColumn::PctLimit, TopColumn::Eta,
};

const ColInfo& info(TopColumn c) { return kCols[static_cast<size_t>(c)]; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

std::string user_text(uint32_t uid, const UserNameFn& user_name) {
  if (uid == UINT32_MAX) return "?";
  std::string name = user_name ? user_name(uid) : std::string();
  return name.empty() ? std::to_string(uid) : name;
}

uint64_t failed_count(const ProcView& p, const char* err) {
  auto it = p.failed.find(err);
  return it == p.failed.end() ? 0 : it->second;
}

bool has_oldest(const ProcView& p) { return !p.exited && p.open_fds > 0; }

// --- sorting ----------------------------------------------------------------

struct SortKey {
  bool null = false;
  double num = 0;
  std::string_view str;  // COMM and CONTAINER only
};

SortKey sort_key(const ProcView& p, TopColumn c) {
  auto num = [](double v) { return std::isnan(v) ? SortKey{true, 0, {}} : SortKey{false, v, {}}; };
  switch (c) {
    case TopColumn::Pid: return num(p.pid);
    case TopColumn::User: return p.uid == UINT32_MAX ? SortKey{true, 0, {}} : num(p.uid);
    case TopColumn::Fds: return num(static_cast<double>(p.open_fds));
    case TopColumn::Limit:
      return p.rlimit_nofile ? num(static_cast<double>(*p.rlimit_nofile)) : SortKey{true, 0, {}};
    case TopColumn::PctLimit: {
      auto pct = top_pct_limit(p);
      return pct ? num(*pct) : SortKey{true, 0, {}};
    }
    case TopColumn::OpenPerS: return num(p.open_per_s);
    case TopColumn::ClosePerS: return num(p.close_per_s);
    case TopColumn::NetPerS: return p.leak_rate_per_s ? num(*p.leak_rate_per_s) : SortKey{true, 0, {}};
    case TopColumn::Eta:
      return p.time_to_limit_s ? num(*p.time_to_limit_s) : SortKey{true, 0, {}};
    case TopColumn::Errors: return num(static_cast<double>(p.failed_total()));
    case TopColumn::Oldest: return has_oldest(p) ? num(p.oldest_age_s) : SortKey{true, 0, {}};
    case TopColumn::Container:
      return p.container.empty() ? SortKey{true, 0, {}} : SortKey{false, 0, p.container};
    case TopColumn::Comm: return SortKey{false, 0, p.comm};
  }
  return SortKey{true, 0, {}};
}

// --- cells ------------------------------------------------------------------

std::string cell_text(const ProcView& p, TopColumn c, int w, const UserNameFn& user_name) {
  switch (c) {
    case TopColumn::Pid: return std::to_string(p.pid);
    case TopColumn::User: {
      std::string u = user_text(p.uid, user_name);
      // top's convention: a cut name ends in '+'.
      if (static_cast<int>(u.size()) > w && w > 1) u = u.substr(0, w - 1) + "+";
      return u;
    }
    case TopColumn::Fds: {
      std::string n = format_count(p.open_fds, static_cast<size_t>(std::max(1, w - 1)));
      return p.inexact ? "~" + n : n;
    }
    case TopColumn::Limit:
      return p.rlimit_nofile ? format_count(*p.rlimit_nofile, static_cast<size_t>(w)) : "";
    case TopColumn::PctLimit: {
      auto pct = top_pct_limit(p);
      if (!pct) return "";
      return format_count(static_cast<uint64_t>(std::floor(std::max(0.0, *pct))),
                          static_cast<size_t>(w));
    }
    case TopColumn::OpenPerS: return format_rate(p.open_per_s);
    case TopColumn::ClosePerS: return format_rate(p.close_per_s);
    case TopColumn::NetPerS: return p.leak_rate_per_s ? format_rate(*p.leak_rate_per_s) : "?";
    case TopColumn::Eta:
      if (p.exited) return "exited";
      return p.time_to_limit_s ? format_duration(*p.time_to_limit_s) : "";
    case TopColumn::Errors: {
      // ENOENT and friends are everyday noise; EMFILE/ENFILE mean the limit
      // was hit, which is what a leak leads to, so they get the '!'.
      bool bang = top_limit_failures(p) > 0;
      std::string n = format_count(p.failed_total(), static_cast<size_t>(std::max(1, w - bang)));
      return bang ? n + "!" : n;
    }
    case TopColumn::Oldest: return has_oldest(p) ? format_duration(p.oldest_age_s) : "";
    case TopColumn::Container: {
      // Ids read by their start, like docker ps; a cut name ends in '+'.
      std::string id = escape_text(p.container);
      if (static_cast<int>(id.size()) > w && w > 1) id = id.substr(0, w - 1) + "+";
      return id;
    }
    case TopColumn::Comm: return fit_middle(escape_text(p.comm), static_cast<size_t>(std::max(w, 0)));
  }
  return "";
}

TopRow make_row(std::string_view text, int width, TopStyle style = TopStyle::Normal) {
  return TopRow{top_fit(text, width), style, {}};
}

// Keeps a span inside the row; drops it when nothing is left.
void add_span(TopRow& row, int col, int len, TopStyle style) {
  int w = static_cast<int>(row.text.size());
  if (col >= w || len <= 0) return;
  row.spans.push_back(TopSpan{col, std::min(len, w - col), style});
}

// Left text with right-aligned `right` when both fit, else left alone.
std::string with_right(std::string left, std::string_view right, int width) {
  int room = width - static_cast<int>(left.size()) - static_cast<int>(right.size());
  if (width > 0 && room >= 2) left += std::string(room, ' ') + std::string(right);
  return left;
}

// --- detail screen ----------------------------------------------------------

constexpr int kKindWidth = 11;  // "userfaultfd"

const ProcView* find_proc(const Snapshot& snap, uint32_t pid) {
  auto it = std::find_if(snap.processes.begin(), snap.processes.end(),
                         [pid](const ProcView& p) { return p.pid == pid; });
  return it == snap.processes.end() ? nullptr : &*it;
}

// The scrollable part of the detail screen.  Per-fd lines are made on demand:
// a leaking process may hold a million fds and only a screenful is drawn.
struct DetailBody {
  std::vector<TopRow> head;
  const std::vector<FdView>* fds = nullptr;
  size_t size() const { return head.size() + (fds ? fds->size() : 0); }
  TopRow line(size_t i, int width) const {
    if (i < head.size()) return head[i];
    const FdView& f = (*fds)[i - head.size()];
    // '>' marks fds open before tracing began: their age is a lower bound.
    std::string age = (f.seeded ? ">" : "") + format_duration(f.age_s);
    return make_row(fmt("%8d  %-*s  %7s  ", f.fd, kKindWidth,
                        std::string(kind_name(f.kind)).c_str(), age.c_str()) + escape_text(f.target),
                    width);
  }
};

DetailBody detail_body(const ProcView& p, int width) {
  DetailBody b;
  auto add = [&](std::string_view s, TopStyle st = TopStyle::Normal) {
    b.head.push_back(make_row(s, width, st));
  };
  const auto& fds = p.exited ? p.leaked_at_exit : p.fds;
  const char* what = p.exited ? "open at exit" : "open fds";
  if (!p.suspects.empty()) {
    add("");
    add(fmt("suspects (%s by call site and target):", what));
    add(fmt("%8s  %-*s  %7s  %s", "COUNT", kKindWidth, "KIND", "OLDEST", "SITE  TARGET"),
        TopStyle::Header);
    // One leak is one row: fds open before attach (or before stacks were
    // on) that go to the same target are counted with their call site.
    for (const auto& s : p.suspects) {
      std::string site = suspect_site_text(s), more = suspect_unattributed_text(s);
      add(fmt("%8llu  %-*s  %7s  ", static_cast<unsigned long long>(s.count - s.unattributed), kKindWidth,
              std::string(kind_name(s.kind)).c_str(), format_duration(s.oldest_age_s).c_str()) +
          (site.empty() ? "?" : site) + "  " + escape_text(s.target) + (more.empty() ? "" : "  " + more));
    }
  }
  add("");
  add(fmt("%s by kind and target:", what));
  add(fmt("%8s  %-*s  %7s  %s", "COUNT", kKindWidth, "KIND", "OLDEST", "TARGET"),
      TopStyle::Header);
  auto groups = group_fds(fds);
  for (const auto& g : groups)
    add(fmt("%8llu  %-*s  %7s  ", static_cast<unsigned long long>(g.count), kKindWidth,
            std::string(kind_name(g.kind)).c_str(), format_duration(g.oldest_age_s).c_str()) +
        escape_text(g.target));
  if (groups.empty()) add("       (none)");
  if (!fds.empty()) {
    add("");
    add(fmt("%s, oldest first:", what));
    add(fmt("%8s  %-*s  %7s  %s", "FD", kKindWidth, "KIND", "AGE", "TARGET"), TopStyle::Header);
    b.fds = &fds;
  }
  return b;
}

std::vector<TopRow> detail_header(const ProcView* p, uint32_t pid, int width,
                                  const UserNameFn& user_name) {
  std::vector<TopRow> rows;
  const std::string_view back = "q/Esc: back";
  if (!p) {
    rows.push_back(make_row(with_right(fmt("PID %u is no longer in the snapshot", pid), back, width),
                            width, TopStyle::Header));
    return rows;
  }
  std::string title = fmt("PID %u  ", p->pid) + escape_text(p->comm) + "  user " + user_text(p->uid, user_name);
  if (p->ppid) title += fmt("  ppid %u", p->ppid);
  if (p->exited) title += "  [exited]";
  if (p->inexact) title += "  [inexact: events lost, resynced from /proc]";
  rows.push_back(make_row(with_right(title, back, width), width, TopStyle::Header));

  std::string usage;
  if (p->exited) {
    usage = "exited at " + format_duration(p->exited_at_s);
    if (p->exit_code) usage += fmt(" (code %d)", *p->exit_code);
    usage += fmt("; open at exit: %llu", static_cast<unsigned long long>(p->open_at_exit));
  } else {
    usage = fmt("fds: %llu", static_cast<unsigned long long>(p->open_fds));
    if (p->rlimit_nofile) {
      usage += " of " + format_count(*p->rlimit_nofile, 20);
      if (auto pct = top_pct_limit(*p)) usage += fmt(" (%.0f%%)", std::floor(*pct));
    } else {
      usage += " (limit unknown)";
    }
    if (p->time_to_limit_s) usage += "  ETA: " + format_duration(*p->time_to_limit_s);
    if (has_oldest(*p)) usage += "  oldest: " + format_duration(p->oldest_age_s);
  }
  TopStyle ustyle = top_row_style(*p);
  rows.push_back(make_row(usage, width, ustyle == TopStyle::Error ? TopStyle::Normal : ustyle));

  rows.push_back(make_row(
      "open/s: " + format_rate(p->open_per_s) + "  close/s: " + format_rate(p->close_per_s) +
          "  net/s: " + format_rate(p->leak_rate_per_s) +
          fmt("  opened: %llu  closed: %llu", static_cast<unsigned long long>(p->opened),
              static_cast<unsigned long long>(p->closed)),
      width));

  std::string errs = "errors:";
  if (p->failed.empty()) errs += " none";
  // Limit failures first: they are the ones a leak causes.
  for (const char* e : {"EMFILE", "ENFILE"})
    if (auto n = failed_count(*p, e)) errs += fmt(" %s %llu", e, static_cast<unsigned long long>(n));
  for (const auto& [e, n] : p->failed)
    if (e != "EMFILE" && e != "ENFILE")
      errs += " " + e + fmt(" %llu", static_cast<unsigned long long>(n));
  rows.push_back(make_row(errs, width,
                          top_limit_failures(*p) > 0 ? TopStyle::Error : TopStyle::Normal));
  return rows;
}

// At most 22 lines, so it fits a 24-line terminal.
const std::vector<std::string_view> kHelp = {
    "fdwatch top: open file descriptors per process     (press any key to return)",
    "  Up/Down j/k      move the selection (PgUp/PgDn: a page, Home/End g/G: ends)",
    "  Enter            details of the selected process: fds by kind and target,",
    "                   suspects (call sites), every fd with its age",
    "  Esc Backspace q  back from the details",
    "  < >              sort by the previous / next column",
    "  P U C F L        sort by PID, USER, COMM, FDS, %LIM",
    "  O N T E A        sort by OPEN/s, NET/s, ETA, ERR, OLDEST",
    "  r                reverse the sort order",
    "  /                filter: part of comm, exact PID, container:ID or cgroup:PATH",
    "                   (Enter applies, Esc cancels; Esc in the list clears it)",
    "  p Space          pause the display (events are still counted)",
    "  h ?              this help",
    "  q                quit",
    "",
    "  FDS     open fds; '~' before it: events were lost, counts resynced from /proc",
    "  LIMIT   soft RLIMIT_NOFILE; %LIM = FDS / LIMIT",
    "  NET/s   net fd growth per second over the window (about 0 for churn)",
    "  ETA     projected time until FDS reaches LIMIT; blank when not growing,",
    "          \"exited\" for a process that is gone",
    "  ERR     failed fd-creating calls; '!' when some failed with EMFILE/ENFILE",
    "  OLDEST  age of the oldest open fd",
};

}  // namespace

// --- columns ----------------------------------------------------------------

std::string_view top_column_title(TopColumn c) { return info(c).title; }
std::string_view top_column_key(TopColumn c) { return info(c).key; }
bool top_column_descending_by_default(TopColumn c) { return info(c).desc; }

std::optional<TopColumn> top_column_from_key(std::string_view key) {
  for (int i = 0; i < kTopColumnCount; ++i) {
    const auto& ci = kCols[static_cast<size_t>(i)];
    if (iequals(key, ci.key) || iequals(key, ci.title) || iequals(key, ci.json))
      return static_cast<TopColumn>(i);
  }
  return std::nullopt;
}

int top_list_page(int height) { return std::max(1, height - kTopListHeaderLines); }
int top_detail_page(int height) { return std::max(1, height - kTopDetailHeaderLines); }

// --- formatting -------------------------------------------------------------


std::string top_fit(std::string_view s, int w, bool right_align) {
  if (w <= 0) return {};
  std::string out;
  out.reserve(static_cast<size_t>(w));
  // One column per character: a UTF-8 sequence is one '?', a stray byte too.
  for (size_t i = 0; i < s.size() && out.size() < static_cast<size_t>(w);) {
    const Utf8Char u = decode_utf8(s, i);
    out.push_back(u.len == 0 || u.cp < 0x20 || u.cp >= 0x7f ? '?' : static_cast<char>(u.cp));
    i += std::max<size_t>(u.len, 1);
  }
  if (right_align) out.insert(0, static_cast<size_t>(w) - out.size(), ' ');
  out.resize(static_cast<size_t>(w), ' ');
  return out;
}

// --- per-process facts ------------------------------------------------------

std::optional<double> top_pct_limit(const ProcView& p) {
  if (!p.rlimit_nofile || *p.rlimit_nofile == 0) return std::nullopt;
  return 100.0 * static_cast<double>(p.open_fds) / static_cast<double>(*p.rlimit_nofile);
}

uint64_t top_limit_failures(const ProcView& p) {
  return failed_count(p, "EMFILE") + failed_count(p, "ENFILE");
}

bool top_is_leaking(const ProcView& p) {
  if (p.exited) return false;
  return p.time_to_limit_s.has_value() || p.leak_rate_per_s.value_or(0) >= 0.05;
}

TopStyle top_row_style(const ProcView& p) {
  if (p.exited) return TopStyle::Exited;
  if (top_limit_failures(p) > 0) return TopStyle::Error;
  if (auto pct = top_pct_limit(p); pct && *pct >= 80) return TopStyle::NearLimit;
  if (top_is_leaking(p)) return TopStyle::Leaking;
  return TopStyle::Normal;
}

bool top_filter_matches(const ProcView& p, std::string_view filter) {
  if (filter.empty()) return true;
  for (auto [prefix, field] : {std::pair<std::string_view, const std::string*>{"container:", &p.container},
                               {"cgroup:", &p.cgroup}})
    if (filter.substr(0, prefix.size()) == prefix)
      return icontains(*field, filter.substr(prefix.size()));
  if (icontains(p.comm, filter)) return true;
  if (filter.size() > 10) return false;
  uint64_t pid = 0;
  for (char c : filter) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + static_cast<uint64_t>(c - '0');
  }
  return pid == p.pid;
}

std::vector<const ProcView*> top_rows(const Snapshot& snap, const TopState& st) {
  std::vector<const ProcView*> rows;
  rows.reserve(snap.processes.size());
  for (const auto& p : snap.processes)
    if (top_filter_matches(p, st.filter)) rows.push_back(&p);
  const TopColumn c = st.sort;
  const bool desc = st.descending;
  std::sort(rows.begin(), rows.end(), [c, desc](const ProcView* a, const ProcView* b) {
    SortKey ka = sort_key(*a, c), kb = sort_key(*b, c);
    if (ka.null != kb.null) return kb.null;  // nulls last, whatever the direction
    if (!ka.null) {
      if (c == TopColumn::Comm || c == TopColumn::Container) {
        if (ka.str != kb.str) return desc ? ka.str > kb.str : ka.str < kb.str;
      } else if (ka.num != kb.num) {
        return desc ? ka.num > kb.num : ka.num < kb.num;
      }
    }
    return a->pid < b->pid;
  });
  return rows;
}

// --- list layout ------------------------------------------------------------

// COMM goes last and takes what is left: it is the only column whose useful
// width varies, and a cut name still reads from its start.
TopLayout top_layout(int width) {
  std::array<bool, kTopColumnCount> on;
  on.fill(true);
  auto fixed = [&] {  // widths of every shown column but COMM, plus separators
    int sum = 0;
    for (int i = 0; i < kTopColumnCount; ++i)
      if (on[static_cast<size_t>(i)] && static_cast<TopColumn>(i) != TopColumn::Comm)
        sum += kCols[static_cast<size_t>(i)].width + 1;
    return sum;
  };
  int comm = info(TopColumn::Comm).width;
  if (width > 0) {
    for (TopColumn c : kDropOrder) {
      if (fixed() + kCommMin <= width) break;
      on[static_cast<size_t>(c)] = false;
    }
    comm = std::max(kCommMin, width - fixed());
  }
  TopLayout lay;
  for (int i = 0; i < kTopColumnCount; ++i) {
    if (!on[static_cast<size_t>(i)]) continue;
    auto c = static_cast<TopColumn>(i);
    int w = c == TopColumn::Comm ? comm : info(c).width;
    lay.cols.push_back(c);
    lay.widths.push_back(w);
    lay.total += w + (lay.cols.size() > 1 ? 1 : 0);
  }
  return lay;
}

std::optional<std::pair<int, int>> top_column_span(const TopLayout& lay, TopColumn c) {
  int col = 0;
  for (size_t i = 0; i < lay.cols.size(); ++i) {
    if (lay.cols[i] == c) return std::make_pair(col, lay.widths[i]);
    col += lay.widths[i] + 1;
  }
  return std::nullopt;
}

std::string top_header_text(const TopLayout& lay) {
  std::string s;
  for (size_t i = 0; i < lay.cols.size(); ++i) {
    if (i) s += ' ';
    s += top_fit(info(lay.cols[i]).title, lay.widths[i], info(lay.cols[i]).right);
  }
  return s;
}

std::string top_row_text(const ProcView& p, const TopLayout& lay, const UserNameFn& user_name) {
  std::string s;
  s.reserve(static_cast<size_t>(lay.total));
  for (size_t i = 0; i < lay.cols.size(); ++i) {
    if (i) s += ' ';
    TopColumn c = lay.cols[i];
    s += top_fit(cell_text(p, c, lay.widths[i], user_name), lay.widths[i], info(c).right);
  }
  return s;
}

std::vector<TopRow> top_summary_rows(const Snapshot& snap, const TopState& st, int width,
                                     bool key_hints) {
  uint64_t fds = 0, exited = 0;
  for (const auto& p : snap.processes) {
    fds += p.open_fds;
    exited += p.exited;
  }
  std::string l1 = "fdwatch top  elapsed " + format_duration(snap.elapsed_s) +
                   fmt("  processes: %zu", snap.processes.size());
  if (exited) l1 += fmt(" (%llu exited)", static_cast<unsigned long long>(exited));
  l1 += fmt("  fds: %llu", static_cast<unsigned long long>(fds));
  if (st.paused) l1 += "  [paused]";
  if (key_hints) l1 = with_right(l1, "h: help  q: quit", width);

  std::vector<TopRow> rows;
  rows.push_back(make_row(l1, width));
  if (st.editing_filter) {
    rows.push_back(make_row("filter (Enter: apply, Esc: cancel): " + st.filter_input + "_", width));
    return rows;
  }
  std::string l2 = "events/s: " + format_rate(snap.events_per_s) + "  ";
  int dropped_col = static_cast<int>(l2.size());
  l2 += fmt("dropped: %llu", static_cast<unsigned long long>(snap.lost_events));
  int dropped_len = static_cast<int>(l2.size()) - dropped_col;
  l2 += "  sort: " + std::string(info(st.sort).title) + (st.descending ? " desc" : " asc");
  if (!st.filter.empty()) l2 += "  filter: " + st.filter;
  rows.push_back(make_row(l2, width));
  if (snap.lost_events > 0) add_span(rows.back(), dropped_col, dropped_len, TopStyle::Error);
  return rows;
}

std::vector<FdGroup> group_fds(const std::vector<FdView>& fds) {
  std::map<std::pair<Kind, std::string_view>, FdGroup> by;
  for (const auto& f : fds) {
    auto [it, fresh] = by.try_emplace({f.kind, f.target});
    FdGroup& g = it->second;
    if (fresh) {
      g.kind = f.kind;
      g.target = f.target;
    }
    ++g.count;
    g.oldest_age_s = std::max(g.oldest_age_s, f.age_s);
  }
  std::vector<FdGroup> out;
  out.reserve(by.size());
  for (auto& [k, g] : by) out.push_back(std::move(g));
  // Map order (kind, target) breaks ties, so the order is total.
  std::stable_sort(out.begin(), out.end(), [](const FdGroup& a, const FdGroup& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.oldest_age_s > b.oldest_age_s;
  });
  return out;
}

// --- state ------------------------------------------------------------------

void top_settle(TopState& st, const Snapshot& snap, int height) {
  // The selection is a pid, not a row: rows reorder every frame as counts
  // change, and the user is looking at a process.  The index only serves when
  // that process leaves the list, so the cursor stays where the eye is.
  auto rows = top_rows(snap, st);
  const size_t n = rows.size();
  if (n == 0) {
    st.selected_pid.reset();
    st.selected_index = 0;
    st.scroll = 0;
  } else {
    size_t idx = std::min(st.selected_index, n - 1);
    if (st.selected_pid) {
      for (size_t i = 0; i < n; ++i)
        if (rows[i]->pid == *st.selected_pid) {
          idx = i;
          break;
        }
    }
    st.selected_pid = rows[idx]->pid;
    st.selected_index = idx;
    // Scroll as little as keeps the selection on screen, then never past the
    // end (a shrinking list or a taller terminal pulls rows back down).
    const auto page = static_cast<size_t>(top_list_page(height));
    if (st.scroll > idx) st.scroll = idx;
    if (idx >= st.scroll + page) st.scroll = idx - page + 1;
    st.scroll = std::min(st.scroll, n > page ? n - page : 0);
  }
  if (st.screen == TopScreen::Detail || st.help_return == TopScreen::Detail) {
    const ProcView* p = find_proc(snap, st.detail_pid);
    size_t lines = p ? detail_body(*p, 1).size() : 0;
    const auto page = static_cast<size_t>(top_detail_page(height));
    st.detail_scroll = std::min(st.detail_scroll, lines > page ? lines - page : 0);
  }
}

namespace {

// A new column always starts in its natural direction (biggest first for
// counts, soonest first for ETA), whichever way the previous one ran.
TopAction set_sort(TopState& st, TopColumn c) {
  bool desc = top_column_descending_by_default(c);
  if (st.sort == c && st.descending == desc) return {};
  st.sort = c;
  st.descending = desc;
  return {TopActionKind::Redraw};
}

std::optional<TopColumn> direct_sort_key(int key) {
  switch (key) {
    case 'P': return TopColumn::Pid;
    case 'U': return TopColumn::User;
    case 'C': return TopColumn::Comm;
    case 'F': return TopColumn::Fds;
    case 'L': return TopColumn::PctLimit;
    case 'O': return TopColumn::OpenPerS;
    case 'N': return TopColumn::NetPerS;
    case 'T': return TopColumn::Eta;
    case 'E': return TopColumn::Errors;
    case 'A': return TopColumn::Oldest;
    default: return std::nullopt;
  }
}

bool is_enter(int key) { return key == TopKey::Enter || key == '\r'; }
bool is_backspace(int key) { return key == TopKey::Backspace || key == '\b'; }

TopAction filter_key(TopState& st, int key, const Snapshot& snap, int height) {
  constexpr size_t kMaxFilter = 64;
  if (is_enter(key)) {
    st.filter = st.filter_input;
    st.editing_filter = false;
    top_settle(st, snap, height);
    return {TopActionKind::Redraw};
  }
  if (key == TopKey::Esc) {
    st.editing_filter = false;
    st.filter_input.clear();
    return {TopActionKind::Redraw};
  }
  if (is_backspace(key)) {
    if (st.filter_input.empty()) return {};
    st.filter_input.pop_back();
    return {TopActionKind::Redraw};
  }
  if (key >= 0x20 && key < 0x7f && st.filter_input.size() < kMaxFilter) {
    st.filter_input.push_back(static_cast<char>(key));
    return {TopActionKind::Redraw};
  }
  return {};
}

TopAction list_key(TopState& st, int key, const Snapshot& snap, int height) {
  auto rows = top_rows(snap, st);
  const long n = static_cast<long>(rows.size());
  const long page = top_list_page(height);
  auto move_to = [&](long target) -> TopAction {
    if (n == 0) return {};
    target = std::clamp(target, 0L, n - 1);
    auto before = st.selected_pid;
    st.selected_index = static_cast<size_t>(target);
    st.selected_pid = rows[static_cast<size_t>(target)]->pid;
    top_settle(st, snap, height);
    return before == st.selected_pid ? TopAction{} : TopAction{TopActionKind::SelectChanged};
  };
  const long idx = static_cast<long>(st.selected_index);
  if (auto c = direct_sort_key(key)) {
    auto a = set_sort(st, *c);
    top_settle(st, snap, height);
    return a;
  }
  switch (key) {
    case 'q': return {TopActionKind::Quit};
    case TopKey::Up: case 'k': return move_to(idx - 1);
    case TopKey::Down: case 'j': return move_to(idx + 1);
    case TopKey::PageUp: return move_to(idx - page);
    case TopKey::PageDown: return move_to(idx + page);
    case TopKey::Home: case 'g': return move_to(0);
    case TopKey::End: case 'G': return move_to(n - 1);
    case '<': case '>': {
      int c = static_cast<int>(st.sort) + (key == '>' ? 1 : kTopColumnCount - 1);
      auto a = set_sort(st, static_cast<TopColumn>(c % kTopColumnCount));
      top_settle(st, snap, height);
      return a;
    }
    case 'r': case 'R':
      st.descending = !st.descending;
      top_settle(st, snap, height);
      return {TopActionKind::Redraw};
    case '/':
      st.editing_filter = true;
      st.filter_input = st.filter;
      return {TopActionKind::Redraw};
    case TopKey::Esc:
      if (st.filter.empty()) return {};
      st.filter.clear();
      top_settle(st, snap, height);
      return {TopActionKind::Redraw};
    case 'p': case ' ':
      st.paused = !st.paused;
      return {TopActionKind::PauseChanged};
    case 'h': case '?':
      st.help_return = TopScreen::List;
      st.screen = TopScreen::Help;
      return {TopActionKind::Redraw};
    default: break;
  }
  if (is_enter(key) && st.selected_pid) {
    st.screen = TopScreen::Detail;
    st.detail_pid = *st.selected_pid;
    st.detail_scroll = 0;
    return {TopActionKind::OpenDetail, st.detail_pid};
  }
  return {};
}

TopAction detail_key(TopState& st, int key, const Snapshot& snap, int height) {
  const long page = top_detail_page(height);
  auto scroll_to = [&](long target) -> TopAction {
    auto before = st.detail_scroll;
    st.detail_scroll = static_cast<size_t>(std::max(0L, target));
    top_settle(st, snap, height);  // clamps at the end of the body
    return before == st.detail_scroll ? TopAction{} : TopAction{TopActionKind::Redraw};
  };
  const long at = static_cast<long>(st.detail_scroll);
  if (key == TopKey::Esc || is_backspace(key) || key == 'q') {
    st.screen = TopScreen::List;
    top_settle(st, snap, height);
    return {TopActionKind::CloseDetail};
  }
  switch (key) {
    case TopKey::Up: case 'k': return scroll_to(at - 1);
    case TopKey::Down: case 'j': return scroll_to(at + 1);
    case TopKey::PageUp: return scroll_to(at - page);
    case TopKey::PageDown: return scroll_to(at + page);
    case TopKey::Home: case 'g': return scroll_to(0);
    case TopKey::End: case 'G': return scroll_to(LONG_MAX / 2);
    case 'p': case ' ':
      st.paused = !st.paused;
      return {TopActionKind::PauseChanged};
    case 'h': case '?':
      st.help_return = TopScreen::Detail;
      st.screen = TopScreen::Help;
      return {TopActionKind::Redraw};
    default: return {};
  }
}

std::vector<TopRow> render_list(const Snapshot& snap, const TopState& st, int width, int height,
                                const UserNameFn& user_name) {
  auto out = top_summary_rows(snap, st, width);
  TopLayout lay = top_layout(width);
  out.push_back(make_row(top_header_text(lay), width, TopStyle::Header));
  if (auto sp = top_column_span(lay, st.sort)) add_span(out.back(), sp->first, sp->second,
                                                        TopStyle::Selected);
  auto rows = top_rows(snap, st);
  if (rows.empty()) {
    out.push_back(make_row(st.filter.empty() ? "  no processes"
                                             : "  no process matches filter '" + st.filter + "'",
                           width));
    return out;
  }
  const size_t end = std::min(rows.size(), st.scroll + static_cast<size_t>(top_list_page(height)));
  for (size_t i = st.scroll; i < end; ++i) {
    const ProcView& p = *rows[i];
    bool sel = st.selected_pid && *st.selected_pid == p.pid;
    out.push_back(make_row(top_row_text(p, lay, user_name), width,
                           sel ? TopStyle::Selected : top_row_style(p)));
  }
  return out;
}

std::vector<TopRow> render_detail(const Snapshot& snap, const TopState& st, int width, int height,
                                  const UserNameFn& user_name) {
  const ProcView* p = find_proc(snap, st.detail_pid);
  auto out = detail_header(p, st.detail_pid, width, user_name);
  if (!p) return out;
  DetailBody body = detail_body(*p, width);
  const size_t end =
      std::min(body.size(), st.detail_scroll + static_cast<size_t>(top_detail_page(height)));
  for (size_t i = st.detail_scroll; i < end; ++i) out.push_back(body.line(i, width));
  return out;
}

}  // namespace

TopAction top_handle_key(TopState& st, int key, const Snapshot& snap, int height) {
  // The snapshot (or the terminal) may have changed since the frame the user
  // saw, so first bring the state in line with it.
  top_settle(st, snap, height);
  if (key == TopKey::Resize) return {TopActionKind::Redraw};
  switch (st.screen) {
    case TopScreen::Help:
      st.screen = st.help_return;
      top_settle(st, snap, height);
      return {TopActionKind::Redraw};
    case TopScreen::Detail: return detail_key(st, key, snap, height);
    case TopScreen::List:
      return st.editing_filter ? filter_key(st, key, snap, height)
                               : list_key(st, key, snap, height);
  }
  return {};
}

TopFrame top_render(const Snapshot& snap, const TopState& st_in, int width, int height,
                    const UserNameFn& user_name) {
  TopFrame f;
  f.width = std::max(0, width);
  f.height = std::max(0, height);
  if (width <= 0 || height <= 0) return f;
  // Settle a copy: render stays a pure function of its arguments even when
  // the caller skipped top_settle for this snapshot or size.
  TopState st = st_in;
  top_settle(st, snap, height);
  switch (st.screen) {
    case TopScreen::List: f.rows = render_list(snap, st, width, height, user_name); break;
    case TopScreen::Detail: f.rows = render_detail(snap, st, width, height, user_name); break;
    case TopScreen::Help:
      for (auto line : kHelp) f.rows.push_back(make_row(line, width));
      break;
  }
  f.rows.resize(static_cast<size_t>(height), make_row("", width));
  return f;
}

}  // namespace fdw
