// What the aggregator shows the views: a self-contained copy of the state at
// one moment.  Every view (report text/JSON, top, metrics) renders only this.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/intern.h"

namespace fdw {

struct FdView {
  int fd = -1;
  Kind kind = Kind::Other;
  std::string target;
  double age_s = 0;          // now - open time (seeded fds: since window start)
  bool seeded = false;       // open before tracing began (age is a lower bound)
  bool cloexec = false;
  Frames stack;              // innermost first; empty when unknown
  Text site;                 // innermost application frame; "" when unknown
  // Held at exit on purpose (core/exit_leaks.h reasons), "" for a leak;
  // only in ProcView::leaked_at_exit.
  std::string_view ordinary;
};

// The targets of one suspect's fds, summarized: a glob-like pattern of the
// varying part ("/var/log/app/segment_*.log"), the most common ones with
// their counts, and how many distinct ones there are.
struct TargetSummary {
  std::string pattern;
  std::vector<std::pair<std::string, uint64_t>> examples;  // most common first, at most 3
  uint64_t distinct = 0;
};

// Still-open fds of one call site and kind (without a site: of one kind and
// target).  Fds whose site is unknown (open before attach, or opened without
// a stack) join the call-site group whose targets they match, counted in
// `unattributed`; the others form groups with site "".
struct Suspect {
  Kind kind = Kind::Other;
  std::string site;    // innermost application frame, or "" when unknown
  std::string target;  // the most common grouping target (files: path; sockets: "tcp ->PEER")
  uint64_t count = 0;  // every fd of the group, unattributed ones included
  uint64_t before_attach = 0;  // of count: open before tracing began (seeded)
  uint64_t unattributed = 0;   // of count: joined a call-site group by target (site unknown)
  double oldest_age_s = 0;
  TargetSummary targets;
  double growth_per_s = 0;  // robust slope of this site's open count over the window
  // Verdict: the group grew over the window, or the process failed with
  // EMFILE/ENFILE while the group held most of its fds.  Otherwise held.
  bool leaking = false;
  std::string hint;  // the fix for a known pattern (core/hints.h); leaking only
};

struct ProcView {
  uint32_t pid = 0;
  uint32_t ppid = 0;         // 0 when unknown
  std::string comm;
  uint32_t uid = UINT32_MAX; // UINT32_MAX when unknown (filled by enricher)
  std::string cgroup;        // cgroup v2 path; "" when unknown
  std::string container;     // container id or systemd service (core/container.h); "" for none
  std::string pod_uid;       // Kubernetes pod uid; "" outside a pod
  uint32_t ns_pid = 0;       // pid inside its own pid namespace; 0 when unknown
  bool exited = false;
  bool inexact = false;      // events may have been lost; resynced from /proc
  std::string inexact_reason;  // when inexact: one of the kInexact* names (core/event.h)
  uint64_t open_fds = 0;
  uint64_t opened = 0, closed = 0;
  std::map<std::string, uint64_t> failed;  // errno name -> count
  std::map<std::string, uint64_t> syscalls; // syscall name -> traced calls (fd lifecycle only)
  std::optional<uint64_t> rlimit_nofile;
  // Robust slope of open_fds over the window; nullopt until the window is
  // long enough to mean something (AggOptions::min_rate_window_s).
  std::optional<double> leak_rate_per_s;
  std::optional<double> time_to_limit_s;   // null unless growing
  // Rates over the last tick (top's OPEN/s CLOSE/s columns).
  double open_per_s = 0, close_per_s = 0;
  double oldest_age_s = 0;
  std::map<std::string, uint64_t> by_kind;
  std::vector<FdView> fds;       // sorted oldest first (then by fd)
  std::vector<Suspect> suspects; // leaking before held, most first
  // Exited processes: what was still open at exit.
  uint64_t open_at_exit = 0;
  std::vector<FdView> leaked_at_exit;
  std::optional<int> exit_code;
  double first_seen_s = 0;  // seconds since window start
  double exited_at_s = 0;   // seconds since window start (exited only)
  uint64_t failed_total() const {
    uint64_t n = 0;
    for (auto& [k, v] : failed) n += v;
    return n;
  }
};

// The traced kernel: its release and the optional features it lacks
// (probe/features.h names).
struct KernelInfo {
  std::string release;
  std::vector<std::string> missing;
};

struct Snapshot {
  uint64_t now_ns = 0;
  uint64_t start_ns = 0;
  double elapsed_s = 0;
  uint64_t lost_events = 0;
  uint64_t events = 0;        // events applied
  double events_per_s = 0;    // over the last tick
  std::vector<ProcView> processes;  // sorted by pid
  KernelInfo kernel;
};

}  // namespace fdw
