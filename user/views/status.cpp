#include "views/status.h"

#include <algorithm>
#include <vector>

#include "core/exit_leaks.h"
#include "util/escape.h"
#include "views/format.h"

namespace fdw {

namespace {

std::string status_line(const Snapshot& s, const ProcView& p) {
  std::string lim;
  if (p.rlimit_nofile)
    lim = fmt(" (%.0f%% of %llu)", 100.0 * double(p.open_fds) / double(std::max<uint64_t>(*p.rlimit_nofile, 1)),
              (unsigned long long)*p.rlimit_nofile);
  std::string eta = p.time_to_limit_s ? (*p.time_to_limit_s <= 0 ? "  AT LIMIT" : "  limit in " + format_duration(*p.time_to_limit_s)) : "";
  std::string err = p.failed_total() ? "  failed " + std::to_string(p.failed_total()) : "";
  auto em = p.failed.find("EMFILE");
  if (em != p.failed.end()) err += " (EMFILE " + std::to_string(em->second) + ")";
  return "[" + fmt("%7s", format_duration(s.elapsed_s).c_str()) + "] " + std::to_string(p.pid) + " " + escape_text(p.comm) +
         ": " + std::to_string(p.open_fds) + " fds" + lim + fmt("  open %.0f/s close %.0f/s net ", p.open_per_s, p.close_per_s) +
         format_growth(p.leak_rate_per_s) + eta + err + (p.inexact ? "  (inexact)" : "") + "\n";
}

}  // namespace

std::string render_status_lines(const Snapshot& s) {
  std::vector<const ProcView*> live;
  for (auto& p : s.processes)
    if (!p.exited) live.push_back(&p);
  std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->open_fds > b->open_fds; });
  std::string out;
  for (size_t i = 0; i < live.size() && i < 5; ++i) out += status_line(s, *live[i]);
  if (live.size() > 5) out += "          ... and " + std::to_string(live.size() - 5) + " more processes\n";
  return out;
}

std::string render_exit_leaks(const Snapshot& s) {
  std::string out;
  for (auto& p : s.processes) {
    if (!p.exited) continue;
    for (const Suspect& l : exit_leaks(p))
      out += "fdwatch: leak: " + escape_text(p.comm) + " (pid " + std::to_string(p.pid) + ") exited holding " +
             std::to_string(l.count) + " " + std::string(kind_name(l.kind)) + (l.site.empty() ? "" : " from ") +
             escape_text(l.site) + " -> " + escape_text(l.targets.distinct > 1 ? l.targets.pattern : l.target) + "\n";
  }
  return out;
}

}  // namespace fdw
