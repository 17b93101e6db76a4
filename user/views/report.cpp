#include "views/report.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/classify.h"

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
    std::string t = g.target.empty() ? "?" : g.target;
    t = fit_path(t, 44);
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
  if (s.targets.distinct <= 1) return s.target;
  return s.targets.pattern + " (" + std::to_string(s.targets.distinct) + " distinct)";
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
      o << "LEAK " << (p.comm.empty() ? "?" : p.comm) << ": " << count_of(s.count, s.kind);
      if (!s.site.empty()) o << " from " << s.site;
      if (!s.target.empty()) o << " -> " << targets_text(s);
      o << ", " << format_growth(s.growth_per_s);
      if (std::string lim = limit_text(p); !lim.empty()) o << ", " << lim;
      o << "\n";
      if (!s.hint.empty()) o << "  hint: " << s.hint << "\n";
    }
}

// Per process: the leaking call sites in full, the held ones briefly.
void text_suspects(std::ostringstream& o, const std::vector<Suspect>& sus, bool exited) {
  size_t leaks = 0, held = 0;
  for (auto& s : sus) {
    if (s.site.empty() || !s.leaking) continue;
    if (leaks++ == 0)
      o << (exited ? "  leaks (open at exit, by call site):\n" : "  leaks (still open, by call site):\n");
    if (leaks > 10) break;
    o << "    " << s.count << " " << kind_name(s.kind) << " from " << s.site;
    if (!s.target.empty()) o << " -> " << targets_text(s);
    o << " (" << format_growth(s.growth_per_s) << ", oldest " << format_duration(s.oldest_age_s) << ")\n";
  }
  for (auto& s : sus) {
    if (s.site.empty() || s.leaking) continue;
    if (held++ == 0) o << (exited ? "  held (open at exit, not growing):\n" : "  held (not growing):\n");
    if (held > 5) {
      o << "    ...\n";
      break;
    }
    o << "    " << s.count << " " << kind_name(s.kind) << " from " << s.site;
    if (!s.target.empty()) o << " -> " << targets_text(s);
    o << "\n";
  }
}

}  // namespace

std::string render_report_text(const Snapshot& s, const ReportOptions& opt) {
  std::ostringstream o;
  o << "fdwatch report: " << s.processes.size() << (s.processes.size() == 1 ? " process" : " processes")
    << ", " << format_duration(s.elapsed_s) << ", " << s.lost_events << " events lost\n";
  if (s.lost_events)
    o << "  warning: events were lost; processes marked (inexact) were re-read from /proc\n";
  text_leaks(o, s);
  for (const ProcView& p : s.processes) {
    o << "\n" << p.pid << " " << (p.comm.empty() ? "?" : p.comm);
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
    o << "  growth   " << format_growth(p.leak_rate_per_s) << " net";
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
  return {{"fd", f.fd}, {"kind", kind_name(f.kind)}, {"target", f.target},
          {"age_s", std::round(f.age_s * 1000) / 1000}, {"stack", f.stack.get()},
          {"cloexec", f.cloexec}, {"seeded", f.seeded}};
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
    j["leak_rate_per_s"] = std::round(p.leak_rate_per_s * 1000) / 1000;
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

}  // namespace fdw
