#include "views/report.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include "core/classify.h"
#include "core/exit_leaks.h"
#include "util/escape.h"

namespace fdw {

namespace {

// "3-7,9,12-40"
std::string fd_ranges(std::vector<int> fds) {
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (size_t i = 0; i < fds.size();) {
    size_t j = i;
    while (j + 1 < fds.size() && fds[j + 1] == fds[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(fds[i]);
    if (j > i) out += "-" + std::to_string(fds[j]);
    i = j + 1;
  }
  return out;
}

struct Group {
  Kind kind;
  std::string target;
  std::vector<int> fds;
  double oldest = 0;
  bool seeded = false;
};

// Still-open fds grouped by kind and target, oldest group first.
std::vector<Group> group_fds(const std::vector<FdView>& fds) {
  std::map<std::pair<int, std::string>, Group> m;
  for (auto& f : fds) {
    auto& g = m[{int(f.kind), group_target(f.kind, f.target)}];
    g.kind = f.kind;
    g.target = group_target(f.kind, f.target);
    g.fds.push_back(f.fd);
    g.oldest = std::max(g.oldest, f.age_s);
    g.seeded = g.seeded || f.seeded;
  }
  std::vector<Group> out;
  for (auto& [k, g] : m) out.push_back(std::move(g));
  std::stable_sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
    return a.oldest != b.oldest ? a.oldest > b.oldest : a.fds.size() > b.fds.size();
  });
  return out;
}

void text_groups(std::ostringstream& o, const std::vector<FdView>& fds, size_t max_groups) {
  auto groups = group_fds(fds);
  size_t shown = 0;
  for (auto& g : groups) {
    if (shown++ == max_groups) {
      o << "    ... " << groups.size() - max_groups << " more groups\n";
      break;
    }
    char head[64];
    snprintf(head, sizeof head, "    %-8s %5zu  ", std::string(kind_name(g.kind)).c_str(), g.fds.size());
    std::string t = fit_path(g.target.empty() ? "?" : escape_text(g.target), 44);
    o << head << t << "  (fd " << fd_ranges(g.fds) << "; oldest "
      << (g.seeded ? ">" : "") << format_duration(g.oldest) << ")\n";
  }
}

// "251 sockets", "1 file"
std::string count_of(uint64_t n, Kind k) {
  return std::to_string(n) + " " + std::string(kind_name(k)) + (n == 1 ? "" : "s");
}

// "tcp ->127.0.0.1:8081", "/var/log/app/segment_*.log (300 distinct)"
std::string targets_text(const Suspect& s) {
  if (s.targets.distinct <= 1) return escape_text(s.target);
  return escape_text(s.targets.pattern) + " (" + std::to_string(s.targets.distinct) + " distinct)";
}

// A process's name as text shows it: escaped, "?" when unknown.
std::string comm_text(const ProcView& p) { return p.comm.empty() ? "?" : escape_text(p.comm); }

// "17 sockets from main (leaker.c:8) -> tcp ->127.0.0.1:8081 (+867 opened
// before attach to the same endpoint)", "40 files open before attach -> /x"
std::string group_text(const Suspect& s) {
  std::string t = count_of(s.count - s.unattributed, s.kind);
  std::string site = suspect_site_text(s);
  if (!s.site.empty()) t += " from " + site;
  else if (!site.empty()) t += " " + site;
  if (!s.target.empty()) t += " -> " + targets_text(s);
  if (std::string u = suspect_unattributed_text(s); !u.empty()) t += " (" + u + ")";
  return t;
}

// "hit the limit (EMFILE 121)", "limit in 5.3s", or "".
std::string limit_text(const ProcView& p) {
  for (const char* e : {"EMFILE", "ENFILE"})
    if (auto it = p.failed.find(e); it != p.failed.end())
      return std::string("hit the limit (") + e + " " + std::to_string(it->second) + ")";
  if (!p.time_to_limit_s) return "";
  return *p.time_to_limit_s <= 0 ? "at the limit" : "limit in " + format_duration(*p.time_to_limit_s);
}

// The report's first lines: one per leaking suspect of every process.
void text_leaks(std::ostringstream& o, const Snapshot& snap) {
  for (const ProcView& p : snap.processes)
    for (const Suspect& s : p.suspects) {
      if (!s.leaking) continue;
      o << "LEAK " << comm_text(p) << ": " << group_text(s);
      o << ", " << format_growth(s.growth_per_s);
      if (std::string lim = limit_text(p); !lim.empty()) o << ", " << lim;
      o << "\n";
      if (!s.hint.empty()) o << "  hint: " << escape_text(s.hint) << "\n";
    }
}

// Per process: the leaking groups in full, the held call sites briefly.
void text_suspects(std::ostringstream& o, const std::vector<Suspect>& sus, bool exited) {
  size_t leaks = 0, held = 0;
  for (auto& s : sus) {
    if (!s.leaking) continue;
    if (leaks++ == 0)
      o << (exited ? "  leaks (open at exit, by call site):\n" : "  leaks (still open, by call site):\n");
    if (leaks > 10) break;
    o << "    " << s.count - s.unattributed << " " << kind_name(s.kind) << " from "
      << (suspect_site_text(s).empty() ? "an unknown site" : suspect_site_text(s));
    if (!s.target.empty()) o << " -> " << targets_text(s);
    if (std::string u = suspect_unattributed_text(s); !u.empty()) o << " " << u;
    o << " (" << format_growth(s.growth_per_s) << ", oldest " << format_duration(s.oldest_age_s) << ")\n";
  }
  for (auto& s : sus) {
    if (s.site.empty() || s.leaking) continue;
    if (held++ == 0) o << (exited ? "  held (open at exit, not growing):\n" : "  held (not growing):\n");
    if (held > 5) {
      o << "    ...\n";
      break;
    }
    o << "    " << s.count - s.unattributed << " " << kind_name(s.kind) << " from " << suspect_site_text(s);
    if (!s.target.empty()) o << " -> " << targets_text(s);
    if (std::string u = suspect_unattributed_text(s); !u.empty()) o << " " << u;
    o << "\n";
  }
}

uint64_t leaking_fds(const ProcView& p) {
  uint64_t n = 0;
  for (const Suspect& s : p.suspects) n += s.leaking ? s.count : 0;
  return n;
}

bool never_held_an_fd(const ProcView& p) {
  return p.open_fds == 0 && p.open_at_exit == 0 && p.opened == 0 && p.closed == 0 && p.failed.empty();
}

// Exited holding fds it opened itself that it did not keep on purpose: what
// --fail-on-leak fails on (core/exit_leaks.h).
bool exited_leaking(const ProcView& p) { return p.exited && !exit_leaks(p).empty(); }

// The processes worth a section, in reading order: leaking ones (most
// leaking fds first), then those that exited leaking, then the rest by
// open fds; processes that never held an fd (kernel threads) are left out.
std::vector<const ProcView*> report_order(const Snapshot& s) {
  std::vector<const ProcView*> out;
  for (const ProcView& p : s.processes)
    if (!never_held_an_fd(p)) out.push_back(&p);
  auto rank = [](const ProcView* p) {
    return std::make_tuple(leaking_fds(*p) == 0, !exited_leaking(*p));
  };
  std::stable_sort(out.begin(), out.end(), [&](const ProcView* a, const ProcView* b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (leaking_fds(*a) != leaking_fds(*b)) return leaking_fds(*a) > leaking_fds(*b);
    uint64_t fa = a->exited ? a->open_at_exit : a->open_fds, fb = b->exited ? b->open_at_exit : b->open_fds;
    return fa != fb ? fa > fb : a->pid < b->pid;
  });
  return out;
}

// "3 leaking, 1 exited holding fds it opened, 52 processes without fds not
// shown" (the second line of a report of several processes).
std::string summary_text(const Snapshot& s, size_t shown) {
  size_t leaking = 0, exited_holding = 0;
  for (const ProcView& p : s.processes) {
    leaking += leaking_fds(p) > 0;
    exited_holding += exited_leaking(p);
  }
  std::string t = std::to_string(leaking) + " leaking";
  if (exited_holding) t += ", " + std::to_string(exited_holding) + " exited holding fds it opened";
  if (size_t hidden = s.processes.size() - shown)
    t += ", " + std::to_string(hidden) + (hidden == 1 ? " process" : " processes") + " without fds not shown";
  return t;
}

}  // namespace

std::string render_report_text(const Snapshot& s, const ReportOptions& opt) {
  std::ostringstream o;
  o << "fdwatch report: " << s.processes.size() << (s.processes.size() == 1 ? " process" : " processes")
    << ", " << format_duration(s.elapsed_s) << ", " << s.lost_events << " events lost\n";
  if (s.lost_events)
    o << "  warning: events were lost; processes marked (inexact) were re-read from /proc\n";
  const auto order = report_order(s);
  if (s.processes.size() > 1) o << "  " << summary_text(s, order.size()) << "\n";
  text_leaks(o, s);
  for (const ProcView* pp : order) {
    const ProcView& p = *pp;
    o << "\n" << p.pid << " " << comm_text(p);
    if (p.exited) o << "  (exited" << (p.exit_code ? ", status " + std::to_string(*p.exit_code) : "") << ")";
    if (p.inexact) o << "  (inexact" << (p.inexact_reason.empty() ? "" : ": " + p.inexact_reason) << ")";
    o << "\n";
    char line[160];
    if (p.exited) {
      snprintf(line, sizeof line, "  open at exit %llu   opened %llu   closed %llu\n",
               (unsigned long long)p.open_at_exit, (unsigned long long)p.opened,
               (unsigned long long)p.closed);
      o << line;
    } else {
      std::string lim = "no limit";
      if (p.rlimit_nofile) {
        char b[64];
        snprintf(b, sizeof b, "limit %llu (%.0f%%)", (unsigned long long)*p.rlimit_nofile,
                 100.0 * double(p.open_fds) / double(std::max<uint64_t>(*p.rlimit_nofile, 1)));
        lim = b;
      }
      snprintf(line, sizeof line, "  open fds %llu   %s   opened %llu   closed %llu\n",
               (unsigned long long)p.open_fds, lim.c_str(), (unsigned long long)p.opened,
               (unsigned long long)p.closed);
      o << line;
    }
    if (!p.failed.empty()) {
      o << "  failed  ";
      for (auto& [name, n] : p.failed) o << " " << name << " " << n;
      o << "\n";
    }
    if (p.leak_rate_per_s) o << "  growth   " << format_growth(*p.leak_rate_per_s) << " net";
    else o << "  growth   unknown (watched too briefly)";
    if (p.time_to_limit_s)
      o << (*p.time_to_limit_s <= 0 ? "   limit reached"
                                    : "   limit in " + format_duration(*p.time_to_limit_s));
    o << "\n";
    if (!p.exited && !p.by_kind.empty()) {
      o << "  by kind ";
      std::vector<std::pair<std::string, uint64_t>> kinds(p.by_kind.begin(), p.by_kind.end());
      std::stable_sort(kinds.begin(), kinds.end(), [](auto& a, auto& b) { return a.second > b.second; });
      for (auto& [k, n] : kinds) o << " " << k << " " << n;
      o << "\n";
    }
    const auto& fds = p.exited ? p.leaked_at_exit : p.fds;
    if (!fds.empty()) {
      o << (p.exited ? "  still open at exit (opened by it, oldest first):\n"
                     : "  still open (oldest first):\n");
      text_groups(o, fds, opt.max_groups);
    }
    text_suspects(o, p.suspects, p.exited);
  }
  return o.str();
}

namespace {

nlohmann::json fd_json(const FdView& f) {
  nlohmann::json j = {{"fd", f.fd}, {"kind", kind_name(f.kind)}, {"target", f.target},
                      {"age_s", std::round(f.age_s * 1000) / 1000}, {"stack", f.stack.get()},
                      {"cloexec", f.cloexec}, {"seeded", f.seeded}};
  if (!f.ordinary.empty()) j["ordinary"] = f.ordinary;
  return j;
}

nlohmann::json suspect_json(const Suspect& su) {
  nlohmann::json ex = nlohmann::json::array(), counts = nlohmann::json::array();
  for (auto& [t, n] : su.targets.examples) {
    ex.push_back(t);
    counts.push_back(n);
  }
  nlohmann::json j = {{"kind", kind_name(su.kind)}, {"site", su.site}, {"target", su.target},
                      {"count", su.count}, {"oldest_age_s", std::round(su.oldest_age_s * 1000) / 1000},
                      {"verdict", su.leaking ? "leaking" : "held"},
                      {"growth_per_s", std::round(su.growth_per_s * 1000) / 1000},
                      {"targets", {{"pattern", su.targets.pattern}, {"examples", ex}, {"counts", counts},
                                   {"distinct", su.targets.distinct}}}};
  if (!su.hint.empty()) j["hint"] = su.hint;
  if (su.before_attach) j["before_attach"] = su.before_attach;
  if (su.unattributed) j["unattributed"] = su.unattributed;
  return j;
}

}  // namespace

nlohmann::json report_json(const Snapshot& s) {
  nlohmann::json procs = nlohmann::json::array();
  for (const ProcView& p : s.processes) {
    nlohmann::json j;
    j["pid"] = p.pid;
    j["ppid"] = p.ppid;
    j["comm"] = p.comm;
    j["cgroup"] = p.cgroup;
    j["container"] = p.container;
    j["pod_uid"] = p.pod_uid;
    j["ns_pid"] = p.ns_pid ? nlohmann::json(p.ns_pid) : nlohmann::json(nullptr);
    j["exited"] = p.exited;
    j["inexact"] = p.inexact;
    if (p.inexact) j["inexact_reason"] = p.inexact_reason;
    j["open_fds"] = p.open_fds;
    j["opened"] = p.opened;
    j["closed"] = p.closed;
    j["failed"] = nlohmann::json::object();
    for (auto& [k, v] : p.failed) j["failed"][k] = v;
    j["syscalls"] = nlohmann::json::object();
    for (auto& [k, v] : p.syscalls) j["syscalls"][k] = v;
    j["rlimit_nofile"] = p.rlimit_nofile ? nlohmann::json(*p.rlimit_nofile) : nlohmann::json(nullptr);
    j["leak_rate_per_s"] =
        p.leak_rate_per_s ? nlohmann::json(std::round(*p.leak_rate_per_s * 1000) / 1000) : nlohmann::json(nullptr);
    j["time_to_limit_s"] =
        p.time_to_limit_s ? nlohmann::json(std::round(*p.time_to_limit_s * 1000) / 1000) : nlohmann::json(nullptr);
    j["by_kind"] = nlohmann::json::object();
    for (auto& [k, v] : p.by_kind) j["by_kind"][k] = v;
    j["fds"] = nlohmann::json::array();
    for (auto& f : p.fds) j["fds"].push_back(fd_json(f));
    j["suspects"] = nlohmann::json::array();
    for (auto& su : p.suspects) j["suspects"].push_back(suspect_json(su));
    if (p.exited) {
      j["open_at_exit"] = p.open_at_exit;
      j["leaked_at_exit"] = nlohmann::json::array();
      for (auto& f : p.leaked_at_exit) j["leaked_at_exit"].push_back(fd_json(f));
      j["exit_code"] = p.exit_code ? nlohmann::json(*p.exit_code) : nlohmann::json(nullptr);
    }
    procs.push_back(std::move(j));
  }
  return {{"schema", "fdwatch.report.v1"},
          {"lost_events", s.lost_events},
          {"kernel", {{"release", s.kernel.release}, {"missing", s.kernel.missing}}},
          {"elapsed_s", std::round(s.elapsed_s * 1000) / 1000},
          {"processes", std::move(procs)}};
}

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fdw
